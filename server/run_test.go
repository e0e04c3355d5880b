package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Reservation ids of each origin, in the form the service issues; the
// origin letter is the first.
const (
	convResID       = "c_00112233445566778899aabbccddeeff_0"
	automationResID = "a_00112233445566778899aabbccddeeff_0"
	sidekickResID   = "s_00112233445566778899aabbccddeeff_0"
)

// okChildReserve is a child Reserve that names only what a child must:
// the workspace, the parent, the request and the amount.
func okChildReserve() *quotav1.ReserveRequest {
	return &quotav1.ReserveRequest{
		WorkspaceId: "ws-1", ParentReservationId: convResID, RequestId: "req-1",
		Amount: 4 * quota.Credit,
	}
}

func TestChildReserveTakesTheParentsOwnerAndOrigin(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*quotav1.ReserveRequest)
		origin quota.Origin
		// member, spender: what the store gets; amount, min: likewise.
		member, spender string
		amount, min     int64
	}{
		{
			name: "a conversation's child", edit: func(*quotav1.ReserveRequest) {},
			origin: quota.OriginConversation, amount: 4 * quota.Credit, min: 4 * quota.Credit,
		},
		{
			name:   "an automation's child",
			edit:   func(r *quotav1.ReserveRequest) { r.ParentReservationId = automationResID },
			origin: quota.OriginAutomation, amount: 4 * quota.Credit, min: 4 * quota.Credit,
		},
		{
			name:   "a Sidekick run's child holds nothing",
			edit:   func(r *quotav1.ReserveRequest) { r.ParentReservationId = sidekickResID },
			origin: quota.OriginSidekick,
		},
		{
			name: "a child naming the parent's origin and member",
			edit: func(r *quotav1.ReserveRequest) {
				r.Origin, r.MemberId = quotav1.Origin_ORIGIN_CONVERSATION, "user@example.com"
			},
			origin: quota.OriginConversation, member: "user@example.com", amount: 4 * quota.Credit, min: 4 * quota.Credit,
		},
		{
			name: "a child naming the parent's spender, with a minimum",
			edit: func(r *quotav1.ReserveRequest) {
				r.ParentReservationId, r.SpenderId, r.MinAmount = automationResID, "key:ci-bot", quota.Credit
			},
			origin: quota.OriginAutomation, spender: "key:ci-bot", amount: 4 * quota.Credit, min: quota.Credit,
		},
	}
	for _, tc := range cases {
		for _, topUp := range []bool{false, true} {
			name := tc.name
			if topUp {
				name += ", with a top-up"
			}
			t.Run(name, func(t *testing.T) {
				var got quota.ReserveOp
				e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
					got = op
					return quota.Outcome{}, nil
				}})
				req := with(okChildReserve(), tc.edit)
				req.AllowTopUp = topUp
				if _, err := e.quota.Reserve(testCtx(t), req); err != nil {
					t.Fatalf("Reserve: %v", err)
				}
				idem, err := idemOf(req)
				if err != nil {
					t.Fatal(err)
				}
				parent, _ := quota.ParseReservationID(req.GetParentReservationId())
				want := quota.ReserveOp{
					Idem: idem, WorkspaceID: "ws-1", MemberID: tc.member, SpenderID: tc.spender,
					Parent: parent, AllowTopUp: topUp,
					Ref:    quota.ReservationRef{Origin: tc.origin, Hex: quota.RequestHex("ws-1", req.GetRequestId()), Version: parent.Version},
					Amount: tc.amount, Min: tc.min,
					Deadline: testNow.Add(5 * time.Minute), Now: testNow,
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ReserveOp (-want +got):\n%s", diff)
				}
				if got.Ref.Origin != parent.Origin {
					t.Errorf("Ref = %+v, want the parent's origin %v", got.Ref, parent.Origin)
				}
			})
		}
	}
}

func TestRunTokenCapReachesTheStore(t *testing.T) {
	cases := []struct {
		name    string
		cap     *int64
		want    int64
		wantHas bool
	}{
		{"unset is no cap", nil, 0, false},
		{"zero stops every token credit", proto.Int64(0), 0, true},
		{"MaxAmount", proto.Int64(quota.MaxAmount), quota.MaxAmount, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got quota.ReserveOp
			e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
				got = op
				return quota.Outcome{}, nil
			}})
			req := okReserve()
			req.RunTokenCap = tc.cap
			if _, err := e.quota.Reserve(testCtx(t), req); err != nil {
				t.Fatalf("Reserve: %v", err)
			}
			if got.RunTokenCap != tc.want || got.HasRunTokenCap != tc.wantHas || got.Parent.Hex != "" || got.MemberID != "user@example.com" {
				t.Errorf("ReserveOp: RunTokenCap %d (set %v), ParentID %q, MemberID %q; want %d (set %v), \"\", user@example.com",
					got.RunTokenCap, got.HasRunTokenCap, got.Parent.Hex, got.MemberID, tc.want, tc.wantHas)
			}
		})
	}
}

