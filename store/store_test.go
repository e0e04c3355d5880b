package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

const C = quota.Credit

// anchor is the test workspace's subscription start: the 31st, so periods
// exercise the month-end clamp.
var anchor = time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)

// env is one test's service on one backend, with a clock the test moves.
type env struct {
	t   *testing.T
	ctx context.Context
	rdb redis.UniversalClient
	st  *store.Store
	svc *quota.Service

	mu  sync.Mutex
	now time.Time
	seq int
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// advance moves the clock.
func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// set moves the clock to t.
func (e *env) set(t time.Time) {
	e.mu.Lock()
	e.now = t
	e.mu.Unlock()
}

// id returns a fresh request id with a matching fingerprint.
func (e *env) id() quota.Idem {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return quota.Idem{RequestID: fmt.Sprintf("req-%d", e.seq), Fingerprint: fmt.Sprintf("fp-%d", e.seq)}
}

// eachBackend runs f on a real redis-server and on the embedded server.
func eachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	optionsEnv(t, store.Options{}, f)
}

// optionsEnv runs f on each backend (a real redis-server, the embedded
// server, a Cluster) with a store of options o and the workspace ws1.
func optionsEnv(t *testing.T, o store.Options, f func(t *testing.T, e *env)) {
	for _, b := range append(redistest.Backends(), redistest.ClusterBackend()) {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.New(t)
			e := &env{t: t, ctx: context.Background(), rdb: rdb, st: store.New(rdb, o), now: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
			e.svc = quota.NewService(e.st, quota.Config{Now: e.clock})
			if _, err := e.svc.SetWorkspace(e.ctx, e.id(), quota.Workspace{ID: "ws1", SubscriptionStart: anchor}); err != nil {
				t.Fatal(err)
			}
			f(t, e)
		})
	}
}

func (e *env) seat(member string, s quota.Seat) quota.Balance {
	e.t.Helper()
	b, err := e.svc.SetSeat(e.ctx, e.id(), "ws1", member, s)
	if err != nil {
		e.t.Fatalf("SetSeat(%s, %s): %v", member, s, err)
	}
	e.invariant(b)
	return b
}

func (e *env) balance(member string) quota.Balance {
	e.t.Helper()
	b, err := e.svc.GetBalance(e.ctx, "ws1", member)
	if err != nil {
		e.t.Fatalf("GetBalance(%s): %v", member, err)
	}
	e.invariant(b)
	return b
}

func (e *env) reserve(member string, amount, min int64) (quota.Outcome, error) {
	return e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: member,
		Amount: amount, Min: min, Origin: quota.OriginConversation, TTL: time.Minute})
}

func (e *env) mustReserve(member string, amount int64) quota.Reservation {
	e.t.Helper()
	o, err := e.reserve(member, amount, 0)
	if err != nil {
		e.t.Fatalf("Reserve(%s, %d): %v", member, amount, err)
	}
	e.invariant(o.Balance)
	return o.Reservation
}

func (e *env) commit(id string, run quota.AgentRun) (quota.Outcome, error) {
	return e.svc.Commit(e.ctx, quota.CommitRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: id, Usage: run})
}

func (e *env) refund(id string) (quota.Outcome, error) {
	return e.svc.Refund(e.ctx, quota.RefundRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: id})
}

// invariant checks allocated = available + held + spent + forfeited.
func (e *env) invariant(b quota.Balance) {
	e.t.Helper()
	tt := b.Totals
	if tt.Allocated != tt.Available+tt.Held+tt.Spent+tt.Forfeited {
		e.t.Fatalf("invariant broken for %s: allocated %d != available %d + held %d + spent %d + forfeited %d",
			b.MemberID, tt.Allocated, tt.Available, tt.Held, tt.Spent, tt.Forfeited)
	}
	for _, s := range b.Sources {
		if s.Available < 0 || s.Held < 0 || s.Spent < 0 {
			e.t.Fatalf("negative source balance for %s: %+v", b.MemberID, s)
		}
	}
}

