package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
)

// grant adds a top-up grant to ws1 that is live now.
func (e *env) grant(amount, priority int64, expiry time.Time) quota.Grant {
	e.t.Helper()
	g, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp,
		Amount: amount, Priority: priority, Expiry: expiry})
	if err != nil {
		e.t.Fatalf("AddGrant: %v", err)
	}
	return g
}

func (e *env) policy(p quota.Policy) {
	e.t.Helper()
	if _, err := e.svc.SetPolicy(e.ctx, e.id(), "ws1", p); err != nil {
		e.t.Fatalf("SetPolicy: %v", err)
	}
}

func (e *env) memberCap(member string, c quota.MemberCap) quota.Balance {
	e.t.Helper()
	b, err := e.svc.SetMemberPoolCap(e.ctx, e.id(), "ws1", member, c)
	if err != nil {
		e.t.Fatalf("SetMemberPoolCap: %v", err)
	}
	return b
}

func (e *env) spend(spender string, amount, min int64) (quota.Outcome, error) {
	return e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", SpenderID: spender,
		Amount: amount, Min: min, Origin: quota.OriginAutomation, TTL: time.Minute})
}

// pool reads the workspace balance and checks the pool's invariant.
func (e *env) pool() quota.WorkspaceBalance {
	e.t.Helper()
	wb, err := e.svc.GetWorkspaceBalance(e.ctx, "ws1")
	if err != nil {
		e.t.Fatalf("GetWorkspaceBalance: %v", err)
	}
	p := wb.Pool
	if p.Granted != p.Available+p.Pending+p.Held+p.Spent+p.Forfeited {
		e.t.Fatalf("pool invariant broken: granted %d != available %d + pending %d + held %d + spent %d + forfeited %d",
			p.Granted, p.Available, p.Pending, p.Held, p.Spent, p.Forfeited)
	}
	if p.Available < 0 || p.Held < 0 || wb.OverageHeld < 0 || wb.ProgrammaticHeld < 0 {
		e.t.Fatalf("negative workspace balance: %+v", wb)
	}
	return wb
}

func wantDenied(t *testing.T, err error, reason string) *quota.Denial {
	t.Helper()
	d, ok := quota.AsDenial(err)
	if !ok || d.Reason != reason {
		t.Fatalf("got %v, want a %s denial", err, reason)
	}
	return d
}

// asDenial sets *d to err's denial, if it is one.
func asDenial(err error, d **quota.Denial) bool {
	x, ok := quota.AsDenial(err)
	*d = x
	return ok
}

var yearEnd = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)

func TestPoolDrawOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		late := e.grant(100*C, 0, yearEnd)                                      // g1
		early := e.grant(100*C, 0, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) // g2: earlier expiry
		high := e.grant(100*C, 5, yearEnd)                                      // g3: higher priority
		twin := e.grant(100*C, 0, yearEnd)                                      // g4: as g1, but newer
		e.seat("pam", quota.SeatPro)
		o, err := e.reserve("pam", 8_350*C, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []quota.SourceAmount{
			{Source: quota.SourceSeat, Amount: 8_000 * C},
			{Source: quota.SourcePool, GrantID: high.ID, Amount: 100 * C},
			{Source: quota.SourcePool, GrantID: early.ID, Amount: 100 * C},
			{Source: quota.SourcePool, GrantID: late.ID, Amount: 100 * C},
			{Source: quota.SourcePool, GrantID: twin.ID, Amount: 50 * C},
		}
		if diff := cmp.Diff(want, o.Reservation.HeldFrom); diff != "" {
			t.Errorf("held from (-want +got):\n%s", diff)
		}
		// Commit 8,100 credits: from the hold in the order it was drawn; the
		// rest goes back to the grants it came from.
		c, err := e.commit(o.Reservation.ID, actions(2700))
		if err != nil {
			t.Fatal(err)
		}
		want = []quota.SourceAmount{
			{Source: quota.SourceSeat, Amount: 8_000 * C},
			{Source: quota.SourcePool, GrantID: high.ID, Amount: 100 * C},
		}
		if diff := cmp.Diff(want, c.Reservation.ChargedFrom); diff != "" {
			t.Errorf("charged from (-want +got):\n%s", diff)
		}
		wb := e.pool()
		if wb.Pool.Available != 300*C || wb.Pool.Spent != 100*C || wb.Pool.Held != 0 {
			t.Errorf("pool after commit: %+v", wb.Pool)
		}
		if b := e.balance("pam"); b.PoolUsed != 100*C || b.Spendable != 300*C {
			t.Errorf("member after commit: pool used %d spendable %d", b.PoolUsed, b.Spendable)
		}
	})
}