func TestBadRunInputIsRejectedBeforeTheStore(t *testing.T) {
	child := func(edit func(*quotav1.ReserveRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.Reserve(ctx, with(okChildReserve(), edit))
			return err
		}
	}
	root := func(edit func(*quotav1.ReserveRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.Reserve(ctx, with(okReserve(), edit))
			return err
		}
	}
	cases := []badInputCase{
		{"a child with another origin than the parent's",
			child(func(r *quotav1.ReserveRequest) { r.Origin = quotav1.Origin_ORIGIN_AUTOMATION }), invalid("origin")},
		{"a child of an automation with a conversation origin",
			child(func(r *quotav1.ReserveRequest) {
				r.ParentReservationId, r.Origin = automationResID, quotav1.Origin_ORIGIN_CONVERSATION
			}), invalid("origin")},
		{"a child with unknown origin 99", child(func(r *quotav1.ReserveRequest) { r.Origin = 99 }), invalid("origin")},
		{"a child with a run_token_cap", child(func(r *quotav1.ReserveRequest) { r.RunTokenCap = proto.Int64(quota.Credit) }), invalid("run_token_cap")},
		{"a child with both member_id and spender_id",
			child(func(r *quotav1.ReserveRequest) { r.MemberId, r.SpenderId = "user@example.com", "key:ci-bot" }),
			wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"}},
		{"a child with a bad member_id", child(func(r *quotav1.ReserveRequest) { r.MemberId = "a b" }), invalid("member_id")},
		{"a child with a bad spender_id", child(func(r *quotav1.ReserveRequest) { r.SpenderId = "key:{x}" }), invalid("spender_id")},
		{"a child with a negative amount", child(func(r *quotav1.ReserveRequest) { r.Amount = -1 }), invalid("amount")},
		{"a root with a negative run_token_cap", root(func(r *quotav1.ReserveRequest) { r.RunTokenCap = proto.Int64(-1) }), invalid("run_token_cap")},
		{"a root with a run_token_cap above MaxAmount",
			root(func(r *quotav1.ReserveRequest) { r.RunTokenCap = proto.Int64(quota.MaxAmount + 1) }), invalid("run_token_cap")},
		{"a root with no member, spender or parent", root(func(r *quotav1.ReserveRequest) { r.MemberId = "" }),
			wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}},
		{"a child whose parent id the service never issued",
			child(func(r *quotav1.ReserveRequest) { r.ParentReservationId = "r-1" }),
			wantStatus{codes.NotFound, "PARENT_NOT_FOUND", ""}},
		{"a child whose parent id has an unknown origin letter",
			child(func(r *quotav1.ReserveRequest) { r.ParentReservationId = "x" + convResID[1:] }),
			wantStatus{codes.NotFound, "PARENT_NOT_FOUND", ""}},
	}
	for _, b := range badIDs {
		if b.id == "" {
			continue // no parent: a root reservation
		}
		cases = append(cases, badInputCase{
			"a child with " + b.name + " parent_reservation_id",
			child(func(r *quotav1.ReserveRequest) { r.ParentReservationId = b.id }),
			invalid("parent_reservation_id"),
		})
	}
	runBadInput(t, cases)
}

func TestRunStoreErrorsMapToStatus(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want wantStatus
	}{
		{"a parent the store does not know", quota.ErrParentNotFound, wantStatus{codes.NotFound, "PARENT_NOT_FOUND", ""}},
		{"a parent no longer held", quota.ErrParentNotHeld, wantStatus{codes.FailedPrecondition, "PARENT_NOT_HELD", ""}},
		{"the run's token cap", quota.DeniedError(quota.Denial{Reason: quota.ReasonRunCapReached, MemberID: "user@example.com"}),
			wantStatus{codes.ResourceExhausted, "RUN_CAP_REACHED", ""}},
		{"the parent's hold, without a top-up", quota.DeniedError(quota.Denial{Reason: quota.ReasonParentHoldExhausted, MemberID: "user@example.com"}),
			wantStatus{codes.ResourceExhausted, "PARENT_HOLD_EXHAUSTED", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &fakeStore{reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
				return quota.Outcome{}, tc.err
			}})
			_, err := e.quota.Reserve(testCtx(t), okChildReserve())
			checkStatus(t, err, tc.want)
		})
	}
}

