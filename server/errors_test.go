package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestStoreErrorsMapToStatus(t *testing.T) {
	getReservation := func(err error) (*fakeStore, func(context.Context, *env) error) {
		st := &fakeStore{getReservation: func(context.Context, string, quota.ReservationRef, time.Time) (quota.Reservation, error) {
			return quota.Reservation{}, err
		}}
		return st, func(ctx context.Context, e *env) error {
			_, err := e.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: "ws-1", ReservationId: testResID})
			return err
		}
	}
	cases := []struct {
		name  string
		setup func() (*fakeStore, func(context.Context, *env) error)
		want  wantStatus
	}{
		{
			name: "a missing reservation is NOT_FOUND",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				return getReservation(quota.ErrReservationNotFound)
			},
			want: wantStatus{codes.NotFound, "RESERVATION_NOT_FOUND", ""},
		},
		{
			name: "a wrapped sentinel is still recognised",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				return getReservation(fmt.Errorf("store: %w", quota.ErrReservationNotFound))
			},
			want: wantStatus{codes.NotFound, "RESERVATION_NOT_FOUND", ""},
		},
		{
			name: "a missing workspace is NOT_FOUND",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				st := &fakeStore{getWorkspace: func(context.Context, string) (quota.Workspace, error) {
					return quota.Workspace{}, quota.ErrWorkspaceNotFound
				}}
				return st, func(ctx context.Context, e *env) error {
					_, err := e.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: "ws-1"})
					return err
				}
			},
			want: wantStatus{codes.NotFound, "WORKSPACE_NOT_FOUND", ""},
		},
		{
			name: "a reused request_id is INVALID_ARGUMENT on request_id",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				st := &fakeStore{reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
					return quota.Outcome{}, quota.ErrRequestIDReused
				}}
				return st, func(ctx context.Context, e *env) error { _, err := e.quota.Reserve(ctx, okReserve()); return err }
			},
			want: wantStatus{codes.InvalidArgument, "REQUEST_ID_REUSED", "request_id"},
		},
		{
			name: "a member required by the store is MEMBER_REQUIRED",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				st := &fakeStore{reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
					return quota.Outcome{}, quota.ErrNoMember
				}}
				return st, func(ctx context.Context, e *env) error { _, err := e.quota.Reserve(ctx, okReserve()); return err }
			},
			want: wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"},
		},
		{
			name:  "a canceled store call is CANCELED",
			setup: func() (*fakeStore, func(context.Context, *env) error) { return getReservation(context.Canceled) },
			want:  wantStatus{codes.Canceled, "CANCELED", ""},
		},
		{
			name: "a store deadline while the caller still waits is UNAVAILABLE",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				return getReservation(context.DeadlineExceeded)
			},
			want: wantStatus{codes.Unavailable, "STORE_UNAVAILABLE", ""},
		},
		{
			name: "a status error passes through with an ErrorInfo added",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				return getReservation(status.Error(codes.Unavailable, "redis is down"))
			},
			want: wantStatus{codes.Unavailable, "UNAVAILABLE", ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, call := tc.setup()
			e := newEnv(t, st)
			checkStatus(t, call(testCtx(t), e), tc.want)
		})
	}
}

func TestMalformedReservationIDIsNotFoundWithoutTheStore(t *testing.T) {
	const id = "r-1" // valid characters, but not an id the service issues
	calls := []struct {
		name string
		call func(context.Context, *env) error
	}{
		{"Extend", func(ctx context.Context, e *env) error {
			_, err := e.quota.Extend(ctx, with(okExtend(), func(r *quotav1.ExtendRequest) { r.ReservationId = id }))
			return err
		}},
		{"Commit", func(ctx context.Context, e *env) error {
			_, err := e.quota.Commit(ctx, with(okCommit(), func(r *quotav1.CommitRequest) { r.ReservationId = id }))
			return err
		}},
		{"Refund", func(ctx context.Context, e *env) error {
			_, err := e.quota.Refund(ctx, with(okRefund(), func(r *quotav1.RefundRequest) { r.ReservationId = id }))
			return err
		}},
		{"GetReservation", func(ctx context.Context, e *env) error {
			_, err := e.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: "ws-1", ReservationId: id})
			return err
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			checkStatus(t, tc.call(testCtx(t), e), wantStatus{codes.NotFound, "RESERVATION_NOT_FOUND", ""})
			if calls := e.store.Calls(); len(calls) != 0 {
				t.Errorf("the store was called: %v", calls)
			}
		})
	}
}

