package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
)

// child reserves amount (at least min) under parent.
func (e *env) child(parent string, amount, min int64, topUp bool) (quota.Outcome, error) {
	return e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: parent,
		Amount: amount, Min: min, AllowTopUp: topUp, TTL: time.Minute})
}

func (e *env) mustChild(parent string, amount int64) quota.Reservation {
	e.t.Helper()
	o, err := e.child(parent, amount, 0, false)
	if err != nil {
		e.t.Fatalf("child of %s: %v", parent, err)
	}
	e.invariant(o.Balance)
	return o.Reservation
}

// runCost reads the run of id's cost with ListRunCosts, two entries a
// page, and nests it as one tree.
func (e *env) runCost(id string) quota.RunCost {
	e.t.Helper()
	var all []quota.RunCostEntry
	token := ""
	for range 1000 {
		page, next, err := e.svc.ListRunCosts(e.ctx, "ws1", id, 2, token)
		if err != nil {
			e.t.Fatalf("ListRunCosts(%s): %v", id, err)
		}
		all = append(all, page...)
		if next == "" {
			return quota.NestRun(all)
		}
		token = next
	}
	e.t.Fatal("ListRunCosts did not end")
	return quota.RunCost{}
}

func (e *env) get(id string) quota.Reservation {
	e.t.Helper()
	r, err := e.svc.GetReservation(e.ctx, "ws1", id)
	if err != nil {
		e.t.Fatalf("GetReservation(%s): %v", id, err)
	}
	return r
}

// tokens is a run of one agent that costs exactly n credits of tokens.
func tokens(agent string, n int64) quota.AgentRun {
	// gpt-5-mini: 25 credits per million input tokens.
	return quota.AgentRun{AgentID: agent, Models: []quota.ModelUsage{{Model: "gpt-5-mini", InputTokens: n * 40_000}}}
}

func TestChildCarvesOutOfParent(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ada", quota.SeatPro)
		root := e.mustReserve("ada", 100*C)
		kid := e.mustChild(root.ID, 30*C)
		if kid.ParentID != root.ID || kid.RootID != root.ID || kid.MemberID != "ada" || kid.Held != 30*C || kid.Origin != quota.OriginConversation {
			t.Fatalf("child: %+v", kid)
		}
		if r := e.get(root.ID); r.Held != 70*C {
			t.Fatalf("parent after carving: %+v", r)
		}
		if b := e.balance("ada"); b.Held != 100*C {
			t.Fatalf("carving changed the balance: %+v", b)
		}
		grand := e.mustChild(kid.ID, 10*C)
		if grand.RootID != root.ID || grand.ParentID != kid.ID {
			t.Fatalf("grandchild: %+v", grand)
		}
		_, err := e.child(root.ID, 80*C, 0, false)
		if d := wantDenied(t, err, quota.ReasonParentHoldExhausted); d.Available != 70*C {
			t.Fatalf("denial: %+v", d)
		}
		o, err := e.child(root.ID, 80*C, 0, true) // 70 carved, 10 topped up
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.Held != 80*C || o.Balance.Held != 110*C {
			t.Fatalf("top-up: %+v %+v", o.Reservation, o.Balance)
		}
		if _, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: root.ID, MemberID: "bob", Amount: C}); err == nil {
			t.Fatal("a child for another member was accepted")
		}
		if _, err := e.child("c_00000000000000000000000000000000", C, 0, false); !errors.Is(err, quota.ErrParentNotFound) {
			t.Fatalf("unknown parent: %v", err)
		}
	})
}

