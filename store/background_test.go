package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/internal/schema"
	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// scriptHook records, for every FCALL of a function whose name ends with
// one of its suffixes, the reply and how many keys the database lost in
// the call (read by a client of its own).
type scriptHook struct {
	plain *redis.Client
	mu    sync.Mutex
	calls map[string][]scriptCall
}

// newScriptHook returns a scriptHook on rdb, a client of the real-Redis
// backend (its own client reads the same server and database), added to
// rdb's hooks.
func newScriptHook(t *testing.T, rdb redis.UniversalClient) *scriptHook {
	t.Helper()
	client, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("the real-Redis backend gave a %T", rdb)
	}
	opt := *client.Options() // its address and database
	h := &scriptHook{plain: redis.NewClient(&opt), calls: map[string][]scriptCall{}}
	t.Cleanup(func() { h.plain.Close() })
	rdb.AddHook(h)
	return h
}

// scriptCall is one call a scriptHook saw.
type scriptCall struct {
	reply   []any
	deleted int64
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		name, _ := args[min(1, len(args)-1)].(string)
		entry := ""
		if strings.EqualFold(fmt.Sprint(args[0]), "fcall") {
			entry = name[strings.LastIndex(name, "_")+1:]
		}
		if entry != "sweep" && entry != "retain" {
			return next(ctx, cmd)
		}
		before := h.plain.DBSize(ctx).Val()
		err := next(ctx, cmd)
		after := h.plain.DBSize(ctx).Val()
		reply, _ := cmd.(*redis.Cmd).Val().([]any)
		h.mu.Lock()
		h.calls[entry] = append(h.calls[entry], scriptCall{reply: reply, deleted: before - after})
		h.mu.Unlock()
		return err
	}
}