// actions returns a run whose cost is exactly n advanced actions (3n
// credits) in a regular conversation.
func actions(n int) quota.AgentRun {
	run := quota.AgentRun{AgentID: "main"}
	for range n {
		run.Actions = append(run.Actions, quota.ToolAction{Tool: "data_retrieval"})
	}
	return run
}

func TestSeatAllocations(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			member    string
			seat      quota.Seat
			allocated int64
		}{
			{"free", quota.SeatFree, 500 * C},
			{"pro", quota.SeatPro, 8_000 * C},
			{"max", quota.SeatMax, 40_000 * C},
			{"none", quota.SeatNone, 0},
		} {
			b := e.seat(tc.member, tc.seat)
			if b.Allocated != tc.allocated || b.Available != tc.allocated || b.Spendable != tc.allocated || b.Seat != tc.seat {
				t.Errorf("%s: got seat %s allocated %d available %d spendable %d, want %s %d", tc.member, b.Seat, b.Allocated, b.Available, b.Spendable, tc.seat, tc.allocated)
			}
			wantStart, wantEnd := time.Date(2026, 2, 28, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC)
			if !b.PeriodStart.Equal(wantStart) || !b.PeriodEnd.Equal(wantEnd) {
				t.Errorf("%s: period [%s, %s), want [%s, %s)", tc.member, b.PeriodStart, b.PeriodEnd, wantStart, wantEnd)
			}
		}
	})
}

func TestReserveCommitWithSubAgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("alice", quota.SeatPro)
		r := e.mustReserve("alice", 100*C)
		if r.State != quota.StateHeld || r.Held != 100*C {
			t.Fatalf("reserve: %+v", r)
		}
		if b := e.balance("alice"); b.Available != 7_900*C || b.Held != 100*C {
			t.Fatalf("balance after reserve: available %d held %d", b.Available, b.Held)
		}
		run := quota.AgentRun{
			AgentID: "main",
			Models:  []quota.ModelUsage{{Model: "claude-sonnet-4-5", InputTokens: 10_000, OutputTokens: 2_000}},
			Actions: []quota.ToolAction{{Tool: "web_search"}},
			SubAgents: []quota.AgentRun{{
				AgentID: "researcher",
				Models:  []quota.ModelUsage{{Model: "gpt-5-mini", InputTokens: 50_000}},
				Actions: []quota.ToolAction{{Tool: "data_retrieval"}, {Tool: "notion_connector", NotRun: true}},
			}},
		}
		want, _, err := e.svc.EstimateCost(quota.OriginConversation, run)
		if err != nil {
			t.Fatal(err)
		}
		o, err := e.commit(r.ID, run)
		if err != nil {
			t.Fatal(err)
		}
		e.invariant(o.Balance)
		got := o.Reservation
		if got.State != quota.StateCommitted || got.Charged != want.TotalCost || got.ChargedFromHold != want.TotalCost ||
			got.Released != 100*C-want.TotalCost || got.Shortfall != 0 || got.Held != 0 {
			t.Fatalf("commit: %+v (cost %d)", got, want.TotalCost)
		}
		if diff := cmp.Diff(&want, got.Cost); diff != "" {
			t.Errorf("stored cost (-want +got):\n%s", diff)
		}
		if o.Balance.Spent != want.TotalCost || o.Balance.Held != 0 || o.Balance.Available != 8_000*C-want.TotalCost {
			t.Errorf("balance after commit: %+v", o.Balance)
		}
		// GetReservation shows the same breakdown.
		again, err := e.svc.GetReservation(e.ctx, "ws1", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("GetReservation (-commit +get):\n%s", diff)
		}
	})
}

func TestRefundReleasesEverything(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("bob", quota.SeatPro)
		r := e.mustReserve("bob", 500*C)
		o, err := e.refund(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.State != quota.StateRefunded || o.Reservation.Released != 500*C || o.Balance.Available != 8_000*C || o.Balance.Spent != 0 {
			t.Fatalf("refund: %+v %+v", o.Reservation, o.Balance)
		}
	})
}

