package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// lastLedger returns the fields of the workspace's newest ledger entry.
func (e *env) lastLedger() map[string]any {
	e.t.Helper()
	xs, err := e.rdb.XRevRangeN(e.ctx, "q:{ws:ws1}:ledger", "+", "-", 1).Result()
	if err != nil || len(xs) != 1 {
		e.t.Fatalf("newest ledger entry: %v (%d entries)", err, len(xs))
	}
	return xs[0].Values
}

func (e *env) adjust(member string, amount int64, reason string) (quota.Adjustment, error) {
	return e.svc.Adjust(e.ctx, quota.AdjustRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: member,
		Amount: amount, Reason: reason, Actor: "ops-alice"})
}

func TestAdjustMemberSeatCredits(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		before := e.seat("m1", quota.SeatPro)
		held := e.mustReserve("m1", 100*C)

		adj, err := e.adjust("m1", 250*C, "goodwill for the outage of 2026-03-09")
		if err != nil {
			t.Fatal(err)
		}
		b := *adj.Balance
		e.invariant(b)
		if b.Available != before.Available-100*C+250*C || b.Totals.Allocated != before.Totals.Allocated+250*C || b.Allocated != before.Allocated+250*C {
			t.Fatalf("after a credit of 250: available %d allocated %d (lifetime %d); before: available %d allocated %d (lifetime %d)",
				b.Available, b.Allocated, b.Totals.Allocated, before.Available, before.Allocated, before.Totals.Allocated)
		}
		l := e.lastLedger()
		if l["op"] != "adjust" || l["member"] != "m1" || l["amount"] != "250000000" || l["seat"] != "250000000" ||
			l["actor"] != "ops-alice" || l["reason"] != "goodwill for the outage of 2026-03-09" {
			t.Fatalf("ledger entry of the credit: %v", l)
		}

		// A debit takes from the available seat credits, never from holds:
		// 8,000 + 250 - 100 held = 8,150 available.
		_, err = e.adjust("m1", -8151*C, "too much")
		var qe *quota.Error
		if !errors.As(err, &qe) || qe.Code != quota.CodeAdjustmentExceedsAvailable {
			t.Fatalf("debit beyond the available: %v, want ADJUSTMENT_EXCEEDS_AVAILABLE", err)
		}
		adj, err = e.adjust("m1", -8150*C, "closing the seat's credits")
		if err != nil {
			t.Fatal(err)
		}
		e.invariant(*adj.Balance)
		if got := adj.Balance.Available; got != 0 {
			t.Fatalf("available after debiting all of it: %d", got)
		}
		// The hold still commits from what it held.
		if _, err := e.commit(held.ID, actions(10)); err != nil {
			t.Fatal(err)
		}
		e.checkBooks("after adjustments", []string{"m1"}, nil, []string{held.ID})

		// A credit is this period's: unused, it is forfeited at the reset.
		if _, err := e.adjust("m1", 40*C, "period credit"); err != nil {
			t.Fatal(err)
		}
		e.set(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)) // past the reset of March 31st
		b = e.balance("m1")
		if b.Available != 8000*C {
			t.Fatalf("available after the reset: %d, want the Pro seat's 8,000 credits", b.Available)
		}
	})
}

func TestAdjustErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatFree)
		if _, err := e.adjust("nobody", C, "x"); !errors.Is(err, quota.ErrMemberNotFound) {
			t.Fatalf("adjusting a member without a seat: %v, want MEMBER_NOT_FOUND", err)
		}
		// A Free seat's credits are lifetime credits: there are no seat
		// credits to debit.
		if _, err := e.adjust("m1", -C, "x"); !errors.Is(err, &quota.Error{Code: quota.CodeAdjustmentExceedsAvailable}) {
			t.Fatalf("debiting a Free seat: %v", err)
		}
		for name, req := range map[string]quota.AdjustRequest{
			"no reason":      {Amount: C},
			"zero":           {Amount: 0, Reason: "x"},
			"newline":        {Amount: C, Reason: "a\nb"},
			"too long":       {Amount: C, Reason: string(make([]byte, quota.MaxReasonLen+1))},
			"huge":           {Amount: quota.MaxAmount + 1, Reason: "x"},
			"member expiry":  {MemberID: "m1", Amount: C, Reason: "x", Expiry: e.clock().Add(time.Hour)},
			"debit expiry":   {Amount: -C, Reason: "x", Expiry: e.clock().Add(time.Hour)},
			"past expiry":    {Amount: C, Reason: "x", Expiry: e.clock().Add(-time.Hour)},
			"invalid utf8":   {Amount: C, Reason: "\xff"},
			"huge debit":     {Amount: -quota.MaxAmount - 1, Reason: "x"},
			"member no seat": {MemberID: "m2", Amount: C, Reason: "x"},
		} {
			req.Idem, req.WorkspaceID = e.id(), "ws1"
			before := e.digest()
			_, err := e.svc.Adjust(e.ctx, req)
			var qe *quota.Error
			if !errors.As(err, &qe) || (qe.Kind() != quota.KindInvalid && qe.Kind() != quota.KindNotFound) {
				t.Errorf("%s: %v, want an invalid or not found error", name, err)
			}
			if after := e.digest(); after != before {
				t.Errorf("%s changed Redis", name)
			}
		}
	})
}

func TestAdjustPool(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		g1 := e.grant(100*C, 0, yearEnd)
		adj, err := e.adjust("", 50*C, "credit note 2026-17")
		credit := adj.Grant
		if err != nil {
			t.Fatal(err)
		}
		if adj.Balance != nil || adj.Grant == nil || adj.Grant.Amount != 50*C || adj.Grant.Kind != quota.GrantTopUp ||
			!adj.Grant.Expiry.Equal(e.clock().Add(quota.TopUpLifetime).Truncate(time.Millisecond)) {
			t.Fatalf("pool credit: %+v", adj)
		}
		l := e.lastLedger()
		if l["op"] != "adjust" || l["grant"] != adj.Grant.ID || l["amount"] != "50000000" || l["reason"] != "credit note 2026-17" {
			t.Fatalf("ledger entry of the pool credit: %v", l)
		}
		if p := e.pool().Pool; p.Available != 150*C || p.Granted != 150*C {
			t.Fatalf("pool after the credit: %+v", p)
		}

		// A debit takes from the grants in draw order: g1 (earliest expiry)
		// first.
		e.seat("m1", quota.SeatMax)
		if _, err := e.adjust("m1", -40000*C, "empty the seat so that holds draw on the pool"); err != nil {
			t.Fatal(err)
		}
		h := e.mustReserve("m1", 30*C)
		if _, err := e.adjust("", -121*C, "too much"); !errors.Is(err, &quota.Error{Code: quota.CodeAdjustmentExceedsAvailable}) {
			t.Fatalf("pool debit beyond the available: %v", err)
		}
		adj, err = e.adjust("", -80*C, "refund of a top-up")
		if err != nil {
			t.Fatal(err)
		}
		p := adj.Workspace.Pool
		if p.Available != 40*C || p.Granted != 70*C || p.Held != 30*C {
			t.Fatalf("pool after a debit of 80 with 30 held: %+v", p)
		}
		if l := e.lastLedger(); l["grants"] != g1.ID+":70000000;"+credit.ID+":10000000" {
			t.Fatalf("ledger entry of the pool debit: %v", l)
		}
		e.checkBooks("after pool adjustments", []string{"m1"}, []string{g1.ID, credit.ID}, []string{h.ID})
		e.pool()
	})
}