func TestParentNotHeldHasAPreconditionFailure(t *testing.T) {
	e := newEnv(t, &fakeStore{reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
		return quota.Outcome{}, quota.ErrParentNotHeld
	}})
	_, err := e.quota.Reserve(testCtx(t), okChildReserve())
	checkStatus(t, err, wantStatus{codes.FailedPrecondition, "PARENT_NOT_HELD", ""})
	_, d := detailsOf(t, err)
	want := &errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: "STATE", Subject: "reservation",
		Description: "the parent reservation is no longer held: it was committed, refunded or expired",
	}}}
	if diff := cmp.Diff(want, d.pre, protocmp.Transform()); diff != "" {
		t.Errorf("PreconditionFailure (-want +got):\n%s", diff)
	}
}

// TestRunCapDenialOfExtend: an Extend past the run's cap is
// RESOURCE_EXHAUSTED with the reason, and the numbers of the denial.
func TestRunCapDenialOfExtend(t *testing.T) {
	e := newEnv(t, &fakeStore{extend: func(_ context.Context, op quota.ExtendOp) (quota.Outcome, error) {
		return quota.Outcome{}, quota.DeniedError(quota.Denial{
			Reason: quota.ReasonRunCapReached, MemberID: "user@example.com",
			Requested: op.AddAmount, Minimum: op.AddAmount, Available: 300_000,
		})
	}})
	_, err := e.quota.Extend(testCtx(t), okExtend())
	checkStatus(t, err, wantStatus{codes.ResourceExhausted, "RUN_CAP_REACHED", ""})
	_, d := detailsOf(t, err)
	wantMeta := map[string]string{"memberId": "user@example.com", "requested": "1000000", "minimum": "1000000", "available": "300000"}
	if diff := cmp.Diff(wantMeta, d.info.GetMetadata()); diff != "" {
		t.Errorf("ErrorInfo metadata (-want +got):\n%s", diff)
	}
}

func TestToStatusMapsRunErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want wantStatus
	}{
		{"a missing parent", quota.ErrParentNotFound, wantStatus{codes.NotFound, "PARENT_NOT_FOUND", ""}},
		{"a parent no longer held", quota.ErrParentNotHeld, wantStatus{codes.FailedPrecondition, "PARENT_NOT_HELD", ""}},
		{"a run cap denial", quota.DeniedError(quota.Denial{Reason: quota.ReasonRunCapReached, MemberID: "m"}), wantStatus{codes.ResourceExhausted, "RUN_CAP_REACHED", ""}},
		{"a parent hold denial", quota.DeniedError(quota.Denial{Reason: quota.ReasonParentHoldExhausted, SpenderID: "k"}), wantStatus{codes.ResourceExhausted, "PARENT_HOLD_EXHAUSTED", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkStatus(t, toStatus(tc.err, slog.New(slog.DiscardHandler)), tc.want)
		})
	}
}