func TestReserveAmountAndMinimum(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("carol", quota.SeatFree) // 500 credits
		o, err := e.reserve("carol", 800*C, 200*C)
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.Held != 500*C || o.Reservation.Requested != 800*C {
			t.Fatalf("partial hold: %+v", o.Reservation)
		}
		_, err = e.reserve("carol", 10*C, 0)
		var d *quota.Denial
		if !asDenial(err, &d) || d.Reason != quota.ReasonCreditsExhausted || d.Available != 0 || d.Requested != 10*C || d.MemberID != "carol" {
			t.Fatalf("want CREDITS_EXHAUSTED, got %v", err)
		}
		_, err = e.reserve("nobody", 10*C, 0)
		if !asDenial(err, &d) || d.Reason != quota.ReasonNoSeat {
			t.Fatalf("want NO_SEAT, got %v", err)
		}
		if _, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "nows", MemberID: "x", Amount: C, Origin: quota.OriginConversation}); !errors.Is(err, quota.ErrWorkspaceNotFound) {
			t.Fatalf("unknown workspace: %v", err)
		}
	})
}

func TestDrawOrderSeatThenFree(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("dan", quota.SeatFree)
		b := e.seat("dan", quota.SeatPro) // upgrade: free credits stay
		if b.Allocated != 8_500*C || b.Seat != quota.SeatPro {
			t.Fatalf("after upgrade: %+v", b)
		}
		o, err := e.reserve("dan", 8_200*C, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []quota.SourceAmount{{Source: quota.SourceSeat, Amount: 8_000 * C}, {Source: quota.SourceFree, Amount: 200 * C}}
		if diff := cmp.Diff(want, o.Reservation.HeldFrom); diff != "" {
			t.Errorf("held from (-want +got):\n%s", diff)
		}
		// Charge 8,100 credits: from the hold, seat first.
		c, err := e.commit(o.Reservation.ID, actions(2700))
		if err != nil {
			t.Fatal(err)
		}
		want = []quota.SourceAmount{{Source: quota.SourceSeat, Amount: 8_000 * C}, {Source: quota.SourceFree, Amount: 100 * C}}
		if diff := cmp.Diff(want, c.Reservation.ChargedFrom); diff != "" {
			t.Errorf("charged from (-want +got):\n%s", diff)
		}
		if c.Balance.Available != 400*C {
			t.Errorf("available %d, want 400 credits", c.Balance.Available)
		}
	})
}

func TestIdempotentRetry(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("erin", quota.SeatPro)
		req := quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "erin", Amount: 100 * C, Origin: quota.OriginConversation}
		first, err := e.svc.Reserve(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		e.advance(time.Second)
		second, err := e.svc.Reserve(e.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !second.Replayed {
			t.Error("the retried Reserve is not marked replayed")
		}
		second.Replayed = false
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("retry returned another response (-first +retry):\n%s", diff)
		}
		if b := e.balance("erin"); b.Held != 100*C {
			t.Errorf("retry held again: held %d", b.Held)
		}
		other := req
		other.Amount = 200 * C
		other.Fingerprint = "another request"
		if _, err := e.svc.Reserve(e.ctx, other); !errors.Is(err, quota.ErrRequestIDReused) {
			t.Errorf("same id, other request: %v", err)
		}
		// Commit retried after a lost reply charges once.
		creq := quota.CommitRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: first.Reservation.ID, Usage: actions(10)}
		c1, err := e.svc.Commit(e.ctx, creq)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := e.svc.Commit(e.ctx, creq)
		if err != nil {
			t.Fatal(err)
		}
		if !c2.Replayed {
			t.Error("the retried Commit is not marked replayed")
		}
		c2.Replayed = false
		if diff := cmp.Diff(c1, c2); diff != "" {
			t.Errorf("commit retry (-first +retry):\n%s", diff)
		}
		if b := e.balance("erin"); b.Spent != 30*C {
			t.Errorf("spent %d after retried commit, want 30 credits", b.Spent)
		}
	})
}

