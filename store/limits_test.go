package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/redistest"
)

// digest fingerprints every key of the test's database and its value
// (redistest.Digest).
func (e *env) digest() string {
	e.t.Helper()
	d, err := redistest.Digest(context.Background(), e.rdb)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// wantLimit checks that err is the LIMIT_EXCEEDED error of limit l and
// that Redis is as it was (before is e.digest() before the call).
func (e *env) wantLimit(err error, l quota.Limit, before string) {
	e.t.Helper()
	var qe *quota.Error
	if !errors.As(err, &qe) || qe.Code != quota.CodeLimitExceeded || qe.Limit == nil || qe.Limit.Name != l.Name || qe.Field != l.Field {
		e.t.Fatalf("got %v, want the %s limit on %s", err, l.Name, l.Field)
	}
	if after := e.digest(); after != before {
		e.t.Fatalf("the refused request changed Redis")
	}
}

// agents is a usage tree of n agents, the main one and n-1 sub-agents.
func agents(name string, n int) quota.AgentRun {
	run := quota.AgentRun{AgentID: name}
	for i := 1; i < n; i++ {
		run.SubAgents = append(run.SubAgents, quota.AgentRun{AgentID: fmt.Sprintf("%s-%d", name, i)})
	}
	return run
}

func TestRunReservationsLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ada", quota.SeatMax)
		root := e.mustReserve("ada", 2_000*C)
		for i := range quota.MaxRunReservations - 1 {
			o, err := e.child(root.ID, C, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 { // the others stay held until the root voids them
				if _, err := e.commit(o.Reservation.ID, tokens("k", 0)); err != nil {
					t.Fatal(err)
				}
			} else {
				e.refund(o.Reservation.ID)
			}
		}
		if r := e.get(root.ID); r.RunReservations != quota.MaxRunReservations {
			t.Fatalf("run reservations = %d, want %d", r.RunReservations, quota.MaxRunReservations)
		}
		before := e.digest()
		_, err := e.child(root.ID, C, 0, false)
		e.wantLimit(err, quota.LimitRunReservations, before)
		o, err := e.commit(root.ID, tokens("main", 1))
		if err != nil || o.Reservation.Charged != C || o.Balance.Held != 0 {
			t.Fatalf("root commit of a full run: %+v, %v", o.Reservation, err)
		}
		e.invariant(o.Balance)
	})
}

func TestRunHeldLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("abe", quota.SeatMax)
		root := e.mustReserve("abe", 1_000*C)
		var last string
		for range quota.MaxRunHeld {
			last = e.mustChild(root.ID, C).ID
		}
		before := e.digest()
		_, err := e.child(root.ID, C, 0, false)
		e.wantLimit(err, quota.LimitRunHeld, before)
		// A grandchild counts too; once one child settles, there is room.
		_, err = e.child(last, C/2, 0, false)
		e.wantLimit(err, quota.LimitRunHeld, before)
		if _, err := e.commit(last, tokens("k", 1)); err != nil {
			t.Fatal(err)
		}
		e.mustChild(root.ID, C)
		// The root's Commit voids every held child in one call.
		o, err := e.commit(root.ID, tokens("main", 1))
		if err != nil || o.Reservation.Charged != 2*C || o.Balance.Held != 0 {
			t.Fatalf("root commit of a full run: %+v, %v", o.Reservation, err)
		}
		e.invariant(o.Balance)
	})
}

func TestRunDepthLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("bea", quota.SeatPro)
		id := e.mustReserve("bea", 100*C).ID
		for range quota.MaxDepth - 1 {
			id = e.mustChild(id, C).ID
		}
		before := e.digest()
		_, err := e.child(id, C, 0, false)
		e.wantLimit(err, quota.LimitRunDepth, before)
	})
}

func TestRunAgentsLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("cy", quota.SeatMax)
		root := e.mustReserve("cy", 100*C)
		per := quota.MaxNodes
		kids := make([]string, quota.MaxRunAgents/per+1)
		for i := range kids {
			kids[i] = e.mustChild(root.ID, C).ID
		}
		for i := 0; i < quota.MaxRunAgents/per; i++ {
			if _, err := e.commit(kids[i], agents(fmt.Sprintf("k%d", i), per)); err != nil {
				t.Fatalf("commit %d: %v", i, err)
			}
		}
		before := e.digest()
		_, err := e.commit(kids[len(kids)-1], agents("one-too-many", 1))
		e.wantLimit(err, quota.LimitRunAgents, before)
		// The root settles the run at its limit, with a usage tree of
		// the most agents one request may report.
		o, err := e.commit(root.ID, agents("main", quota.MaxNodes))
		if err != nil || o.Reservation.State != quota.StateCommitted {
			t.Fatalf("the root's Commit of a run at the agents limit: %+v, %v", o.Reservation, err)
		}
	})
}

// TestTheRootSettlesARunAtItsCostLimit: the children record 10^15
// µcredits, the run's limit; the root's own Commit still charges it all,
// its own cost too, exactly (a run costs at most 2 × 10^15).
func TestTheRootSettlesARunAtItsCostLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		// One token of "dear" costs 10^6 µcredits.
		if _, err := e.svc.SetPricing(e.ctx, e.id(), "test", quota.PriceTable{
			Models: []quota.ModelPrice{{Model: "dear", InputRate: 1_000_000_000_000}},
		}); err != nil {
			t.Fatal(err)
		}
		e.seat("dan", quota.SeatPro)
		root := e.mustReserve("dan", 10*C)
		kids := []string{e.mustChild(root.ID, C).ID, e.mustChild(root.ID, C).ID, e.mustChild(root.ID, C).ID}
		half := quota.AgentRun{AgentID: "half", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 500_000_000}}}
		for _, k := range kids[:2] {
			if _, err := e.commit(k, half); err != nil {
				t.Fatal(err)
			}
		}
		before := e.digest()
		_, err := e.commit(kids[2], quota.AgentRun{AgentID: "over", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 1}}})
		e.wantLimit(err, quota.LimitRunCost, before)
		own := quota.AgentRun{AgentID: "main", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 1_000_000_000}}}
		o, err := e.commit(root.ID, own)
		if err != nil {
			t.Fatalf("the root's Commit of a run at the cost limit: %v", err)
		}
		r := o.Reservation
		want := 2 * quota.MaxRunCost
		if r.Cost.TotalCost != want || r.Charged+r.Shortfall != want || r.Charged != 8_000*C {
			t.Fatalf("root commit: the run's cost %d, charged %d + shortfall %d; want %d = 8,000 credits + the rest",
				r.Cost.TotalCost, r.Charged, r.Shortfall, want)
		}
		e.invariant(o.Balance)
	})
}