func TestSeatCreditsNeverBlockedByEmptyPool(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.policy(quota.Policy{HasDefaultPoolCap: true, DefaultPoolCap: 0})
		e.seat("quinn", quota.SeatPro)
		if _, err := e.reserve("quinn", 8_000*C, 0); err != nil {
			t.Fatalf("seat credits blocked by an empty pool: %v", err)
		}
	})
}

func TestFreeSeatNeverDrawsFromPool(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(10_000*C, 0, yearEnd)
		e.seat("rae", quota.SeatFree)
		b := e.balance("rae")
		if b.Spendable != 500*C || b.Sources[2].Available != 0 {
			t.Fatalf("free seat sees the pool: %+v", b)
		}
		wantDenied(t, func() error { _, err := e.reserve("rae", 600*C, 0); return err }(), quota.ReasonCreditsExhausted)
		o, err := e.reserve("rae", 600*C, 500*C)
		if err != nil || o.Reservation.Held != 500*C {
			t.Fatalf("partial hold: %+v, %v", o.Reservation, err)
		}
	})
}

func TestPoolCapEdges(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(10_000*C, 0, yearEnd)
		e.policy(quota.Policy{HasDefaultPoolCap: true, DefaultPoolCap: 100 * C, Pooled: true})
		b := e.seat("sal", quota.SeatPro) // pooled: no seat credits
		if b.Allocated != 0 || b.Spendable != 100*C || !b.HasPoolCap || b.PoolCap != 100*C {
			t.Fatalf("pooled member: %+v", b)
		}
		r1, err := e.reserve("sal", 60*C, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.reserve("sal", 40*C, 0); err != nil { // the cap reached exactly
			t.Fatalf("up to the cap: %v", err)
		}
		d := wantDenied(t, func() error { _, err := e.reserve("sal", 1, 0); return err }(), quota.ReasonPoolCapReached)
		if d.Available != 0 {
			t.Errorf("available at the cap: %d", d.Available)
		}
		// A refund gives the room back; a commit keeps what it spent.
		if _, err := e.commit(r1.Reservation.ID, actions(10)); err != nil { // 30 of 60
			t.Fatal(err)
		}
		if b := e.balance("sal"); b.Spendable != 30*C || b.PoolUsed != 70*C {
			t.Fatalf("after commit: spendable %d pool used %d", b.Spendable, b.PoolUsed)
		}
		// Overrides: 0 is no access, unset falls back to the default.
		b = e.memberCap("sal", quota.MemberCap{Set: true, Cap: 0})
		if b.PoolCap != 0 || !b.HasPoolCap || b.Spendable != 0 {
			t.Fatalf("override 0: %+v", b)
		}
		wantDenied(t, func() error { _, err := e.reserve("sal", 1, 0); return err }(), quota.ReasonPoolCapReached)
		b = e.memberCap("sal", quota.MemberCap{Set: true, Unlimited: true})
		if b.HasPoolCap || b.Spendable != 10_000*C-70*C {
			t.Fatalf("override unlimited: %+v", b)
		}
		b = e.memberCap("sal", quota.MemberCap{})
		if b.PoolCap != 100*C || b.Spendable != 30*C {
			t.Fatalf("override cleared: %+v", b)
		}
		// The cap is per period: after the reset the member draws again.
		e.set(b.PeriodEnd)
		if b := e.balance("sal"); b.Spendable != 100*C || b.PoolUsed != 0 {
			t.Fatalf("after reset: %+v", b)
		}
		e.pool()
	})
}