func TestChildCommitIsRecordedAndRootSettlesTheTree(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("bea", quota.SeatPro)
		root := e.mustReserve("bea", 100*C)
		kid := e.mustChild(root.ID, 40*C)
		open := e.mustChild(root.ID, 20*C)
		c, err := e.commit(kid.ID, tokens("researcher", 25))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Reservation.Recorded || c.Reservation.Charged != 0 || c.Reservation.Cost.TotalCost != 25*C || c.Balance.Spent != 0 {
			t.Fatalf("child commit: %+v", c.Reservation)
		}
		if r := e.get(root.ID); r.Held != 80*C {
			t.Fatalf("root after the child's commit: held %d", r.Held)
		}
		o, err := e.commit(root.ID, tokens("main", 10))
		if err != nil {
			t.Fatal(err)
		}
		got := o.Reservation
		if got.Charged != 35*C || got.ChargedFromHold != 35*C || got.Released != 65*C || o.Balance.Spent != 35*C || o.Balance.Held != 0 {
			t.Fatalf("root commit: %+v %+v", got, o.Balance)
		}
		if got.Cost.TotalCost != 35*C || got.Cost.Root.OwnCost != 10*C || got.Cost.Recorded.TotalCost != 25*C || len(got.Cost.Root.SubAgents) != 0 {
			t.Fatalf("root's cost: %+v", got.Cost)
		}
		if c := e.runCost(root.ID); c.TotalCost != 35*C || c.Root.OwnCost != 10*C || len(c.Root.SubAgents) != 1 || c.Root.SubAgents[0].AgentID != "researcher" {
			t.Fatalf("the run's cost, nested: %+v", c)
		}
		if o := e.get(open.ID); o.State != quota.StateRefunded || o.Held != 0 {
			t.Fatalf("open child after the root's commit: %+v", o)
		}
		if _, err := e.commit(open.ID, tokens("late", 1)); err == nil {
			t.Fatal("a voided child was committed")
		}
		if diff := cmp.Diff(got, e.get(root.ID)); diff != "" {
			t.Errorf("GetReservation of the root (-commit +get):\n%s", diff)
		}
	})
}

func TestRefundOfTheRootVoidsTheRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("cy", quota.SeatPro)
		root := e.mustReserve("cy", 100*C)
		kid := e.mustChild(root.ID, 40*C)
		grand := e.mustChild(kid.ID, 10*C)
		if _, err := e.commit(grand.ID, tokens("g", 5)); err != nil {
			t.Fatal(err)
		}
		o, err := e.refund(root.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Balance.Spent != 0 || o.Balance.Held != 0 || o.Balance.Available != 8_000*C {
			t.Fatalf("after refunding the root: %+v", o.Balance)
		}
		if k := e.get(kid.ID); k.State != quota.StateRefunded {
			t.Fatalf("child: %+v", k)
		}
		// A child refund returns its hold to the parent.
		root2 := e.mustReserve("cy", 50*C)
		kid2 := e.mustChild(root2.ID, 20*C)
		if _, err := e.refund(kid2.ID); err != nil {
			t.Fatal(err)
		}
		if r := e.get(root2.ID); r.Held != 50*C {
			t.Fatalf("parent after a child's refund: %+v", r)
		}
	})
}

func TestChildDeadlineAndExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("dee", quota.SeatPro)
		root := e.mustReserve("dee", 100*C) // deadline in 1 minute
		o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: root.ID, Amount: 30 * C, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if !o.Reservation.Deadline.Equal(root.Deadline) {
			t.Fatalf("child deadline %s, want the parent's %s", o.Reservation.Deadline, root.Deadline)
		}
		short, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: root.ID, Amount: 20 * C, TTL: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		e.advance(20 * time.Second) // the short child expires: its hold goes back to the root
		if r := e.get(root.ID); r.Held != 70*C {
			t.Fatalf("root after its child expired: held %d", r.Held)
		}
		if s := e.get(short.Reservation.ID); s.State != quota.StateExpired {
			t.Fatalf("short child: %+v", s)
		}
		e.advance(time.Minute) // the root expires, and the run with it
		if b := e.balance("dee"); b.Held != 0 || b.Available != 8_000*C {
			t.Fatalf("after the root expired: %+v", b)
		}
		if k := e.get(o.Reservation.ID); k.State != quota.StateExpired {
			t.Fatalf("child after the root expired: %+v", k)
		}
		// A late commit of the expired child charges it directly.
		c, err := e.commit(o.Reservation.ID, tokens("late", 5))
		if err != nil {
			t.Fatal(err)
		}
		if c.Reservation.Recorded || c.Reservation.Charged != 5*C || c.Balance.Spent != 5*C {
			t.Fatalf("late child commit: %+v", c.Reservation)
		}
	})
}