func TestIllegalTransitionIsFailedPrecondition(t *testing.T) {
	e := newEnv(t, &fakeStore{refund: func(_ context.Context, op quota.RefundOp) (quota.Outcome, error) {
		return quota.Outcome{}, quota.TransitionError(quota.ReservationID(op.Ref.Origin, op.Ref.Hex, op.Ref.Version), quota.StateCommitted, quota.StateRefunded)
	}})
	_, err := e.quota.Refund(testCtx(t), okRefund())
	checkStatus(t, err, wantStatus{codes.FailedPrecondition, "ILLEGAL_TRANSITION", ""})
	_, d := detailsOf(t, err)
	wantMeta := map[string]string{"reservationId": testResID, "from": "COMMITTED", "to": "REFUNDED"}
	if diff := cmp.Diff(wantMeta, d.info.GetMetadata()); diff != "" {
		t.Errorf("ErrorInfo metadata (-want +got):\n%s", diff)
	}
	wantPre := &errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: "STATE", Subject: "reservation:" + testResID, Description: "the reservation is COMMITTED and cannot become REFUNDED",
	}}}
	if diff := cmp.Diff(wantPre, d.pre, protocmp.Transform()); diff != "" {
		t.Errorf("PreconditionFailure (-want +got):\n%s", diff)
	}
}