func TestIllegalTransitions(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("fay", quota.SeatPro)
		committed := e.mustReserve("fay", 10*C)
		if _, err := e.commit(committed.ID, actions(1)); err != nil {
			t.Fatal(err)
		}
		refunded := e.mustReserve("fay", 10*C)
		if _, err := e.refund(refunded.ID); err != nil {
			t.Fatal(err)
		}
		expired := e.mustReserve("fay", 10*C)
		e.advance(2 * time.Minute)
		extend := func(id string) error {
			_, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: id, AddAmount: C})
			return err
		}
		commit := func(id string) error { _, err := e.commit(id, actions(1)); return err }
		refund := func(id string) error { _, err := e.refund(id); return err }
		for _, tc := range []struct {
			name string
			do   func(string) error
			id   string
			from quota.State
		}{
			{"commit a committed hold", commit, committed.ID, quota.StateCommitted},
			{"refund a committed hold", refund, committed.ID, quota.StateCommitted},
			{"extend a committed hold", extend, committed.ID, quota.StateCommitted},
			{"commit a refunded hold", commit, refunded.ID, quota.StateRefunded},
			{"refund a refunded hold", refund, refunded.ID, quota.StateRefunded},
			{"extend a refunded hold", extend, refunded.ID, quota.StateRefunded},
			{"refund an expired hold", refund, expired.ID, quota.StateExpired},
			{"extend an expired hold", extend, expired.ID, quota.StateExpired},
		} {
			err := tc.do(tc.id)
			var e *quota.Error
			if !errors.As(err, &e) || e.Transition == nil || e.Transition.From != tc.from || e.Transition.ReservationID != tc.id {
				t.Errorf("%s: got %v, want a transition error from %s", tc.name, err, tc.from)
			}
		}
		if _, err := e.refund("c_00000000000000000000000000000000_0"); !errors.Is(err, quota.ErrReservationNotFound) {
			t.Errorf("unknown reservation: %v", err)
		}
		e.balance("fay")
	})
}

func TestExpiredHoldNoLongerBlocks(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("gus", quota.SeatPro)
		r := e.mustReserve("gus", 8_000*C)
		if _, err := e.reserve("gus", C, 0); err == nil {
			t.Fatal("reserve past the balance succeeded")
		}
		e.advance(time.Minute) // exactly at the deadline: expired
		if b := e.balance("gus"); b.Held != 0 || b.Available != 8_000*C {
			t.Fatalf("expired hold still shows: %+v", b)
		}
		e.mustReserve("gus", 8_000*C)
		got, err := e.svc.GetReservation(e.ctx, "ws1", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != quota.StateExpired || got.Held != 0 || got.Released != 8_000*C || !got.Settled.Equal(r.Deadline) {
			t.Fatalf("expired reservation: %+v", got)
		}
	})
}

func TestLateCommitStillCharges(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("hal", quota.SeatPro)
		r := e.mustReserve("hal", 100*C)
		e.advance(time.Hour)
		o, err := e.commit(r.ID, actions(10))
		if err != nil {
			t.Fatal(err)
		}
		got := o.Reservation
		if got.State != quota.StateCommitted || got.Charged != 30*C || got.ChargedFromHold != 0 || got.Shortfall != 0 {
			t.Fatalf("late commit: %+v", got)
		}
		if o.Balance.Spent != 30*C || o.Balance.Available != 7_970*C {
			t.Fatalf("balance: %+v", o.Balance)
		}
	})
}