// TestBackgroundWorkIsDoneInBoundedCalls piles up background work, more
// expired holds and a larger settled run than one call may take, and
// checks that one sweep does all of it, in calls that each stay within
// their bound (issue 7: no script call runs long; BenchmarkBackgroundWork
// measures them).
func TestBackgroundWorkIsDoneInBoundedCalls(t *testing.T) {
	rdb := redistest.Backends()[0].New(t)
	svc, now := clockedService(t, rdb, store.Options{RunRetention: time.Hour})
	ctx := context.Background()
	id := 0
	idem := func() quota.Idem { id++; return quota.Idem{RequestID: fmt.Sprint("r", id), Fingerprint: "f"} }

	// A run of 2 batches and a half of children, settled.
	kids := 2*store.RetainBatch + store.RetainBatch/2
	root, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: idem(), WorkspaceID: "bg", MemberID: "m1", Amount: 1000 * C,
		Origin: quota.OriginConversation, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range kids {
		c, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: idem(), WorkspaceID: "bg", ParentID: root.Reservation.ID, Amount: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: idem(), WorkspaceID: "bg", ReservationID: c.Reservation.ID, Usage: agents("k", 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: idem(), WorkspaceID: "bg", ReservationID: root.Reservation.ID, Usage: agents("main", 1)}); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(2 * time.Hour)
	// Holds of 3 batches and a half, expired together.
	due := 3*store.SweepBatch + store.SweepBatch/2
	for k := range due {
		if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: idem(), WorkspaceID: "bg", MemberID: fmt.Sprint("m", k%50), Amount: C,
			Origin: quota.OriginConversation, TTL: time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	*now = now.Add(time.Minute)

	hook := newScriptHook(t, rdb)
	st, err := svc.Sweep(ctx, 10_000)
	if err != nil || st.Released != due || st.Purged != 1 {
		t.Fatalf("sweep: %+v, %v; want %d released and 1 run deleted", st, err, due)
	}
	sweeps, retains := hook.calls["sweep"], hook.calls["retain"]
	if len(sweeps) < due/store.SweepBatch+1 {
		t.Errorf("%d sweep calls for %d holds; want one a batch of %d at least", len(sweeps), due, store.SweepBatch)
	}
	for i, c := range sweeps {
		if n, _ := c.reply[0].(int64); n > store.SweepBatch {
			t.Errorf("sweep call %d released %d holds; the bound is %d", i, n, store.SweepBatch)
		}
	}
	if len(retains) < kids/store.RetainBatch+1 {
		t.Errorf("%d retention calls for a run of %d reservations; want one a batch of %d at least", len(retains), kids+1, store.RetainBatch)
	}
	var deleted int64
	for i, c := range retains {
		deleted += c.deleted
		// The batch, the root of the run, its run index and the settled
		// index once empty.
		if c.deleted > store.RetainBatch+3 {
			t.Errorf("retention call %d deleted %d keys; the bound is %d reservations", i, c.deleted, store.RetainBatch)
		}
	}
	if deleted < int64(kids+1) {
		t.Errorf("the retention calls deleted %d keys; the run had %d reservations", deleted, kids+1)
	}
	var qe *quota.Error
	if _, err := svc.GetReservation(ctx, "bg", root.Reservation.ID); !errors.As(err, &qe) || qe.Code != quota.CodeReservationNotFound {
		t.Errorf("the run's root after the sweep: %v, want NOT_FOUND", err)
	}
	// The holds that expired are settled now: they are all the settled
	// index holds.
	if n, err := rdb.ZCard(ctx, "q:{ws:bg}:settled").Result(); err != nil || n != int64(due) {
		t.Errorf("the settled index after the sweep: %d entries, %v; want the %d expired holds", n, err, due)
	}
}

// TestStreamTrimIsBounded: a ledger backlog past its retention (as a
// consumer group that lagged leaves it) is trimmed over several sweeps,
// at most twice schema.StreamTrimPerCall entries (and one node) a call,
// down to the entries within the retention, exactly. Redis only: the embedded
// server ignores XTRIM's LIMIT and trims all at once.
func TestStreamTrimIsBounded(t *testing.T) {
	rdb := redistest.Backends()[0].New(t)
	svc, now := clockedService(t, rdb, store.Options{LedgerRetention: 2 * time.Hour})
	ctx := context.Background()
	const backlog, recent = 4*schema.StreamTrimPerCall + 500, 7
	const bound = 2*schema.StreamTrimPerCall + 100 // and a node of Redis's default stream-node-max-entries
	ledger := "q:{ws:bg}:ledger"
	// The backlog (after the set-up's own entries), then 3 hours later,
	// past the 2-hour retention, a few recent entries.
	ms := now.Add(time.Millisecond).UnixMilli()
	if err := rdb.Eval(ctx, `for i = 1, tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], ARGV[1] .. '-' .. i, 'kind', 'old') end return 1`,
		[]string{ledger}, ms, backlog).Err(); err != nil {
		t.Fatal(err)
	}
	old := int(rdb.XLen(ctx, ledger).Val())
	*now = now.Add(3 * time.Hour)
	for range recent {
		if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: quota.Idem{RequestID: fmt.Sprint("r", rand.Int64()), Fingerprint: "f"},
			WorkspaceID: "bg", MemberID: "m1", Amount: C, Origin: quota.OriginConversation, TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	left := func() int64 { return rdb.XLen(ctx, ledger).Val() }
	total := left()
	trimmed, sweeps := 0, 0
	for ; sweeps < 10 && left() > total-int64(old); sweeps++ {
		st, err := svc.Sweep(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if st.Trimmed > bound {
			t.Errorf("sweep %d trimmed %d entries; the bound is %d", sweeps, st.Trimmed, bound)
		}
		trimmed += st.Trimmed
	}
	if sweeps < 3 || trimmed != old || left() != total-int64(old) {
		t.Fatalf("%d sweeps trimmed %d entries, %d left; want 3 sweeps at least, %d trimmed and %d left", sweeps, trimmed, left(), old, total-int64(old))
	}
}

// TestExpiringRunsCountTheirChildren: roots whose deadline came before
// their children's expire together, each voiding its held children; a
// call counts those against its bound too. A Reserve meeting them leaves
// them to the sweeper (each root and its 20 children pass a Reserve's
// bound), which takes one a call (they pass its batch too), and every
// credit comes back.
func TestExpiringRunsCountTheirChildren(t *testing.T) {
	rdb := redistest.Backends()[0].New(t)
	svc, now := clockedService(t, rdb, store.Options{})
	ctx := context.Background()
	id := 0
	idem := func() quota.Idem { id++; return quota.Idem{RequestID: fmt.Sprint("r", id), Fingerprint: "f"} }
	const runs, kids = 4, 20
	if 2*(1+kids) <= store.SweepBatch {
		t.Fatalf("a run of %d reservations fits twice in a batch of %d: the test needs larger runs", 1+kids, store.SweepBatch)
	}
	for r := range runs {
		root, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: idem(), WorkspaceID: "bg", MemberID: fmt.Sprint("m", r), Amount: 100 * C,
			Origin: quota.OriginConversation, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for range kids {
			if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: idem(), WorkspaceID: "bg", ParentID: root.Reservation.ID,
				Amount: C, AllowTopUp: true, TTL: 30 * time.Minute}); err != nil {
				t.Fatal(err)
			}
		}
		// The root's deadline moves before its children's.
		if _, err := svc.Extend(ctx, quota.ExtendRequest{Idem: idem(), WorkspaceID: "bg", ReservationID: root.Reservation.ID, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	*now = now.Add(2 * time.Minute)
	if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: idem(), WorkspaceID: "bg", MemberID: "m0", Amount: C,
		Origin: quota.OriginConversation, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	hook := newScriptHook(t, rdb)
	st, err := svc.Sweep(ctx, 10_000)
	if err != nil || st.Released != runs {
		t.Fatalf("sweep: %+v, %v; want the %d roots released (by the sweeper, not the Reserve)", st, err, runs)
	}
	if n := len(hook.calls["sweep"]); n < runs {
		t.Errorf("%d sweep calls for %d runs of %d reservations; want a call a run (the bound is %d)", n, runs, 1+kids, store.SweepBatch)
	}
	for r := range runs {
		want := int64(0)
		if r == 0 {
			want = C // the Reserve's own hold
		}
		b, err := svc.GetBalance(ctx, "bg", fmt.Sprint("m", r))
		if err != nil || b.Held != want {
			t.Errorf("m%d after the sweep: held %d, %v; want %d", r, b.Held, err, want)
		}
	}
}

// TestARunPartDeletedShowsNoDroppedCost: the retention deletes a run's
// reservations the last made first, so that a run it left part-deleted
// (a run larger than a call's bound) still shows each remaining
// reservation under its ancestors: a cost an ancestor dropped (refunded)
// stays out of ListRunCosts.
func TestARunPartDeletedShowsNoDroppedCost(t *testing.T) {
	optionsEnv(t, store.Options{RunRetention: time.Hour}, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatMax)
		root := e.mustReserve("ann", 500*C)
		for range store.RetainBatch - 1 {
			if _, err := e.commit(e.mustChild(root.ID, 1).ID, agents("filler", 1)); err != nil {
				t.Fatal(err)
			}
		}
		// A refunded child, whose own child's cost the refund dropped,
		// made last: the first call's batch ends between the two.
		a := e.mustChild(root.ID, 10*C)
		b := e.mustChild(a.ID, C)
		if _, err := e.commit(b.ID, tokens("dropped", 5)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.refund(a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.commit(root.ID, agents("main", 1)); err != nil {
			t.Fatal(err)
		}
		listed := func() map[string]bool {
			ids := map[string]bool{}
			token := ""
			for range 100 {
				page, next, err := e.svc.ListRunCosts(e.ctx, "ws1", root.ID, 50, token)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range page {
					ids[x.ReservationID] = true
				}
				if token = next; token == "" {
					break
				}
			}
			return ids
		}
		whole := listed()
		if whole[b.ID] || len(whole) != store.RetainBatch {
			t.Fatalf("the run whole lists %d entries (the dropped one: %v); want the root and the %d fillers", len(whole), whole[b.ID], store.RetainBatch-1)
		}
		e.advance(2 * time.Hour)
		if err := e.st.RetainOnce(e.ctx, "ws1", e.clock()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetReservation(e.ctx, "ws1", root.ID); err != nil {
			t.Fatalf("the root after one retention call: %v; want it kept until its run's last call", err)
		}
		part := listed()
		for id := range part {
			if !whole[id] {
				t.Errorf("the run part-deleted lists %s, which the whole run did not (its cost was dropped)", id)
			}
		}
	})
}

// TestACallSkipsARunTooLargeForIt: an expired child whose held subtree
// passes a call's bound (20 children of its own, or one child with 20),
// and a plain hold that expired after it. A read releases the plain hold
// and leaves the subtree to the sweeper, which releases it in one call.
func TestACallSkipsARunTooLargeForIt(t *testing.T) {
	for _, deep := range []bool{false, true} {
		t.Run(map[bool]string{false: "wide", true: "deep"}[deep], func(t *testing.T) {
			eachBackend(t, func(t *testing.T, e *env) { testACallSkipsARunTooLargeForIt(t, e, deep) })
		})
	}
}

func testACallSkipsARunTooLargeForIt(t *testing.T, e *env, deep bool) {
	e.seat("ann", quota.SeatMax)
	e.seat("bob", quota.SeatPro)
	reserve := func(r quota.ReserveRequest) string {
		t.Helper()
		r.Idem, r.WorkspaceID, r.TTL = e.id(), "ws1", time.Hour
		o, err := e.svc.Reserve(e.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return o.Reservation.ID
	}
	root := reserve(quota.ReserveRequest{MemberID: "ann", Amount: 100 * C, Origin: quota.OriginConversation})
	mid := reserve(quota.ReserveRequest{ParentID: root, Amount: 50 * C})
	parent := mid
	if deep {
		// The middle child's direct children (1) undercount what it
		// voids (21).
		parent = reserve(quota.ReserveRequest{ParentID: mid, Amount: 30 * C})
	}
	var leaves []string
	for range 20 {
		leaves = append(leaves, reserve(quota.ReserveRequest{ParentID: parent, Amount: C}))
	}
	// The middle child's deadline moves before its children's.
	if _, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: mid, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	e.advance(30 * time.Second)
	plain, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "bob", Amount: 3 * C,
		Origin: quota.OriginConversation, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Minute)
	if b := e.balance("bob"); b.Held != 0 {
		t.Errorf("bob's hold expired after the large subtree: the read shows it held (%d)", b.Held)
	}
	if r := e.get(leaves[0]); r.State != quota.StateHeld {
		t.Errorf("a leaf of the subtree after a read: %v; want it held still, left to the sweeper", r.State)
	}
	if st, err := e.svc.Sweep(e.ctx, 100); err != nil || st.Released != 1 {
		t.Fatalf("sweep: %+v, %v; want the middle child released", st, err)
	}
	if r := e.get(leaves[0]); r.State == quota.StateHeld {
		t.Errorf("a leaf of the subtree after the sweep: still held")
	}
	if r := e.get(plain.Reservation.ID); r.State != quota.StateExpired {
		t.Errorf("bob's hold: %v, want EXPIRED", r.State)
	}
}