// TestRunCapStopsAtTheCap: the call that would pass the cap is refused, not
// the one after it.
func TestRunCapStopsAtTheCap(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("eve", quota.SeatMax)
		o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "eve",
			Amount: 500 * C, Origin: quota.OriginConversation, TTL: time.Hour, RunTokenCap: 100 * C, HasRunTokenCap: true})
		if err != nil {
			t.Fatal(err)
		}
		root := o.Reservation
		if !root.HasRunTokenCap || root.RunTokenCap != 100*C {
			t.Fatalf("root: %+v", root)
		}
		spend := func(tok int64) {
			t.Helper()
			k := e.mustChild(root.ID, tok*C)
			run := tokens("sub", tok)
			run.Actions = []quota.ToolAction{{Tool: "data_retrieval"}} // actions do not count
			if _, err := e.commit(k.ID, run); err != nil {
				t.Fatal(err)
			}
		}
		spend(60)
		spend(30)
		if r := e.get(root.ID); r.RunTokenSpent != 90*C {
			t.Fatalf("run token spend: %d", r.RunTokenSpent)
		}
		wantDenied(t, func() error { _, err := e.child(root.ID, 11*C, 0, false); return err }(), quota.ReasonRunCapReached)
		_, err = e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: root.ID, AddAmount: 11 * C})
		wantDenied(t, err, quota.ReasonRunCapReached)
		o, err = e.child(root.ID, 20*C, 5*C, false) // gets what fits
		if err != nil || o.Reservation.Held != 10*C {
			t.Fatalf("child with a minimum under the cap: %+v, %v", o.Reservation, err)
		}
		if _, err := e.commit(o.Reservation.ID, tokens("last", 10)); err != nil { // exactly at the cap
			t.Fatal(err)
		}
		wantDenied(t, func() error { _, err := e.child(root.ID, 1, 0, false); return err }(), quota.ReasonRunCapReached)
	})
}

// TestConcurrentChildrenNeverExceedTheParent carves 60 children of 7
// credits at once out of a 100-credit hold.
func TestConcurrentChildrenNeverExceedTheParent(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("fox", quota.SeatPro)
		root := e.mustReserve("fox", 100*C)
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			carved int64
			n      int
		)
		for range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := e.child(root.ID, 7*C, 0, false)
				mu.Lock()
				defer mu.Unlock()
				var d *quota.Denial
				switch {
				case err == nil:
					carved += o.Reservation.Held
					n++
				case asDenial(err, &d) && d.Reason == quota.ReasonParentHoldExhausted:
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		r := e.get(root.ID)
		if n != 14 || carved != 98*C || r.Held != 2*C {
			t.Fatalf("%d children carved %d; the root holds %d", n, carved, r.Held)
		}
		if b := e.balance("fox"); b.Held != 100*C {
			t.Fatalf("balance: %+v", b)
		}
	})
}

// node is one reservation of a random run and its usage.
type node struct {
	id     string
	parent int // index in the run, -1 for the root
	usage  quota.AgentRun
	kids   []int
}

