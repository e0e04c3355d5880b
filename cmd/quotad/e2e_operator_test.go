package main

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// testOperatorActions adjusts a member's credits and the pool and forces
// a refund, as an operator would through the AdminService.
func testOperatorActions(t *testing.T, c *client) {
	const ws = "ops"
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: "ws",
		SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))}); err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
	if _, err := c.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{WorkspaceId: ws, MemberId: "bob", RequestId: "seat",
		Seat: quotav1.Seat_SEAT_PRO}); err != nil {
		t.Fatalf("SetSeat: %v", err)
	}
	res, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{WorkspaceId: ws, MemberId: "bob", RequestId: "r1",
		Amount: 30 * credit, Ttl: durationpb.New(time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}

	credit250 := &quotav1.AdjustBalanceRequest{WorkspaceId: ws, MemberId: "bob", RequestId: "adj-1", Amount: 250 * credit,
		Reason: "goodwill: outage of 2026-03-09"}
	adj, err := c.admin.AdjustBalance(rpcCtx(t), credit250)
	if err != nil {
		t.Fatalf("AdjustBalance: %v", err)
	}
	if got, want := adj.GetBalance().GetAvailable(), (8000+250-30)*credit; got != want {
		t.Errorf("available after a credit of 250 = %d, want %d", got, want)
	}
	checkInvariant(t, adj.GetBalance())
	again, err := c.admin.AdjustBalance(rpcCtx(t), credit250)
	if err != nil || again.GetBalance().GetAvailable() != adj.GetBalance().GetAvailable() {
		t.Errorf("retried adjustment: %v, available %d then %d", err, adj.GetBalance().GetAvailable(), again.GetBalance().GetAvailable())
	}
	_, err = c.admin.AdjustBalance(rpcCtx(t), &quotav1.AdjustBalanceRequest{WorkspaceId: ws, MemberId: "bob", RequestId: "adj-2",
		Amount: -9000 * credit, Reason: "too much"})
	checkStatus(t, err, codes.FailedPrecondition, "ADJUSTMENT_EXCEEDS_AVAILABLE")

	pool, err := c.admin.AdjustBalance(rpcCtx(t), &quotav1.AdjustBalanceRequest{WorkspaceId: ws, RequestId: "adj-3",
		Amount: 100 * credit, Reason: "credit note 17"})
	if err != nil {
		t.Fatalf("AdjustBalance of the pool: %v", err)
	}
	if pool.GetGrant().GetAmount() != 100*credit || pool.GetWorkspace().GetPool().GetAvailable() != 100*credit {
		t.Errorf("pool credit: grant %v, pool %v", pool.GetGrant(), pool.GetWorkspace().GetPool())
	}

	_, err = c.admin.RefundReservation(rpcCtx(t), &quotav1.RefundReservationRequest{WorkspaceId: ws,
		ReservationId: res.GetReservation().GetReservationId(), RequestId: "refund-1"})
	checkStatus(t, err, codes.InvalidArgument, "INVALID_FIELD")
	ref, err := c.admin.RefundReservation(rpcCtx(t), &quotav1.RefundReservationRequest{WorkspaceId: ws,
		ReservationId: res.GetReservation().GetReservationId(), RequestId: "refund-2", Reason: "stuck run, ticket 4411"})
	if err != nil {
		t.Fatalf("RefundReservation: %v", err)
	}
	if ref.GetReservation().GetState() != quotav1.ReservationState_RESERVATION_STATE_REFUNDED ||
		ref.GetBalance().GetAvailable() != (8000+250)*credit {
		t.Errorf("after the operator's refund: %v, available %d", ref.GetReservation().GetState(), ref.GetBalance().GetAvailable())
	}
	checkInvariant(t, ref.GetBalance())
}

// testExplain explains a member's balance and the pool through the
// AdminService: every invariant holds.
func testExplain(t *testing.T, c *client) {
	w := walkthrough(t, c, "explain")
	if _, err := c.admin.AddPoolGrant(rpcCtx(t), &quotav1.AddPoolGrantRequest{WorkspaceId: w.ws, RequestId: "grant-1",
		Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: 100 * credit}); err != nil {
		t.Fatalf("AddPoolGrant: %v", err)
	}
	for _, member := range []string{w.member, ""} {
		x, err := c.admin.ExplainBalance(rpcCtx(t), &quotav1.ExplainBalanceRequest{WorkspaceId: w.ws, MemberId: member})
		if err != nil {
			t.Fatalf("ExplainBalance(%q): %v", member, err)
		}
		if len(x.GetComponents()) == 0 || len(x.GetChecks()) == 0 {
			t.Errorf("ExplainBalance(%q): %d components, %d checks", member, len(x.GetComponents()), len(x.GetChecks()))
		}
		for _, ch := range x.GetChecks() {
			if !ch.GetHolds() {
				t.Errorf("ExplainBalance(%q): %s: %d != %d", member, ch.GetEquation(), ch.GetLeft(), ch.GetRight())
			}
		}
		if (member != "") != (x.GetBalance() != nil) {
			t.Errorf("ExplainBalance(%q): balance %v", member, x.GetBalance())
		}
	}
}