func TestReservationConvertsTheRun(t *testing.T) {
	deadline, created, settled := testNow.Add(5*time.Minute), testNow.Add(-time.Minute), testNow
	sub := quota.AgentCost{
		AgentID: "researcher", OwnTokenCost: 1_500_000, OwnCost: 1_500_000,
		TokenCost: 1_500_000, TotalCost: 1_500_000,
	}
	protoSub := &quotav1.AgentCost{
		AgentId: "researcher", OwnTokenCost: 1_500_000, OwnCost: 1_500_000,
		TokenCost: 1_500_000, TotalCost: 1_500_000,
	}
	cases := []struct {
		name string
		res  quota.Reservation
		want *quotav1.Reservation
	}{
		{
			name: "a recorded child of a capped run",
			res: quota.Reservation{
				WorkspaceID: "ws-1", ID: automationResID, MemberID: "user@example.com",
				Origin: quota.OriginAutomation, State: quota.StateCommitted,
				Requested: 4 * quota.Credit, Deadline: deadline, Created: created, Settled: settled,
				ParentID: "a_ffeeddccbbaa99887766554433221100_0", RootID: "a_0123456789abcdef0123456789abcdef_0",
				RunTokenCap: 20 * quota.Credit, HasRunTokenCap: true, RunTokenSpent: 1_500_000,
				Recorded: true,
				Cost: &quota.RunCost{
					Origin: quota.OriginAutomation, Root: sub,
					TokenCost: 1_500_000, TotalCost: 1_500_000,
				},
			},
			want: &quotav1.Reservation{
				WorkspaceId: "ws-1", ReservationId: automationResID, MemberId: "user@example.com",
				Origin: quotav1.Origin_ORIGIN_AUTOMATION, State: quotav1.ReservationState_RESERVATION_STATE_COMMITTED,
				Requested: 4_000_000,
				Deadline:  timestamppb.New(deadline), CreateTime: timestamppb.New(created), SettleTime: timestamppb.New(settled),
				ParentReservationId: "a_ffeeddccbbaa99887766554433221100_0",
				RootReservationId:   "a_0123456789abcdef0123456789abcdef_0",
				RunTokenCap:         proto.Int64(20_000_000), RunTokenSpent: 1_500_000,
				Recorded: true,
				Cost: &quotav1.RunCost{
					Origin: quotav1.Origin_ORIGIN_AUTOMATION, Root: protoSub,
					TokenCost: 1_500_000, TotalCost: 1_500_000,
				},
			},
		},
		{
			name: "a committed root with its child's cost nested, no cap",
			res: quota.Reservation{
				WorkspaceID: "ws-1", ID: convResID, SpenderID: "key:ci-bot",
				Origin: quota.OriginConversation, State: quota.StateCommitted,
				Requested: 10 * quota.Credit, Deadline: deadline, Created: created, Settled: settled,
				RootID: convResID, RunTokenSpent: 2_000_000,
				Cost: &quota.RunCost{
					Origin: quota.OriginConversation,
					Root: quota.AgentCost{
						AgentID: "main", OwnTokenCost: 500_000, OwnCost: 500_000,
						TokenCost: 2_000_000, TotalCost: 2_000_000, SubAgents: []quota.AgentCost{sub},
					},
					TokenCost: 2_000_000, TotalCost: 2_000_000,
				},
				Charged: 2_000_000, ChargedFromHold: 2_000_000,
				ChargedFrom: []quota.SourceAmount{{Source: quota.SourcePool, GrantID: "g1", Amount: 2_000_000}},
				Released:    8_000_000,
			},
			want: &quotav1.Reservation{
				WorkspaceId: "ws-1", ReservationId: convResID, SpenderId: "key:ci-bot",
				Origin: quotav1.Origin_ORIGIN_CONVERSATION, State: quotav1.ReservationState_RESERVATION_STATE_COMMITTED,
				Requested: 10_000_000,
				Deadline:  timestamppb.New(deadline), CreateTime: timestamppb.New(created), SettleTime: timestamppb.New(settled),
				RootReservationId: convResID, RunTokenSpent: 2_000_000,
				Cost: &quotav1.RunCost{
					Origin: quotav1.Origin_ORIGIN_CONVERSATION,
					Root: &quotav1.AgentCost{
						AgentId: "main", OwnTokenCost: 500_000, OwnCost: 500_000,
						TokenCost: 2_000_000, TotalCost: 2_000_000, SubAgents: []*quotav1.AgentCost{protoSub},
					},
					TokenCost: 2_000_000, TotalCost: 2_000_000,
				},
				Charged: 2_000_000, ChargedFromHold: 2_000_000,
				ChargedFrom: []*quotav1.SourceAmount{{Source: quotav1.Source_SOURCE_POOL, GrantId: "g1", Amount: 2_000_000}},
				Released:    8_000_000,
			},
		},
		{
			name: "a held root with a cap of 0 keeps it set",
			res: quota.Reservation{
				WorkspaceID: "ws-1", ID: convResID, MemberID: "user@example.com",
				Origin: quota.OriginConversation, State: quota.StateHeld,
				Requested: quota.Credit, Held: quota.Credit, Deadline: deadline, Created: created,
				RootID: convResID, HasRunTokenCap: true,
			},
			want: &quotav1.Reservation{
				WorkspaceId: "ws-1", ReservationId: convResID, MemberId: "user@example.com",
				Origin: quotav1.Origin_ORIGIN_CONVERSATION, State: quotav1.ReservationState_RESERVATION_STATE_HELD,
				Requested: 1_000_000, Held: 1_000_000,
				Deadline: timestamppb.New(deadline), CreateTime: timestamppb.New(created),
				RootReservationId: convResID, RunTokenCap: proto.Int64(0),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &fakeStore{getReservation: func(_ context.Context, ws string, ref quota.ReservationRef, _ time.Time) (quota.Reservation, error) {
				if ws != tc.res.WorkspaceID || ref.ID() != tc.res.ID {
					t.Errorf("GetReservation(%q, %q), want (%q, %q)", ws, ref.ID(), tc.res.WorkspaceID, tc.res.ID)
				}
				return tc.res, nil
			}})
			resp, err := e.quota.GetReservation(testCtx(t), &quotav1.GetReservationRequest{WorkspaceId: tc.res.WorkspaceID, ReservationId: tc.res.ID})
			if err != nil {
				t.Fatalf("GetReservation: %v", err)
			}
			if diff := cmp.Diff(tc.want, resp.GetReservation(), protocmp.Transform()); diff != "" {
				t.Errorf("reservation (-want +got):\n%s", diff)
			}
		})
	}
}