// randomRun builds a random tree of up to 12 reservations with usage.
func randomRun(rng *rand.Rand) []*node {
	n := 1 + rng.IntN(12)
	run := make([]*node, n)
	for i := range n {
		parent := -1
		if i > 0 {
			parent = rng.IntN(i)
			run[parent].kids = append(run[parent].kids, i)
		}
		u := quota.AgentRun{AgentID: fmt.Sprintf("agent-%d", i)}
		for range rng.IntN(3) {
			u.Models = append(u.Models, quota.ModelUsage{Model: []string{"gpt-5-mini", "claude-sonnet-4-5", "mystery"}[rng.IntN(3)],
				InputTokens: rng.Int64N(30_000), OutputTokens: rng.Int64N(5_000)})
		}
		for range rng.IntN(3) {
			u.Actions = append(u.Actions, quota.ToolAction{Tool: []string{"web_search", "data_retrieval", "agent_router"}[rng.IntN(3)]})
		}
		run[i] = &node{parent: parent, usage: u}
	}
	return run
}

// combined is the run's usage as one tree: each child's usage nested
// under its parent's main agent, in the order the children were reserved.
func combined(run []*node, i int) quota.AgentRun {
	u := run[i].usage
	u.SubAgents = append([]quota.AgentRun(nil), u.SubAgents...)
	for _, k := range run[i].kids {
		u.SubAgents = append(u.SubAgents, combined(run, k))
	}
	return u
}

// TestRandomRunsEqualOneTree settles random runs in random orders (each
// child before its parent) and compares with the same usage committed as
// one tree by another member with the same credits.
func TestRandomRunsEqualOneTree(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		rng := rand.New(rand.NewPCG(7, 11))
		for trial := range 25 {
			run := randomRun(rng)
			tree, one := fmt.Sprintf("t%d", trial), fmt.Sprintf("o%d", trial)
			e.seat(tree, quota.SeatFree) // 500 credits: some runs end in a shortfall
			e.seat(one, quota.SeatFree)
			hold := rng.Int64N(200) * C
			rootHold := e.mustReserve(tree, hold+C)
			run[0].id = rootHold.ID
			// Each child takes up to half of what its parent still has free,
			// so that every child fits.
			free := map[int]int64{0: hold + C}
			for i := 1; i < len(run); i++ {
				p := run[i].parent
				amount := rng.Int64N(free[p]/2) + 1
				o, err := e.child(run[p].id, amount, 0, false)
				if err != nil {
					t.Fatalf("child %d of %d (%d of %d free): %v", i, p, amount, free[p], err)
				}
				free[p] -= amount
				free[i] = amount
				run[i].id = o.Reservation.ID
			}
			// A random order in which every child settles before its parent.
			order := rng.Perm(len(run) - 1)
			done := make([]bool, len(run))
			var settle func(i int)
			settle = func(i int) {
				if done[i] {
					return
				}
				for _, k := range run[i].kids {
					settle(k)
				}
				done[i] = true
				if _, err := e.commit(run[i].id, run[i].usage); err != nil {
					t.Fatalf("commit %d: %v", i, err)
				}
			}
			for _, i := range order {
				settle(i + 1)
			}
			got, err := e.commit(run[0].id, run[0].usage)
			if err != nil {
				t.Fatal(err)
			}
			oneHold := e.mustReserve(one, hold+C)
			want, err := e.commit(oneHold.ID, combined(run, 0))
			if err != nil {
				t.Fatal(err)
			}
			g, w := got.Reservation, want.Reservation
			if g.Charged != w.Charged || g.Shortfall != w.Shortfall || g.ChargedFromHold != w.ChargedFromHold || g.Released != w.Released {
				t.Fatalf("trial %d (%d reservations): run charged %d (hold %d, shortfall %d, released %d); one tree %d (%d, %d, %d)",
					trial, len(run), g.Charged, g.ChargedFromHold, g.Shortfall, g.Released, w.Charged, w.ChargedFromHold, w.Shortfall, w.Released)
			}
			if g.Cost.TokenCost != w.Cost.TokenCost || g.Cost.ActionCost != w.Cost.ActionCost || g.Cost.TotalCost != w.Cost.TotalCost {
				t.Fatalf("trial %d: the root's totals %+v, one tree %+v", trial, g.Cost, w.Cost)
			}
			if diff := cmp.Diff(*w.Cost, e.runCost(run[0].id)); diff != "" {
				t.Fatalf("trial %d: cost of the run (-one tree +run):\n%s", trial, diff)
			}
			t.Logf("trial %d: %d reservations, charged %d, shortfall %d", trial, len(run), g.Charged, g.Shortfall)
			gb, wb := e.balance(tree), e.balance(one)
			if gb.Spent != wb.Spent || gb.Available != wb.Available || gb.Held != 0 {
				t.Fatalf("trial %d: balances: run %+v, one tree %+v", trial, gb, wb)
			}
		}
	})
}