func TestAdjustReplays(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatPro)
		idem := e.id()
		req := quota.AdjustRequest{Idem: idem, WorkspaceID: "ws1", MemberID: "m1", Amount: 5 * C, Reason: "x"}
		first, err := e.svc.Adjust(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.svc.Adjust(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if again.Balance.Available != first.Balance.Available {
			t.Fatalf("a replay applied again: %d then %d", first.Balance.Available, again.Balance.Available)
		}
		pool := quota.AdjustRequest{Idem: e.id(), WorkspaceID: "ws1", Amount: 5 * C, Reason: "x"}
		g1, err := e.svc.Adjust(e.ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		g2, err := e.svc.Adjust(e.ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if g1.Grant.ID != g2.Grant.ID || g2.Workspace.Pool.Granted != 5*C {
			t.Fatalf("a replayed pool credit: %s then %s, granted %d", g1.Grant.ID, g2.Grant.ID, g2.Workspace.Pool.Granted)
		}
		if _, err := e.svc.Adjust(e.ctx, quota.AdjustRequest{Idem: quota.Idem{RequestID: idem.RequestID, Fingerprint: "other"},
			WorkspaceID: "ws1", MemberID: "m1", Amount: 6 * C, Reason: "x"}); !errors.Is(err, quota.ErrRequestIDReused) {
			t.Fatalf("the same request id for another adjustment: %v", err)
		}
	})
}

func TestOperatorRefundIsInTheLedger(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatPro)
		r := e.mustReserve("m1", 10*C)
		out, err := e.svc.OperatorRefund(e.ctx, quota.OperatorRefundRequest{Idem: e.id(), WorkspaceID: "ws1",
			ReservationID: r.ID, Reason: "stuck run, ticket 4411", Actor: "ops-bob"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Reservation.State != quota.StateRefunded || out.Balance.Available != 8000*C {
			t.Fatalf("after the operator's refund: %v, available %d", out.Reservation.State, out.Balance.Available)
		}
		l := e.lastLedger()
		if l["op"] != "refund" || l["actor"] != "ops-bob" || l["reason"] != "stuck run, ticket 4411" || l["released"] != "10000000" {
			t.Fatalf("ledger entry: %v", l)
		}
		if _, err := e.svc.OperatorRefund(e.ctx, quota.OperatorRefundRequest{Idem: e.id(), WorkspaceID: "ws1",
			ReservationID: r.ID, Reason: ""}); !errors.Is(err, &quota.Error{Code: quota.CodeInvalidField}) {
			t.Fatalf("no reason: %v", err)
		}
		// The orchestrator's refund writes neither.
		r2 := e.mustReserve("m1", C)
		if _, err := e.refund(r2.ID); err != nil {
			t.Fatal(err)
		}
		if l := e.lastLedger(); l["actor"] != nil || l["reason"] != nil {
			t.Fatalf("an orchestrator's refund has actor or reason: %v", l)
		}
	})
}

func TestReplaysAreMarked(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatPro)
		req := quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "m1", Amount: C,
			Origin: quota.OriginConversation, TTL: time.Minute}
		first, err := e.svc.Reserve(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.svc.Reserve(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		commit := quota.CommitRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: first.Reservation.ID, Usage: actions(0)}
		c1, err := e.svc.Commit(e.ctx, commit)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := e.svc.Commit(e.ctx, commit)
		if err != nil {
			t.Fatal(err)
		}
		if first.Replayed || !again.Replayed || c1.Replayed || !c2.Replayed {
			t.Fatalf("replayed: reserve %v then %v, commit %v then %v; want false, true, false, true",
				first.Replayed, again.Replayed, c1.Replayed, c2.Replayed)
		}
	})
}

// TestNoExpiredHoldShowsInAMutationsReply: more holds are due than a call
// releases before it decides (schema.ExpirePerCall); the mutation releases
// the rest, up to schema.ExpireMore more, before it answers. (Beyond
// that, the sweeper releases them: TestBackgroundWorkIsDoneInBoundedCalls.)
func TestNoExpiredHoldShowsInAMutationsReply(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatPro)
		for range schema.ExpirePerCall + schema.ExpireMore {
			e.mustReserve("m1", C) // a minute
		}
		r, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "m1",
			Amount: 5 * C, Origin: quota.OriginConversation, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Minute)
		out, err := e.refund(r.Reservation.ID)
		if err != nil {
			t.Fatal(err)
		}
		if out.Balance.Held != 0 || out.Balance.Available != 8000*C {
			t.Fatalf("the refund's reply shows held %d, available %d; want 0 and all 8,000 credits", out.Balance.Held, out.Balance.Available)
		}
	})
}