func TestDeniedReserveIsResourceExhaustedWithQuotaFailure(t *testing.T) {
	for _, reason := range []string{quota.ReasonNoSeat, quota.ReasonCreditsExhausted, quota.ReasonRunCapReached, quota.ReasonParentHoldExhausted} {
		t.Run(reason, func(t *testing.T) {
			e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
				return quota.Outcome{}, quota.DeniedError(quota.Denial{
					Reason: reason, MemberID: op.MemberID, Requested: op.Amount, Minimum: op.Min, Available: 1_500_000,
				})
			}})
			req := okReserve()
			req.Amount, req.MinAmount = 10*quota.Credit, 2*quota.Credit
			_, err := e.quota.Reserve(testCtx(t), req)

			st, d := detailsOf(t, err)
			if st.Code() != codes.ResourceExhausted {
				t.Errorf("code = %v, want ResourceExhausted", st.Code())
			}
			wantInfo := &errdetails.ErrorInfo{Domain: errorDomain, Reason: reason, Metadata: map[string]string{
				"memberId": "user@example.com", "requested": "10000000", "minimum": "2000000", "available": "1500000",
			}}
			if diff := cmp.Diff(wantInfo, d.info, protocmp.Transform()); diff != "" {
				t.Errorf("ErrorInfo (-want +got):\n%s", diff)
			}
			wantQF := &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
				Subject:     "member:user@example.com",
				Description: "asked for 10000000 µcredits (at least 2000000), 1500000 available",
			}}}
			if diff := cmp.Diff(wantQF, d.quota, protocmp.Transform()); diff != "" {
				t.Errorf("QuotaFailure (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownErrorIsInternalAndLoggedOnce(t *testing.T) {
	const secret = "ERR user_script:12: attempt to compare nil with number at 10.0.0.7"
	e := newEnv(t, &fakeStore{getBalance: func(context.Context, string, string, time.Time) (quota.Balance, error) {
		return quota.Balance{}, errors.New(secret)
	}})
	_, err := e.quota.GetBalance(testCtx(t), &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
	checkStatus(t, err, wantStatus{codes.Internal, "INTERNAL", ""})
	st, _ := detailsOf(t, err)
	if st.Message() != "internal error" {
		t.Errorf("message = %q, want %q", st.Message(), "internal error")
	}
	if strings.Contains(fmt.Sprint(st.Proto()), "10.0.0.7") {
		t.Errorf("the status leaks the cause: %v", st.Proto())
	}
	logged := e.logs.Lines("level=ERROR", "10.0.0.7")
	if len(logged) != 1 {
		t.Fatalf("logged the cause on %d error lines, want 1:\n%s", len(logged), strings.Join(logged, "\n"))
	}
	for _, want := range []string{"/quota.v1.QuotaService/GetBalance", "10.0.0.7"} {
		if !strings.Contains(logged[0], want) {
			t.Errorf("the error line lacks %q: %s", want, logged[0])
		}
	}
}

func TestPanicInHandlerIsInternalAndLogged(t *testing.T) {
	e := newEnv(t, &fakeStore{getWorkspace: func(context.Context, string) (quota.Workspace, error) {
		panic("boom: secret state")
	}})
	_, err := e.admin.GetWorkspace(testCtx(t), &quotav1.GetWorkspaceRequest{WorkspaceId: "ws-1"})
	checkStatus(t, err, wantStatus{codes.Internal, "INTERNAL", ""})
	if st, _ := detailsOf(t, err); strings.Contains(st.Message(), "secret") {
		t.Errorf("the status leaks the panic: %q", st.Message())
	}
	if got := e.logs.Lines("level=ERROR", "/quota.v1.AdminService/GetWorkspace", "boom"); len(got) != 1 {
		t.Errorf("got %d error lines naming the method and the panic, want 1", len(got))
	}
	// The server still serves.
	if _, err := e.admin.GetPricing(testCtx(t), &quotav1.GetPricingRequest{}); err != nil {
		t.Errorf("GetPricing after a panic: %v", err)
	}
}

func TestToStatusPutsAnErrorInfoOnEveryError(t *testing.T) {
	withInfo, _ := status.New(codes.Aborted, "try again").WithDetails(&errdetails.ErrorInfo{Domain: "other", Reason: "KEEP_ME"})
	cases := []struct {
		name string
		err  error
		want wantStatus
	}{
		{"an invalid field", quota.Invalid("usage.models[0].model", "is required"), invalid("usage.models[0].model")},
		{"no member", quota.ErrNoMember, wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}},
		{"a denial with no reason", quota.DeniedError(quota.Denial{MemberID: "m"}), wantStatus{codes.ResourceExhausted, quota.ReasonCreditsExhausted, ""}},
		{"a bare status", status.Error(codes.DeadlineExceeded, "slow"), wantStatus{codes.DeadlineExceeded, "DEADLINE_EXCEEDED", ""}},
		{"an Unknown status", status.Error(codes.Unknown, "who knows"), wantStatus{codes.Internal, "INTERNAL", ""}},
		{"a plain error", errors.New("oops"), wantStatus{codes.Internal, "INTERNAL", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkStatus(t, toStatus(tc.err, slog.New(slog.DiscardHandler)), tc.want)
		})
	}
	t.Run("a status with an ErrorInfo keeps it", func(t *testing.T) {
		_, d := detailsOf(t, toStatus(withInfo.Err(), slog.New(slog.DiscardHandler)))
		if d.info.GetReason() != "KEEP_ME" {
			t.Errorf("reason = %q, want KEEP_ME", d.info.GetReason())
		}
	})
	t.Run("nil is nil", func(t *testing.T) {
		if err := toStatus(nil, nil); err != nil {
			t.Errorf("toStatus(nil) = %v", err)
		}
	})
}