// reserveFor reserves under parent (or a root for member when parent is
// "") with a TTL.
func (e *env) reserveFor(member, parent string, amount int64, ttl time.Duration) quota.Reservation {
	e.t.Helper()
	req := quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: parent, Amount: amount, TTL: ttl}
	if parent == "" {
		req.MemberID, req.Origin = member, quota.OriginConversation
	}
	o, err := e.svc.Reserve(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Reserve(%s under %q): %v", member, parent, err)
	}
	e.invariant(o.Balance)
	return o.Reservation
}

// TestExpiryUpTheTreeKeepsTheBooks: a middle node whose child expired into
// it and which then expired itself keeps nothing (a review found it kept
// a stale hold and recorded cost, then charged them twice).
func TestExpiryUpTheTreeKeepsTheBooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("gil", quota.SeatPro)
		root := e.reserveFor("gil", "", 100*C, time.Hour)
		mid := e.reserveFor("gil", root.ID, 50*C, 10*time.Second)
		leaf := e.reserveFor("gil", mid.ID, 50*C, 5*time.Second)
		grand := e.reserveFor("gil", leaf.ID, 20*C, 5*time.Second)
		if _, err := e.commit(grand.ID, tokens("g", 7)); err != nil {
			t.Fatal(err)
		}
		e.advance(11 * time.Second) // leaf, then mid, expire into the root
		if r := e.get(root.ID); r.Held != 100*C {
			t.Fatalf("root: held %d", r.Held)
		}
		if m := e.get(mid.ID); m.State != quota.StateExpired || m.Held != 0 {
			t.Fatalf("mid after expiring: %+v", m)
		}
		if _, err := e.commit(mid.ID, tokens("mid", 3)); err != nil { // late: recorded under the root
			t.Fatal(err)
		}
		o, err := e.commit(root.ID, tokens("main", 1))
		if err != nil {
			t.Fatal(err)
		}
		e.invariant(o.Balance)
		if o.Reservation.Charged != 11*C || o.Balance.Held != 0 || o.Balance.Spent != 11*C {
			t.Fatalf("root commit: charged %d, balance %+v", o.Reservation.Charged, o.Balance)
		}
		// The run's cost shows what was charged: the grandchild's cost rose
		// past the expired leaf to the mid reservation.
		if c := o.Reservation.Cost; c.TotalCost != 11*C || c.Recorded.TotalCost != 10*C || c.Root.OwnCost != C {
			t.Fatalf("root's cost: %+v", c)
		}
		c := e.runCost(root.ID)
		if c.TotalCost != 11*C || len(c.Root.SubAgents) != 1 || c.Root.SubAgents[0].AgentID != "mid" ||
			len(c.Root.SubAgents[0].SubAgents) != 1 || c.Root.SubAgents[0].SubAgents[0].AgentID != "g" {
			t.Fatalf("cost: %+v", c)
		}
	})
}

// TestChildAfterASiblingExpired: carving right after a sibling expired into
// the parent (a review found the parent's hold left unwritten).
func TestChildAfterASiblingExpired(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("hal", quota.SeatPro)
		root := e.reserveFor("hal", "", 100*C, time.Hour)
		e.reserveFor("hal", root.ID, 30*C, 10*time.Second)
		other := e.reserveFor("hal", root.ID, 10*C, time.Minute)
		e.advance(11 * time.Second)
		e.reserveFor("hal", root.ID, 30*C, time.Minute)
		if _, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: other.ID, AddAmount: 30 * C}); err != nil {
			t.Fatal(err)
		}
		if r := e.get(root.ID); r.Held != 30*C {
			t.Fatalf("root: held %d, want 30 credits", r.Held)
		}
		o, err := e.refund(root.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.invariant(o.Balance)
		if o.Balance.Held != 0 || o.Balance.Available != 8_000*C || o.Reservation.Released != 100*C {
			t.Fatalf("after refunding the run: %+v %+v", o.Reservation, o.Balance)
		}
	})
}