func TestCommitBeyondHoldRecordsShortfall(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ivy", quota.SeatFree) // 500 credits
		r := e.mustReserve("ivy", 30*C)
		o, err := e.commit(r.ID, actions(200)) // 600 credits
		if err != nil {
			t.Fatal(err)
		}
		got := o.Reservation
		if got.Charged != 500*C || got.ChargedFromHold != 30*C || got.Shortfall != 100*C {
			t.Fatalf("commit beyond the hold: %+v", got)
		}
		if o.Balance.Available != 0 || o.Balance.Spent != 500*C {
			t.Fatalf("balance: %+v", o.Balance)
		}
	})
}

func TestExtend(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("jo", quota.SeatFree)
		r := e.mustReserve("jo", 100*C)
		o, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: r.ID, AddAmount: 50 * C, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.Held != 150*C || o.Reservation.Requested != 150*C || !o.Reservation.Deadline.Equal(e.clock().Add(time.Hour)) {
			t.Fatalf("extend: %+v", o.Reservation)
		}
		e.advance(30 * time.Minute) // past the first deadline, before the new one
		_, err = e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: r.ID, AddAmount: 400 * C})
		var d *quota.Denial
		if !asDenial(err, &d) || d.Available != 350*C {
			t.Fatalf("extend past the balance: %v", err)
		}
		if b := e.balance("jo"); b.Held != 150*C {
			t.Fatalf("hold after a refused extend: %+v", b)
		}
	})
}

func TestPeriodResetForfeitsUnused(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("kim", quota.SeatPro)
		spent := e.mustReserve("kim", 1_000*C)
		if _, err := e.commit(spent.ID, actions(100)); err != nil { // 300 credits
			t.Fatal(err)
		}
		// The period ends on 2026-03-31 09:00: hold 30 s before, for a minute.
		e.set(time.Date(2026, 3, 31, 8, 59, 30, 0, time.UTC))
		open := e.mustReserve("kim", 200*C)
		e.set(time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC))
		b := e.balance("kim")
		if b.Allocated != 8_000*C || b.Available != 8_000*C || b.Spent != 0 || b.Held != 0 {
			t.Fatalf("after reset: %+v", b)
		}
		if !b.PeriodStart.Equal(time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC)) || !b.PeriodEnd.Equal(time.Date(2026, 4, 30, 9, 0, 0, 0, time.UTC)) {
			t.Fatalf("period after reset: [%s, %s)", b.PeriodStart, b.PeriodEnd)
		}
		// 8000 - 300 spent - 200 held were forfeited; the hold is still held.
		if b.Totals.Forfeited != 7_500*C || b.Totals.Held != 200*C {
			t.Fatalf("totals after reset: %+v", b.Totals)
		}
		// A hold of the old period released after the reset is forfeited.
		o, err := e.commit(open.ID, actions(10)) // 30 credits
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.ChargedFromHold != 30*C || o.Balance.Available != 8_000*C || o.Balance.Totals.Forfeited != 7_670*C {
			t.Fatalf("old hold after reset: %+v %+v", o.Reservation, o.Balance)
		}
	})
}

func TestSeatChangesMidPeriod(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("lee", quota.SeatPro)
		r := e.mustReserve("lee", 3_000*C)
		if _, err := e.commit(r.ID, actions(1000)); err != nil { // 3,000 credits
			t.Fatal(err)
		}
		b := e.seat("lee", quota.SeatMax) // upgrade: 40,000 - 3,000 spent
		if b.Seat != quota.SeatMax || b.Available != 37_000*C || b.Allocated != 40_000*C {
			t.Fatalf("upgrade: %+v", b)
		}
		b = e.seat("lee", quota.SeatPro) // downgrade: at the next reset
		if b.Seat != quota.SeatMax || !b.HasNext || b.NextSeat != quota.SeatPro || b.Available != 37_000*C {
			t.Fatalf("downgrade: %+v", b)
		}
		b = e.seat("lee", quota.SeatNone) // unassign: at the next reset, nothing revoked
		if b.Seat != quota.SeatMax || b.NextSeat != quota.SeatNone || b.Available != 37_000*C {
			t.Fatalf("unassign: %+v", b)
		}
		e.set(b.PeriodEnd)
		b = e.balance("lee")
		if b.Seat != quota.SeatNone || b.HasNext || b.Allocated != 0 || b.Available != 0 {
			t.Fatalf("after reset: %+v", b)
		}
		// An upgrade never lowers what is left.
		e.seat("mo", quota.SeatMax)
		b = e.seat("mo", quota.SeatPro)
		e.set(b.PeriodEnd.Add(-time.Second))
		b = e.seat("mo", quota.SeatMax) // cancels the pending downgrade
		if b.HasNext || b.Available != 40_000*C {
			t.Fatalf("cancelled downgrade: %+v", b)
		}
	})
}