func TestOverage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(100*C, 0, yearEnd)
		e.policy(quota.Policy{OverageEnabled: true, OverageCap: 50 * C, Pooled: true})
		e.seat("ted", quota.SeatMax)
		o, err := e.reserve("ted", 200*C, 1)
		if err != nil {
			t.Fatal(err)
		}
		g := o.Reservation.HeldFrom
		if len(g) != 2 || g[0].Source != quota.SourcePool || g[0].Amount != 100*C || g[1].Source != quota.SourceOverage || g[1].Amount != 50*C {
			t.Fatalf("held from: %+v", g)
		}
		wantDenied(t, func() error { _, err := e.reserve("ted", 1, 0); return err }(), quota.ReasonCreditsExhausted)
		// Commit 180 credits: 150 from the hold, 30 nobody can pay.
		c, err := e.commit(o.Reservation.ID, actions(60))
		if err != nil {
			t.Fatal(err)
		}
		if c.Reservation.Charged != 150*C || c.Reservation.Shortfall != 30*C {
			t.Fatalf("commit beyond every source: %+v", c.Reservation)
		}
		wb := e.pool()
		if wb.OverageUsed != 50*C || wb.OverageHeld != 0 || wb.Pool.Spent != 100*C {
			t.Fatalf("workspace: %+v", wb)
		}
		// Overage off: nothing more.
		e.policy(quota.Policy{Pooled: true})
		if b := e.balance("ted"); b.Spendable != 0 {
			t.Fatalf("spendable with overage off: %d", b.Spendable)
		}
	})
}

func TestProgrammaticUsage(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		wantDenied(t, func() error { _, err := e.spend("key-1", C, 0); return err }(), quota.ReasonCreditsExhausted)
		e.grant(1_000*C, 0, yearEnd)
		e.policy(quota.Policy{HasProgrammaticCap: true, ProgrammaticCap: 300 * C, OverageEnabled: true, OverageCap: 1_000 * C})
		o, err := e.spend("key-1", 200*C, 0)
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.SpenderID != "key-1" || o.Reservation.MemberID != "" || o.Reservation.Held != 200*C {
			t.Fatalf("programmatic hold: %+v", o.Reservation)
		}
		d := wantDenied(t, func() error { _, err := e.spend("trigger-9", 150*C, 0); return err }(), quota.ReasonProgrammaticCapReached)
		if d.Available != 100*C || d.SpenderID != "trigger-9" {
			t.Fatalf("denial: %+v", d)
		}
		if _, err := e.commit(o.Reservation.ID, actions(50)); err != nil { // 150 credits
			t.Fatal(err)
		}
		wb := e.pool()
		if wb.ProgrammaticUsed != 150*C || wb.ProgrammaticHeld != 0 || wb.Pool.Spent != 150*C {
			t.Fatalf("workspace: %+v", wb)
		}
		// Past the pool, programmatic usage goes to overage, within its cap.
		e.policy(quota.Policy{OverageEnabled: true, OverageCap: 1_000 * C})
		o, err = e.spend("key-1", 900*C, 0)
		if err != nil {
			t.Fatal(err)
		}
		if o.Reservation.HeldFrom[len(o.Reservation.HeldFrom)-1].Source != quota.SourceOverage {
			t.Fatalf("held from: %+v", o.Reservation.HeldFrom)
		}
		if _, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "m", SpenderID: "k", Amount: C, Origin: quota.OriginAutomation}); !errors.Is(err, quota.ErrMemberAndSpender) {
			t.Fatalf("member and spender: %v", err)
		}
	})
}

func TestGrantExpiringWhileHoldIsOpen(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		g := e.grant(500*C, 0, e.clock().Add(30*time.Second))
		e.policy(quota.Policy{Pooled: true})
		e.seat("uma", quota.SeatPro)
		o := e.mustReserve("uma", 400*C)
		e.advance(40 * time.Second) // the grant expires; the hold (1 minute) is still live
		wb := e.pool()
		if wb.Pool.Forfeited != 100*C || wb.Pool.Held != 400*C || wb.Pool.Available != 0 {
			t.Fatalf("pool after expiry: %+v", wb.Pool)
		}
		c, err := e.commit(o.ID, actions(50)) // 150 credits
		if err != nil {
			t.Fatal(err)
		}
		if c.Reservation.ChargedFromHold != 150*C || c.Reservation.Released != 250*C {
			t.Fatalf("commit: %+v", c.Reservation)
		}
		wb = e.pool()
		if wb.Pool.Forfeited != 350*C || wb.Pool.Spent != 150*C || wb.Pool.Held != 0 {
			t.Fatalf("pool after commit: %+v", wb.Pool)
		}
		grants, _, err := e.svc.ListGrants(e.ctx, "ws1", 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(grants) != 1 || grants[0].ID != g.ID || grants[0].State != quota.GrantExpired || grants[0].Forfeited != 350*C {
			t.Fatalf("grants: %+v", grants)
		}
	})
}