// TestRunCapCountsOpenChildren: two children may not hold the cap twice
// over.
func TestRunCapCountsOpenChildren(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ida", quota.SeatMax)
		o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "ida",
			Amount: 500 * C, Origin: quota.OriginConversation, TTL: time.Hour, RunTokenCap: 100 * C, HasRunTokenCap: true})
		if err != nil {
			t.Fatal(err)
		}
		e.mustChild(o.Reservation.ID, 60*C)
		wantDenied(t, func() error { _, err := e.child(o.Reservation.ID, 50*C, 0, false); return err }(), quota.ReasonRunCapReached)
		k, err := e.child(o.Reservation.ID, 50*C, 1, false)
		if err != nil || k.Reservation.Held != 40*C {
			t.Fatalf("what fits: %+v, %v", k.Reservation, err)
		}
	})
}

// TestOutcomeCarvedIsWhatMovedFromAnAncestor checks Outcome.Carved (which
// quota_reserved_microcredits_total subtracts): what a child's Reserve or
// Extend moved from an ancestor's hold, 0 for a root, a replay or any
// other call.
func TestOutcomeCarvedIsWhatMovedFromAnAncestor(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatMax)
		rootOut, err := e.reserve("ann", 10*C, 0)
		if err != nil {
			t.Fatal(err)
		}
		if rootOut.Carved != 0 {
			t.Errorf("a root Reserve: carved %d", rootOut.Carved)
		}
		root := rootOut.Reservation.ID
		childReq := quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: root, Amount: 4 * C, TTL: time.Minute}
		o, err := e.svc.Reserve(e.ctx, childReq)
		if err != nil {
			t.Fatal(err)
		}
		if o.Carved != 4*C || o.Reservation.Held != 4*C {
			t.Errorf("a child of 4 credits: carved %d, held %d", o.Carved, o.Reservation.Held)
		}
		child := o.Reservation.ID
		if again, err := e.svc.Reserve(e.ctx, childReq); err != nil || !again.Replayed || again.Carved != 0 {
			t.Errorf("the child's Reserve replayed: replayed %v, carved %d, err %v", again.Replayed, again.Carved, err)
		}
		// The root has 6 credits free: an Extend of 8 carves 6 and draws 2.
		ext := quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: child, AddAmount: 8 * C}
		o, err = e.svc.Extend(e.ctx, ext)
		if err != nil {
			t.Fatal(err)
		}
		if o.Carved != 6*C || o.Added != 8*C || o.Reservation.Held != 12*C {
			t.Errorf("an Extend of 8 credits: carved %d, added %d, held %d; want 6, 8 and 12 credits", o.Carved, o.Added, o.Reservation.Held)
		}
		if again, err := e.svc.Extend(e.ctx, ext); err != nil || !again.Replayed || again.Carved != 0 {
			t.Errorf("the Extend replayed: replayed %v, carved %d, err %v", again.Replayed, again.Carved, err)
		}
		// The root is empty now: a child with a top-up draws it all.
		o, err = e.child(root, 3*C, 0, true)
		if err != nil || o.Carved != 0 || o.Reservation.Held != 3*C {
			t.Errorf("a topped-up child of an empty root: carved %d, held %d, err %v", o.Carved, o.Reservation.Held, err)
		}
		if o, err := e.commit(child, actions(1)); err != nil || o.Carved != 0 {
			t.Errorf("a Commit: carved %d, err %v", o.Carved, err)
		}
	})
}