func TestSweepReleasesExpiredHolds(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ned", quota.SeatPro)
		for range 5 {
			e.mustReserve("ned", 10*C)
		}
		e.advance(2 * time.Minute)
		st, err := e.svc.Sweep(e.ctx, 3)
		if err != nil || st.Released != 3 || st.ReleasedCredits != 30*C || st.Lag != time.Minute {
			t.Fatalf("sweep: %+v, %v", st, err)
		}
		st, err = e.svc.Sweep(e.ctx, 100)
		if err != nil || st.Released != 2 {
			t.Fatalf("second sweep: %+v, %v", st, err)
		}
		if b := e.balance("ned"); b.Held != 0 || b.Available != 8_000*C {
			t.Fatalf("after sweep: %+v", b)
		}
	})
}

func TestSidekickIsFree(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "seatless", Amount: 100 * C, Origin: quota.OriginSidekick})
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.Held != 0 {
			t.Fatalf("sidekick hold: %+v", o.Reservation)
		}
		x, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: o.Reservation.ID, AddAmount: 50 * C})
		if err != nil || x.Reservation.Held != 0 {
			t.Fatalf("extend of a free hold holds nothing: %+v, %v", x.Reservation, err)
		}
		c, err := e.commit(o.Reservation.ID, quota.AgentRun{AgentID: "sidekick",
			Models:  []quota.ModelUsage{{Model: "gpt-5", InputTokens: 1000}},
			Actions: []quota.ToolAction{{Tool: "data_retrieval"}}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Reservation.Charged != 0 || c.Reservation.Cost == nil || c.Reservation.Cost.TotalCost != 0 || len(c.Reservation.Cost.Root.Models) != 1 {
			t.Fatalf("sidekick commit: %+v", c.Reservation)
		}
	})
}

// TestConcurrentReservesNeverOverdraw reserves from 200 goroutines on one
// account: the holds never exceed the allocation and the invariant holds.
func TestConcurrentReservesNeverOverdraw(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("zed", quota.SeatPro) // 8,000 credits; 200 × 70 = 14,000 asked
		var (
			wg           sync.WaitGroup
			mu           sync.Mutex
			held, denied int64
			ids          []string
		)
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := e.reserve("zed", 70*C, 0)
				mu.Lock()
				defer mu.Unlock()
				var d *quota.Denial
				switch {
				case err == nil:
					held += o.Reservation.Held
					ids = append(ids, o.Reservation.ID)
				case asDenial(err, &d):
					denied++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		b := e.balance("zed")
		if held > 8_000*C || held != b.Held || b.Available != 8_000*C-held {
			t.Fatalf("held %d by %d holds, balance %+v", held, len(ids), b)
		}
		if len(ids) != 114 || denied != 86 {
			t.Errorf("%d holds and %d denials, want 114 and 86", len(ids), denied)
		}
		// Settle them concurrently too, half committed and half refunded.
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i%2 == 0 {
					_, err = e.commit(id, actions(1))
				} else {
					_, err = e.refund(id)
				}
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		b = e.balance("zed")
		if b.Held != 0 || b.Spent != 57*3*C {
			t.Fatalf("after settling: %+v", b)
		}
	})
}