// TestRunCostLimitIsExact commits a run up to 10^15 µcredits, exactly,
// against a member who cannot pay it: the charge and the shortfall add up
// to the cost to the µcredit, and one µcredit more is refused.
func TestRunCostLimitIsExact(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		// One token of "dear" costs 10^6 µcredits.
		if _, err := e.svc.SetPricing(e.ctx, e.id(), "test", quota.PriceTable{
			Models: []quota.ModelPrice{{Model: "dear", InputRate: 1_000_000_000_000}, {Model: "cheap", InputRate: 1}},
		}); err != nil {
			t.Fatal(err)
		}
		e.seat("dan", quota.SeatPro)
		root := e.mustReserve("dan", 10*C)
		kids := []string{e.mustChild(root.ID, C).ID, e.mustChild(root.ID, C).ID, e.mustChild(root.ID, C).ID}
		half := quota.AgentRun{AgentID: "half", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 500_000_000 - 1}}}
		for _, k := range kids[:2] {
			if _, err := e.commit(k, half); err != nil {
				t.Fatal(err)
			}
		}
		// 2 × (5·10^8 - 1) credits so far; 2·10^6 µcredits left under 10^15.
		before := e.digest()
		over := quota.AgentRun{AgentID: "over", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 2}, {Model: "cheap", InputTokens: 1_000_000}}}
		_, err := e.commit(kids[2], over) // 2·10^6 + 1 µcredits
		e.wantLimit(err, quota.LimitRunCost, before)
		if _, err := e.commit(kids[2], quota.AgentRun{AgentID: "last", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 1}}}); err != nil {
			t.Fatal(err)
		}
		o, err := e.commit(root.ID, quota.AgentRun{AgentID: "main", Models: []quota.ModelUsage{{Model: "dear", InputTokens: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		r := o.Reservation
		if r.Cost.TotalCost != quota.MaxRunCost || r.Charged+r.Shortfall != quota.MaxRunCost || r.Charged != 8_000*C {
			t.Fatalf("root commit: cost %d, charged %d + shortfall %d, want %d = 8,000 credits + the rest",
				r.Cost.TotalCost, r.Charged, r.Shortfall, quota.MaxRunCost)
		}
		e.invariant(o.Balance)
		// The usage buckets add the same numbers up exactly: by agent
		// and model, and the day's total (what was charged and left short).
		day := e.clock().UTC().Truncate(24 * time.Hour)
		agents, total := e.usage(quota.UsageByAgent, day, day.Add(24*time.Hour), 10)
		halfCost := int64(2 * (500_000_000 - 1) * 1_000_000)
		if g := agents["half"]; g.TokenCost != halfCost || g.Tokens != 2*(500_000_000-1) {
			t.Errorf("usage of agent half: %d µcredits, %d tokens; want %d, %d", g.TokenCost, g.Tokens, halfCost, 2*(500_000_000-1))
		}
		if total.Cost != quota.MaxRunCost || total.Charged+total.Shortfall != quota.MaxRunCost || total.Charged != 8_000*C {
			t.Errorf("usage total: cost %d, charged %d + shortfall %d; want %d = 8,000 credits + the rest",
				total.Cost, total.Charged, total.Shortfall, quota.MaxRunCost)
		}
	})
}

// TestPoolGrantsLimit fills a pool with quota.MaxPoolGrants live grants
// of 1 µcredit each: a spender's Reserve draws from every one of them in
// one call, its reservation within 512 bytes; one grant more, added or
// credited by an operator, is refused and changes nothing; a voided grant
// makes room again, and so does a grant that expired, in the very call
// that adds one (no sweeper runs here).
func TestPoolGrantsLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		// A first call that opens the workspace starts its period (the
		// workspace record and a ledger entry): not part of what is checked.
		e.seat("ada", quota.SeatMax)
		var first quota.Grant
		for i := range quota.MaxPoolGrants {
			expiry := yearEnd
			if i == 1 {
				expiry = e.clock().Add(time.Hour)
			}
			g := e.grant(1, 0, expiry)
			if i == 0 {
				first = g
			}
		}
		before := e.digest()
		_, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp, Amount: C, Expiry: yearEnd})
		e.wantLimit(err, quota.LimitPoolGrants, before)
		_, err = e.adjust("", C, "a pool credit past the grants limit")
		e.wantLimit(err, quota.LimitPoolGrants, before)

		o, err := e.spend("key-1", quota.MaxPoolGrants, 0)
		if err != nil || o.Reservation.Held != quota.MaxPoolGrants {
			t.Fatalf("a draw from %d grants: %+v, %v", quota.MaxPoolGrants, o.Reservation, err)
		}
		ref, _ := quota.ParseReservationID(o.Reservation.ID)
		if size, err := e.rdb.MemoryUsage(e.ctx, "q:{ws:ws1}:res:"+ref.Hex, 0).Result(); err == nil && size > 512 {
			t.Errorf("a reservation drawn from %d grants takes %d bytes, want at most 512", quota.MaxPoolGrants, size)
		}
		// Drawn empty, the grants are still live: still no room.
		before = e.digest()
		_, err = e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp, Amount: C, Expiry: yearEnd})
		e.wantLimit(err, quota.LimitPoolGrants, before)

		if _, err := e.svc.VoidGrant(e.ctx, e.id(), "ws1", first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp, Amount: C, Expiry: yearEnd}); err != nil {
			t.Fatalf("AddGrant after a void made room: %v", err)
		}
		e.advance(2 * time.Hour)
		if _, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp, Amount: C, Expiry: yearEnd}); err != nil {
			t.Fatalf("AddGrant once a grant expired: %v", err)
		}
		e.pool()
	})
}