// TestACostsFirstNodeIsCutToTheBudget: a usage tree whose main agent
// alone passes the reply's budget (10,000 uncatalogued actions of
// 128-byte tool names and 1,000 models, within the usage limits) is cut:
// its lines in order while they fit, its totals whole, Truncated set, and
// the reservation's reply stays under 64 KiB.
func TestACostsFirstNodeIsCutToTheBudget(t *testing.T) {
	long := func(prefix string, i int) string {
		s := fmt.Sprintf("%s-%05d-", prefix, i)
		return s + strings.Repeat("x", quota.MaxIDLen-len(s))
	}
	main := quota.AgentCost{AgentID: "main", OwnCost: 11_000, OwnActionCost: 10_000, OwnTokenCost: 1_000, TotalCost: 11_000}
	for i := range 1_000 {
		main.Models = append(main.Models, quota.ModelCost{Model: long("model", i), PricedAs: long("model", i), Tokens: 1, Cost: 1})
	}
	for i := range 10_000 {
		main.Actions = append(main.Actions, quota.ActionCost{Tool: long("tool", i), Tier: quota.TierAdvanced, Cost: 1, Uncatalogued: true})
	}
	main.SubAgents = []quota.AgentCost{{AgentID: "sub"}}
	r := &quota.Reservation{WorkspaceID: "ws-1", ID: convResID, State: quota.StateCommitted,
		Cost: &quota.RunCost{Origin: quota.OriginConversation, Root: main, TotalCost: 11_000}}
	out := reservationToProto(r)
	if n := proto.Size(out); n > 64<<10 {
		t.Fatalf("the reply is %d bytes; want at most 64 KiB", n)
	}
	c := out.GetCost()
	root := c.GetRoot()
	if !c.GetTruncated() || root.GetOwnCost() != 11_000 || c.GetTotalCost() != 11_000 || len(root.GetSubAgents()) != 0 {
		t.Fatalf("cost: truncated %v, own %d, total %d, %d sub-agents; want true, 11,000, 11,000 and none",
			c.GetTruncated(), root.GetOwnCost(), c.GetTotalCost(), len(root.GetSubAgents()))
	}
	if len(root.GetModels()) == 0 || len(root.GetModels()) == 1_000 || len(root.GetActions()) != 0 {
		t.Fatalf("%d models and %d actions kept; want the first models that fit, and no action", len(root.GetModels()), len(root.GetActions()))
	}
	for i, m := range root.GetModels() {
		if m.GetModel() != main.Models[i].Model {
			t.Fatalf("model %d is %q; want the lines in order", i, m.GetModel())
		}
	}
	// 10,000 models priced by fallback, named in the cost's list too:
	// the list is cut as well.
	for i := range 10_000 {
		r.Cost.FallbackModels = append(r.Cost.FallbackModels, long("unknown", i))
	}
	out = reservationToProto(r)
	if n := proto.Size(out); n > 64<<10 || !out.GetCost().GetTruncated() || len(out.GetCost().GetFallbackModels()) == 0 {
		t.Fatalf("with 10,000 fallback models the reply is %d bytes, truncated %v, %d of them named; want at most 64 KiB, true and the first",
			n, out.GetCost().GetTruncated(), len(out.GetCost().GetFallbackModels()))
	}
	r.Cost.FallbackModels = nil
	// A smaller node keeps all its models and the first actions.
	main.Models = main.Models[:10]
	r.Cost.Root = main
	root = reservationToProto(r).GetCost().GetRoot()
	if len(root.GetModels()) != 10 || len(root.GetActions()) == 0 || len(root.GetActions()) == 10_000 || root.GetActions()[0].GetTool() != main.Actions[0].Tool {
		t.Fatalf("%d models and %d actions kept; want 10 and the first actions that fit", len(root.GetModels()), len(root.GetActions()))
	}
}