func TestPeriodResetWhileHoldIsOpen(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(1_000*C, 0, yearEnd)
		e.policy(quota.Policy{Pooled: true, HasDefaultPoolCap: true, DefaultPoolCap: 300 * C})
		b := e.seat("vic", quota.SeatPro)
		e.set(b.PeriodEnd.Add(-30 * time.Second))
		o := e.mustReserve("vic", 300*C)
		e.set(b.PeriodEnd) // reset: the cap starts again, but the open hold counts against it
		if b := e.balance("vic"); b.PoolUsed != 300*C || b.Spendable != 0 {
			t.Fatalf("after reset: %+v", b)
		}
		wantDenied(t, func() error { _, err := e.reserve("vic", C, 0); return err }(), quota.ReasonPoolCapReached)
		// Released after the reset, the pool credits go back to the grant
		// (grants outlive periods); what was spent counts in the new period.
		c, err := e.commit(o.ID, actions(20)) // 60 credits
		if err != nil {
			t.Fatal(err)
		}
		if c.Balance.PoolUsed != 60*C || c.Balance.Spendable != 240*C {
			t.Fatalf("after commit: %+v", c.Balance)
		}
		if wb := e.pool(); wb.Pool.Available != 940*C || wb.Pool.Forfeited != 0 {
			t.Fatalf("pool: %+v", wb.Pool)
		}
	})
}

func TestVoidAndListGrants(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 5 {
			ids = append(ids, e.grant(int64(i+1)*100*C, 0, yearEnd).ID)
		}
		pending, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantCommitment,
			Amount: 50 * C, Start: e.clock().Add(time.Hour), Expiry: yearEnd})
		if err != nil {
			t.Fatal(err)
		}
		if pending.State != quota.GrantPending || pending.Available != 50*C {
			t.Fatalf("pending grant: %+v", pending)
		}
		e.seat("wes", quota.SeatPro)
		e.mustReserve("wes", 8_100*C) // 100 from the first grant
		v, err := e.svc.VoidGrant(e.ctx, e.id(), "ws1", ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if v.State != quota.GrantVoided || v.Held != 100*C || v.Available != 0 {
			t.Fatalf("voided: %+v", v)
		}
		if _, err := e.svc.VoidGrant(e.ctx, e.id(), "ws1", ids[0]); !errors.Is(err, quota.ErrGrantEnded) {
			t.Fatalf("void twice: %v", err)
		}
		if _, err := e.svc.VoidGrant(e.ctx, e.id(), "ws1", "g999"); !errors.Is(err, quota.ErrGrantNotFound) {
			t.Fatalf("void unknown: %v", err)
		}
		var all []quota.Grant
		token := ""
		for range 10 {
			page, next, err := e.svc.ListGrants(e.ctx, "ws1", 4, token)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if token = next; token == "" {
				break
			}
		}
		if len(all) != 6 || all[0].ID != ids[0] || all[5].ID != pending.ID || all[1].Available != 200*C {
			t.Fatalf("listed %d grants: %+v", len(all), all)
		}
		wb := e.pool()
		if wb.Pool.Granted != 1_550*C || wb.Pool.Pending != 50*C || wb.Pool.Available != 1_400*C {
			t.Fatalf("pool: %+v", wb.Pool)
		}
	})
}

func TestLowBalanceEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(1_000*C, 0, yearEnd)
		e.seat("xia", quota.SeatPro)
		reserve := func(amount int64) quota.Outcome {
			t.Helper()
			o, err := e.reserve("xia", amount, 0)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		o := reserve(6_000 * C) // 2,000 of 8,000 left: 25%
		if o.Balance.LowBalance {
			t.Fatal("low at 2,000 of 8,000")
		}
		o = reserve(1_500 * C) // 500 left: below 20%
		if !o.Balance.LowBalance {
			t.Fatal("not low at 500 of 8,000")
		}
		reserve(100 * C)       // still low: no second event this period
		o = reserve(1_250 * C) // 400 seat + 850 pool: the pool is low too
		if !o.Balance.PoolLow {
			t.Fatal("pool not low at 150 of 1,000")
		}
		msgs, err := e.rdb.XRange(e.ctx, "q:{ws:ws1}:events", "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, fmt.Sprintf("%s %s %s/%s", m.Values["type"], m.Values["member"], m.Values["available"], m.Values["allocated"]))
		}
		want := []string{"member_low_balance xia 500000000/8000000000", "pool_low_balance  150000000/1000000000"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

// TestConcurrentMembersNeverOverdrawPool has 40 members reserve against a
// small pool at once.
func TestConcurrentMembersNeverOverdrawPool(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(300*C, 1, yearEnd)
		e.grant(200*C, 0, yearEnd)
		e.policy(quota.Policy{Pooled: true, HasDefaultPoolCap: true, DefaultPoolCap: 40 * C})
		for i := range 40 {
			e.seat(fmt.Sprintf("m%d", i), quota.SeatPro)
		}
		var (
			wg          sync.WaitGroup
			mu          sync.Mutex
			held        int64
			ids         []string
			denials     = map[string]int{}
			unexpectedE []error
		)
		for i := range 40 {
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					o, err := e.reserve(fmt.Sprintf("m%d", i), 15*C, 0)
					mu.Lock()
					defer mu.Unlock()
					var d *quota.Denial
					switch {
					case err == nil:
						held += o.Reservation.Held
						ids = append(ids, o.Reservation.ID)
					case asDenial(err, &d):
						denials[d.Reason]++
					default:
						unexpectedE = append(unexpectedE, err)
					}
				}()
			}
		}
		wg.Wait()
		if len(unexpectedE) > 0 {
			t.Fatal(unexpectedE)
		}
		wb := e.pool()
		// 500 credits in 15-credit holds: 33 fit; no member holds more than
		// its cap of 40 (two holds).
		if held != 495*C || wb.Pool.Held != held || wb.Pool.Available != 5*C || denials[quota.ReasonPoolCapReached] == 0 {
			t.Fatalf("held %d in %d holds (denials %v); pool %+v", held, len(ids), denials, wb.Pool)
		}
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
		wb = e.pool()
		if wb.Pool.Held != 0 || wb.Pool.Spent != int64((len(ids)+1)/2)*3*C {
			t.Fatalf("after settling %d holds: %+v", len(ids), wb.Pool)
		}
	})
}

// TestOthersExpiredHoldsNeverBlock: a hold past its deadline frees the
// pool, overage and programmatic cap for everyone at once, before any
// sweep.
func TestOthersExpiredHoldsNeverBlock(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(100*C, 0, yearEnd)
		e.policy(quota.Policy{HasProgrammaticCap: true, ProgrammaticCap: 100 * C})
		e.seat("ann", quota.SeatPro)
		e.seat("ben", quota.SeatPro)
		e.mustReserve("ann", 8_100*C) // seat and the whole pool
		if b := e.balance("ben"); b.Spendable != 8_000*C {
			t.Fatalf("ben while ann holds the pool: %d", b.Spendable)
		}
		e.advance(2 * time.Minute) // ann's hold expires; nothing sweeps
		if b := e.balance("ben"); b.Spendable != 8_100*C || b.Sources[2].Available != 100*C {
			t.Fatalf("ben after ann's hold expired: %+v", b)
		}
		if _, err := e.spend("k1", 100*C, 0); err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Minute)
		if _, err := e.spend("k2", 100*C, 0); err != nil {
			t.Fatalf("k1's expired hold still counts against the programmatic cap: %v", err)
		}
	})
}

// TestRetriedDenialGetsTheSameAnswer: a request id that was denied stays
// denied, even once credits are free again.
func TestRetriedDenialGetsTheSameAnswer(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("cat", quota.SeatPro)
		all := e.mustReserve("cat", 8_000*C)
		req := quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "cat", Amount: 100 * C, Origin: quota.OriginConversation}
		_, err := e.svc.Reserve(e.ctx, req)
		wantDenied(t, err, quota.ReasonCreditsExhausted)
		if _, err := e.refund(all.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Reserve(e.ctx, req)
		wantDenied(t, err, quota.ReasonCreditsExhausted)
		if b := e.balance("cat"); b.Held != 0 {
			t.Fatalf("the retry held credits: %+v", b)
		}
	})
}

func TestPoolTotalIsBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		for range 4 {
			e.grant(quota.MaxAmount, 0, yearEnd)
		}
		_, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp, Amount: quota.MaxAmount})
		var inv *quota.Error
		if !errors.As(err, &inv) || inv.Field != "amount" || inv.Limit == nil || inv.Limit.Name != "pool_granted" {
			t.Fatalf("a fifth grant of 10^15: %v", err)
		}
		if wb := e.pool(); wb.Pool.Granted != 4*quota.MaxAmount {
			t.Fatalf("pool: %+v", wb.Pool)
		}
	})
}
