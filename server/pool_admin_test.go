package server

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestSetWorkspacePolicyConvertsBothWays(t *testing.T) {
	start := time.Date(2024, 1, 31, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		policy *quotav1.WorkspacePolicy
		want   quota.Policy
	}{
		{
			name:   "every field set",
			policy: okSetWorkspacePolicy().GetPolicy(),
			want: quota.Policy{
				DefaultPoolCap: 1_000 * quota.Credit, HasDefaultPoolCap: true,
				OverageEnabled: true, OverageCap: 5_000 * quota.Credit,
				ProgrammaticCap: 2_000 * quota.Credit, HasProgrammaticCap: true,
			},
		},
		{
			name:   "unset caps are unlimited",
			policy: &quotav1.WorkspacePolicy{Pooled: true},
			want:   quota.Policy{Pooled: true},
		},
		{
			name:   "caps of 0 are set",
			policy: &quotav1.WorkspacePolicy{DefaultMemberPoolCap: proto.Int64(0), ProgrammaticCap: proto.Int64(0)},
			want:   quota.Policy{HasDefaultPoolCap: true, HasProgrammaticCap: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got quota.PolicyOp
			e := newEnv(t, &fakeStore{setPolicy: func(_ context.Context, op quota.PolicyOp) (quota.Workspace, error) {
				got = op
				return quota.Workspace{ID: op.WorkspaceID, SubscriptionStart: start, Policy: op.Policy}, nil
			}})
			req := okSetWorkspacePolicy()
			req.Policy = tc.policy
			resp, err := e.admin.SetWorkspacePolicy(testCtx(t), req)
			if err != nil {
				t.Fatalf("SetWorkspacePolicy: %v", err)
			}
			idem, err := idemOf(req)
			if err != nil {
				t.Fatal(err)
			}
			wantOp := quota.PolicyOp{Idem: idem, WorkspaceID: "ws-1", Policy: tc.want, Now: testNow}
			if diff := cmp.Diff(wantOp, got); diff != "" {
				t.Errorf("PolicyOp (-want +got):\n%s", diff)
			}
			want := &quotav1.Workspace{WorkspaceId: "ws-1", SubscriptionStart: timestamppb.New(start), Policy: tc.policy}
			if diff := cmp.Diff(want, resp.GetWorkspace(), protocmp.Transform()); diff != "" {
				t.Errorf("workspace (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetMemberPoolCapConvertsTheOverride(t *testing.T) {
	cases := []struct {
		name      string
		poolCap   *int64
		unlimited bool
		want      quota.MemberCap
	}{
		{"neither clears the override", nil, false, quota.MemberCap{}},
		{"unlimited", nil, true, quota.MemberCap{Set: true, Unlimited: true}},
		{"a cap of 0 is no pool access", proto.Int64(0), false, quota.MemberCap{Set: true}},
		{"a cap", proto.Int64(250 * quota.Credit), false, quota.MemberCap{Set: true, Cap: 250 * quota.Credit}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got quota.MemberCapOp
			e := newEnv(t, &fakeStore{setMemberCap: func(_ context.Context, op quota.MemberCapOp) (quota.Balance, error) {
				got = op
				return quota.Balance{WorkspaceID: op.WorkspaceID, MemberID: op.MemberID}, nil
			}})
			req := okSetMemberPoolCap()
			req.PoolCap, req.Unlimited = tc.poolCap, tc.unlimited
			if _, err := e.admin.SetMemberPoolCap(testCtx(t), req); err != nil {
				t.Fatalf("SetMemberPoolCap: %v", err)
			}
			idem, err := idemOf(req)
			if err != nil {
				t.Fatal(err)
			}
			wantOp := quota.MemberCapOp{Idem: idem, WorkspaceID: "ws-1", MemberID: "m-1", Cap: tc.want, Now: testNow}
			if diff := cmp.Diff(wantOp, got); diff != "" {
				t.Errorf("MemberCapOp (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBalanceConvertsPoolFields(t *testing.T) {
	cases := []struct {
		name string
		bal  quota.Balance
		want *quotav1.Balance
	}{
		{
			name: "a cap, flags and every source",
			bal: quota.Balance{
				Seat: quota.SeatPro, PoolCap: 300 * quota.Credit, HasPoolCap: true, PoolUsed: 120 * quota.Credit,
				LowBalance: true, PoolLow: true,
				Sources: []quota.SourceBalance{
					{Source: quota.SourceSeat, Allocated: 8_000 * quota.Credit, Spent: 8_000 * quota.Credit},
					{Source: quota.SourceFree},
					{Source: quota.SourcePool, Available: 180 * quota.Credit, Held: 20 * quota.Credit, Spent: 100 * quota.Credit},
					{Source: quota.SourceOverage, Available: 50 * quota.Credit},
				},
			},
			want: &quotav1.Balance{
				Seat: quotav1.Seat_SEAT_PRO, PoolCap: proto.Int64(300_000_000), PoolUsed: 120_000_000,
				LowBalance: true, PoolLowBalance: true,
				Sources: []*quotav1.SourceBalance{
					{Source: quotav1.Source_SOURCE_SEAT, Allocated: 8_000_000_000, Spent: 8_000_000_000},
					{Source: quotav1.Source_SOURCE_FREE},
					{Source: quotav1.Source_SOURCE_POOL, Available: 180_000_000, Held: 20_000_000, Spent: 100_000_000},
					{Source: quotav1.Source_SOURCE_OVERAGE, Available: 50_000_000},
				},
			},
		},
		{
			name: "a cap of 0 is set",
			bal:  quota.Balance{Seat: quota.SeatMax, HasPoolCap: true},
			want: &quotav1.Balance{Seat: quotav1.Seat_SEAT_MAX, PoolCap: proto.Int64(0)},
		},
		{
			name: "no cap is unset (unlimited)",
			bal:  quota.Balance{Seat: quota.SeatMax, PoolUsed: 7},
			want: &quotav1.Balance{Seat: quotav1.Seat_SEAT_MAX, PoolUsed: 7},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &fakeStore{setMemberCap: func(_ context.Context, op quota.MemberCapOp) (quota.Balance, error) {
				b := tc.bal
				b.WorkspaceID, b.MemberID = op.WorkspaceID, op.MemberID
				return b, nil
			}})
			resp, err := e.admin.SetMemberPoolCap(testCtx(t), okSetMemberPoolCap())
			if err != nil {
				t.Fatalf("SetMemberPoolCap: %v", err)
			}
			want := proto.Clone(tc.want).(*quotav1.Balance)
			want.WorkspaceId, want.MemberId, want.Totals = "ws-1", "m-1", &quotav1.AccountTotals{}
			if diff := cmp.Diff(want, resp.GetBalance(), protocmp.Transform()); diff != "" {
				t.Errorf("balance (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddPoolGrantConvertsTheGrant(t *testing.T) {
	created := testNow.Add(time.Millisecond)
	cases := []struct {
		name string
		edit func(*quotav1.AddPoolGrantRequest)
		want quota.Grant // what the store gets
	}{
		{
			name: "a commitment with its times",
			edit: func(*quotav1.AddPoolGrantRequest) {},
			want: quota.Grant{
				WorkspaceID: "ws-1", Kind: quota.GrantCommitment, Amount: 100_000 * quota.Credit,
				Start: testNow, Expiry: testNow.AddDate(0, 6, 0), Priority: 10,
			},
		},
		{
			name: "a top-up starts now and lasts a year by default",
			edit: func(r *quotav1.AddPoolGrantRequest) {
				r.Kind, r.StartTime, r.ExpireTime, r.Priority = quotav1.GrantKind_GRANT_KIND_TOP_UP, nil, nil, -3
			},
			want: quota.Grant{
				WorkspaceID: "ws-1", Kind: quota.GrantTopUp, Amount: 100_000 * quota.Credit,
				Start: testNow, Expiry: testNow.Add(quota.TopUpLifetime), Priority: -3,
			},
		},
		{
			name: "a future top-up lasts a year from its start",
			edit: func(r *quotav1.AddPoolGrantRequest) {
				r.Kind, r.StartTime, r.ExpireTime = quotav1.GrantKind_GRANT_KIND_TOP_UP, timestamppb.New(testNow.Add(48*time.Hour)), nil
			},
			want: quota.Grant{
				WorkspaceID: "ws-1", Kind: quota.GrantTopUp, Amount: 100_000 * quota.Credit,
				Start: testNow.Add(48 * time.Hour), Expiry: testNow.Add(48*time.Hour + quota.TopUpLifetime), Priority: 10,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got quota.GrantOp
			e := newEnv(t, &fakeStore{addGrant: func(_ context.Context, op quota.GrantOp) (quota.Grant, error) {
				got = op
				g := op.Grant
				g.ID, g.Created, g.State, g.Available = "g-7", created, quota.GrantActive, g.Amount
				return g, nil
			}})
			req := with(okAddPoolGrant(), tc.edit)
			resp, err := e.admin.AddPoolGrant(testCtx(t), req)
			if err != nil {
				t.Fatalf("AddPoolGrant: %v", err)
			}
			idem, err := idemOf(req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(quota.GrantOp{Idem: idem, Grant: tc.want, Now: testNow}, got); diff != "" {
				t.Errorf("GrantOp (-want +got):\n%s", diff)
			}
			want := &quotav1.PoolGrant{
				WorkspaceId: "ws-1", GrantId: "g-7", Kind: grantKindToProto(tc.want.Kind), Amount: 100_000_000_000,
				StartTime: timestamppb.New(tc.want.Start), ExpireTime: timestamppb.New(tc.want.Expiry),
				Priority: tc.want.Priority, CreateTime: timestamppb.New(created),
				State: quotav1.GrantState_GRANT_STATE_ACTIVE, Available: 100_000_000_000,
			}
			if diff := cmp.Diff(want, resp.GetGrant(), protocmp.Transform()); diff != "" {
				t.Errorf("grant (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVoidPoolGrantConvertsTheGrant(t *testing.T) {
	start, expiry := testNow.AddDate(0, -1, 0), testNow.AddDate(1, -1, 0)
	var got quota.VoidGrantOp
	e := newEnv(t, &fakeStore{voidGrant: func(_ context.Context, op quota.VoidGrantOp) (quota.Grant, error) {
		got = op
		return quota.Grant{
			WorkspaceID: op.WorkspaceID, ID: op.GrantID, Kind: quota.GrantTopUp, Amount: 1_000,
			Start: start, Expiry: expiry, Created: start, State: quota.GrantVoided,
			Held: 100, Spent: 300, Forfeited: 600,
		}, nil
	}})
	req := okVoidPoolGrant()
	resp, err := e.admin.VoidPoolGrant(testCtx(t), req)
	if err != nil {
		t.Fatalf("VoidPoolGrant: %v", err)
	}
	idem, err := idemOf(req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(quota.VoidGrantOp{Idem: idem, WorkspaceID: "ws-1", GrantID: "g-1", Now: testNow}, got); diff != "" {
		t.Errorf("VoidGrantOp (-want +got):\n%s", diff)
	}
	want := &quotav1.PoolGrant{
		WorkspaceId: "ws-1", GrantId: "g-1", Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: 1_000,
		StartTime: timestamppb.New(start), ExpireTime: timestamppb.New(expiry), CreateTime: timestamppb.New(start),
		State: quotav1.GrantState_GRANT_STATE_VOIDED, Held: 100, Spent: 300, Forfeited: 600,
	}
	if diff := cmp.Diff(want, resp.GetGrant(), protocmp.Transform()); diff != "" {
		t.Errorf("grant (-want +got):\n%s", diff)
	}
}

func TestListPoolGrantsPages(t *testing.T) {
	grant := func(id string, s quota.GrantState) quota.Grant {
		return quota.Grant{WorkspaceID: "ws-1", ID: id, Kind: quota.GrantCommitment, Amount: 5, State: s, Available: 5}
	}
	cases := []struct {
		name       string
		req        *quotav1.ListPoolGrantsRequest
		wantAfter  int64
		wantLimit  int
		grants     []quota.Grant
		next       int64
		wantGrants []*quotav1.PoolGrant
		wantToken  string
	}{
		{
			name:      "the first page, default size, more to come",
			req:       &quotav1.ListPoolGrantsRequest{WorkspaceId: "ws-1"},
			wantLimit: quota.DefaultPageSize,
			grants:    []quota.Grant{grant("g-1", quota.GrantPending), grant("g-2", quota.GrantExpired)},
			next:      2,
			wantGrants: []*quotav1.PoolGrant{
				{WorkspaceId: "ws-1", GrantId: "g-1", Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: 5, State: quotav1.GrantState_GRANT_STATE_PENDING, Available: 5},
				{WorkspaceId: "ws-1", GrantId: "g-2", Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: 5, State: quotav1.GrantState_GRANT_STATE_EXPIRED, Available: 5},
			},
			wantToken: "2",
		},
		{
			name:      "the last page, a size clamped to the maximum",
			req:       &quotav1.ListPoolGrantsRequest{WorkspaceId: "ws-1", PageSize: 100_000, PageToken: "2"},
			wantAfter: 2, wantLimit: quota.MaxPageSize,
		},
		{
			name:      "a small page",
			req:       &quotav1.ListPoolGrantsRequest{WorkspaceId: "ws-1", PageSize: 1, PageToken: "41"},
			wantAfter: 41, wantLimit: 1,
			grants:     []quota.Grant{grant("g-42", quota.GrantActive)},
			next:       42,
			wantGrants: []*quotav1.PoolGrant{{WorkspaceId: "ws-1", GrantId: "g-42", Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: 5, State: quotav1.GrantState_GRANT_STATE_ACTIVE, Available: 5}},
			wantToken:  "42",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &fakeStore{listGrants: func(_ context.Context, ws string, now time.Time, after int64, limit int) ([]quota.Grant, int64, error) {
				if ws != "ws-1" || !now.Equal(testNow) || after != tc.wantAfter || limit != tc.wantLimit {
					t.Errorf("ListGrants(%q, %v, after %d, limit %d), want (ws-1, %v, after %d, limit %d)", ws, now, after, limit, testNow, tc.wantAfter, tc.wantLimit)
				}
				return tc.grants, tc.next, nil
			}})
			resp, err := e.admin.ListPoolGrants(testCtx(t), tc.req)
			if err != nil {
				t.Fatalf("ListPoolGrants: %v", err)
			}
			want := &quotav1.ListPoolGrantsResponse{Grants: tc.wantGrants, NextPageToken: tc.wantToken}
			if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetWorkspaceBalanceConverts(t *testing.T) {
	start, end := testNow.AddDate(0, 0, -13), testNow.AddDate(0, 1, -13)
	e := newEnv(t, &fakeStore{getWorkspaceBalance: func(_ context.Context, ws string, now time.Time) (quota.WorkspaceBalance, error) {
		if !now.Equal(testNow) {
			t.Errorf("now = %v, want %v", now, testNow)
		}
		return quota.WorkspaceBalance{
			WorkspaceID: ws, PeriodStart: start, PeriodEnd: end,
			Policy:      quota.Policy{OverageEnabled: true, OverageCap: 900, ProgrammaticCap: 400, HasProgrammaticCap: true},
			Pool:        quota.PoolBalance{Granted: 10_000, Available: 1_500, Pending: 5_000, Held: 500, Spent: 7_000, Forfeited: 1_000},
			OverageUsed: 300, OverageHeld: 20, ProgrammaticUsed: 250, ProgrammaticHeld: 50, PoolLow: true,
		}, nil
	}})
	resp, err := e.admin.GetWorkspaceBalance(testCtx(t), &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: "ws-1"})
	if err != nil {
		t.Fatalf("GetWorkspaceBalance: %v", err)
	}
	want := &quotav1.WorkspaceBalance{
		WorkspaceId: "ws-1", PeriodStart: timestamppb.New(start), PeriodEnd: timestamppb.New(end),
		Policy:      &quotav1.WorkspacePolicy{OverageEnabled: true, OverageCap: 900, ProgrammaticCap: proto.Int64(400)},
		Pool:        &quotav1.PoolBalance{Granted: 10_000, Available: 1_500, Pending: 5_000, Held: 500, Spent: 7_000, Forfeited: 1_000},
		OverageUsed: 300, OverageHeld: 20, ProgrammaticUsed: 250, ProgrammaticHeld: 50, PoolLowBalance: true,
	}
	if diff := cmp.Diff(want, resp.GetBalance(), protocmp.Transform()); diff != "" {
		t.Errorf("balance (-want +got):\n%s", diff)
	}
}

func TestReserveForASpenderConvertsBothWays(t *testing.T) {
	deadline := testNow.Add(5 * time.Minute)
	var got quota.ReserveOp
	e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
		got = op
		return quota.Outcome{Reservation: quota.Reservation{
			WorkspaceID: op.WorkspaceID, ID: op.Ref.ID(), SpenderID: op.SpenderID,
			Origin: op.Ref.Origin, State: quota.StateHeld, Requested: op.Amount, Held: op.Amount,
			HeldFrom: []quota.SourceAmount{
				{Source: quota.SourcePool, GrantID: "g-1", Amount: 6 * quota.Credit},
				{Source: quota.SourcePool, GrantID: "g-2", Amount: 3 * quota.Credit},
				{Source: quota.SourceOverage, Amount: quota.Credit},
			},
			Deadline: op.Deadline, Created: op.Now,
		}}, nil
	}})
	req := okSpenderReserve()
	resp, err := e.quota.Reserve(testCtx(t), req)
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	idem, err := idemOf(req)
	if err != nil {
		t.Fatal(err)
	}
	wantOp := quota.ReserveOp{
		Idem: idem, WorkspaceID: "ws-1", SpenderID: "key:ci-bot",
		Ref:    quota.ReservationRef{Origin: quota.OriginAutomation, Hex: quota.RequestHex("ws-1", req.GetRequestId())},
		Amount: 10 * quota.Credit, Min: 10 * quota.Credit, Deadline: deadline, Now: testNow,
	}
	if diff := cmp.Diff(wantOp, got); diff != "" {
		t.Errorf("ReserveOp (-want +got):\n%s", diff)
	}
	want := &quotav1.Reservation{
		WorkspaceId: "ws-1", ReservationId: got.Ref.ID(), SpenderId: "key:ci-bot",
		Origin: quotav1.Origin_ORIGIN_AUTOMATION, State: quotav1.ReservationState_RESERVATION_STATE_HELD,
		Requested: 10_000_000, Held: 10_000_000,
		HeldFrom: []*quotav1.SourceAmount{
			{Source: quotav1.Source_SOURCE_POOL, GrantId: "g-1", Amount: 6_000_000},
			{Source: quotav1.Source_SOURCE_POOL, GrantId: "g-2", Amount: 3_000_000},
			{Source: quotav1.Source_SOURCE_OVERAGE, Amount: 1_000_000},
		},
		Deadline: timestamppb.New(deadline), CreateTime: timestamppb.New(testNow),
	}
	if diff := cmp.Diff(want, resp.GetReservation(), protocmp.Transform()); diff != "" {
		t.Errorf("reservation (-want +got):\n%s", diff)
	}
}
