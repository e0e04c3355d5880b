package server

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestRefundReservationKeepsTheOperatorAndReason(t *testing.T) {
	var got quota.RefundOp
	st := &fakeStore{refund: func(_ context.Context, op quota.RefundOp) (quota.Outcome, error) {
		got = op
		return quota.Outcome{Reservation: quota.Reservation{ID: op.Ref.ID(), State: quota.StateRefunded}}, nil
	}}
	e := newAuthEnv(t, st, Options{})
	id := quota.ReservationRef{Origin: quota.OriginConversation, Hex: quota.RequestHex("ws-1", "r0"), Version: 0}.ID()
	req := &quotav1.RefundReservationRequest{WorkspaceId: "ws-1", ReservationId: id, RequestId: "op-1", Reason: "stuck run"}
	resp, err := e.admin.RefundReservation(withToken(testCtx(t), adminToken), req)
	if err != nil {
		t.Fatalf("RefundReservation: %v", err)
	}
	if got.Actor != "adm" || got.Reason != "stuck run" || got.Ref.ID() != id || got.RequestID != "op-1" {
		t.Errorf("RefundOp = %+v, want actor adm, reason and the reservation", got)
	}
	if resp.GetReservation().GetState() != quotav1.ReservationState_RESERVATION_STATE_REFUNDED {
		t.Errorf("state = %v", resp.GetReservation().GetState())
	}

	for name, r := range map[string]*quotav1.RefundReservationRequest{
		"no reason": {WorkspaceId: "ws-1", ReservationId: id, RequestId: "op-2"},
		"newline":   {WorkspaceId: "ws-1", ReservationId: id, RequestId: "op-3", Reason: "a\nb"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.admin.RefundReservation(withToken(testCtx(t), adminToken), r)
			checkStatus(t, err, wantStatus{code: codes.InvalidArgument, reason: "INVALID_FIELD", field: "reason"})
		})
	}
	// An orchestrator may not.
	_, err = e.admin.RefundReservation(withToken(testCtx(t), orchestratorToken), req)
	checkStatus(t, err, wantStatus{code: codes.PermissionDenied, reason: reasonRoleNotPermitted})
}

func TestAdjustBalanceConvertsBothWays(t *testing.T) {
	expiry := testNow.Add(48 * time.Hour)
	var got quota.AdjustOp
	st := &fakeStore{adjust: func(_ context.Context, op quota.AdjustOp) (quota.Adjustment, error) {
		got = op
		g := quota.Grant{WorkspaceID: op.WorkspaceID, ID: "g7", Kind: quota.GrantTopUp, Amount: op.Amount,
			Start: op.Now, Expiry: op.Expiry, State: quota.GrantActive, Available: op.Amount}
		return quota.Adjustment{Workspace: quota.WorkspaceBalance{WorkspaceID: op.WorkspaceID}, Grant: &g}, nil
	}}
	e := newAuthEnv(t, st, Options{})
	req := &quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", RequestId: "a-1", Amount: 5 * quota.Credit,
		Reason: "credit note", ExpireTime: timestamppb.New(expiry)}
	resp, err := e.admin.AdjustBalance(withToken(testCtx(t), adminToken), req)
	if err != nil {
		t.Fatalf("AdjustBalance: %v", err)
	}
	idem, err := idemOf(req)
	if err != nil {
		t.Fatal(err)
	}
	want := quota.AdjustOp{Idem: idem, WorkspaceID: "ws-1", Amount: 5 * quota.Credit, Reason: "credit note",
		Actor: "adm", Expiry: expiry, Now: testNow}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AdjustOp (-want +got):\n%s", diff)
	}
	if resp.GetGrant().GetGrantId() != "g7" || resp.GetBalance() != nil || resp.GetWorkspace().GetWorkspaceId() != "ws-1" {
		t.Errorf("response = %v", resp)
	}

	for name, tc := range map[string]struct {
		req   *quotav1.AdjustBalanceRequest
		field string
	}{
		"zero":          {&quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", RequestId: "a-2", Reason: "x"}, "amount"},
		"no reason":     {&quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", RequestId: "a-3", Amount: 1}, "reason"},
		"bad member":    {&quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", MemberId: "a b", RequestId: "a-4", Amount: 1, Reason: "x"}, "member_id"},
		"member expiry": {&quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", MemberId: "m1", RequestId: "a-5", Amount: 1, Reason: "x", ExpireTime: timestamppb.New(expiry)}, "expire_time"},
		"no request id": {&quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", Amount: 1, Reason: "x"}, "request_id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.admin.AdjustBalance(withToken(testCtx(t), adminToken), tc.req)
			checkStatus(t, err, wantStatus{code: codes.InvalidArgument, reason: "INVALID_FIELD", field: tc.field})
		})
	}
}

func TestAdjustErrorsMapToStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{quota.ErrMemberNotFound, codes.NotFound, "MEMBER_NOT_FOUND"},
		{quota.AdjustExceedsError(-5, 3, false), codes.FailedPrecondition, "ADJUSTMENT_EXCEEDS_AVAILABLE"},
	} {
		e := newEnv(t, &fakeStore{adjust: func(context.Context, quota.AdjustOp) (quota.Adjustment, error) {
			return quota.Adjustment{}, tc.err
		}})
		_, err := e.admin.AdjustBalance(testCtx(t), &quotav1.AdjustBalanceRequest{WorkspaceId: "ws-1", MemberId: "m1",
			RequestId: "a-1", Amount: -5, Reason: "x"})
		checkStatus(t, err, wantStatus{code: tc.code, reason: tc.reason})
	}
}
