package store_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
)

// Paging never skips or repeats an item while writes go on: for each of
// the four lists, a goroutine keeps writing (new members, commits, ledger
// entries, holds made and refunded) while the test pages through with
// small pages; every item present at the start and still present at the
// end must be seen exactly once.

// writeWhile runs write(i) for i = 0, 1, ... in a goroutine while read
// pages through a list. read calls between after each page, which lets
// two more writes go and waits for the first: one write lands between
// every two pages, the other goes on while the next page is read. At most
// 400 writes; it returns how many were made.
func writeWhile(t *testing.T, write func(i int), read func(between func())) int {
	t.Helper()
	stop := make(chan struct{})
	allow := make(chan struct{}, 800)
	wrote := make(chan int, 400)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(wrote)
		for i := range 400 {
			select {
			case <-stop:
				return
			case <-allow:
			}
			write(i)
			wrote <- i
		}
	})
	n := 0
	between := func() {
		allow <- struct{}{}
		allow <- struct{}{}
		select {
		case _, ok := <-wrote:
			if ok {
				n++
			}
		case <-time.After(5 * time.Second):
			t.Error("a write took more than 5 s")
		}
	}
	read(between)
	close(stop)
	wg.Wait()
	for range wrote {
		n++
	}
	return n
}

// once checks that each of want was seen exactly once in seen.
func once(t *testing.T, what string, want []string, seen []string) {
	t.Helper()
	n := map[string]int{}
	for _, s := range seen {
		n[s]++
	}
	for s, c := range n {
		if c > 1 {
			t.Errorf("%s: %s seen %d times", what, s, c)
		}
	}
	for _, s := range want {
		if n[s] != 1 {
			t.Errorf("%s: %s seen %d times, want once", what, s, n[s])
		}
	}
}

func TestPagingWhileWritesGoOn(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.grant(100_000*C, 0, e.clock().Add(90*24*time.Hour))
		{ // members
			var want []string
			for i := range 30 {
				want = append(want, fmt.Sprintf("m%03d", 3*i))
				e.seat(want[i], quota.SeatFree)
			}
			var seen []string
			n := writeWhile(t, func(i int) {
				// New members between the old ones, before and after the cursor.
				if _, err := e.svc.SetSeat(e.ctx, e.id(), "ws1", fmt.Sprintf("m%03d.%d", (i*37)%90, i), quota.SeatFree); err != nil {
					t.Error(err)
				}
			}, func(between func()) {
				token := ""
				for range 1000 {
					page, next, err := e.svc.ListMembers(e.ctx, "ws1", 3, token)
					if err != nil {
						t.Error(err)
						return
					}
					for _, b := range page {
						seen = append(seen, b.MemberID)
					}
					if token = next; token == "" {
						return
					}
					between()
				}
			})
			t.Logf("members: %d writes while paging", n)
			once(t, "members", want, seen)
		}
		{ // usage by agent
			e.seat("ann", quota.SeatMax)
			tree := func(ids ...int) quota.AgentRun {
				run := quota.AgentRun{AgentID: "root"}
				for _, i := range ids {
					run.SubAgents = append(run.SubAgents, quota.AgentRun{AgentID: fmt.Sprintf("a%03d", i),
						Actions: []quota.ToolAction{{Tool: "web_search"}}})
				}
				return run
			}
			span := func(from, to int) []int {
				var out []int
				for i := from; i < to; i += 2 {
					out = append(out, i)
				}
				return out
			}
			start := e.clock()
			// Two days, with agents of both, of one and of the other.
			if _, err := e.commit(e.mustReserve("ann", C).ID, tree(span(0, 40)...)); err != nil {
				t.Fatal(err)
			}
			e.advance(24 * time.Hour)
			if _, err := e.commit(e.mustReserve("ann", C).ID, tree(span(20, 60)...)); err != nil {
				t.Fatal(err)
			}
			want := []string{"root"}
			for _, i := range span(0, 60) {
				want = append(want, fmt.Sprintf("a%03d", i))
			}
			rng := rand.New(rand.NewPCG(3, 4))
			var seen []string
			n := writeWhile(t, func(i int) {
				o, err := e.reserve("ann", C, 0)
				if err == nil {
					_, err = e.commit(o.Reservation.ID, tree(rng.IntN(70), rng.IntN(70)))
				}
				if err != nil {
					t.Error(err)
				}
			}, func(between func()) {
				token := ""
				for range 1000 {
					rep, err := e.svc.GetUsage(e.ctx, quota.UsageRequest{WorkspaceID: "ws1", GroupBy: quota.UsageByAgent,
						Start: start, End: e.clock().Add(time.Hour), PageSize: 4, PageToken: token})
					if err != nil {
						t.Error(err)
						return
					}
					for _, g := range rep.Groups {
						seen = append(seen, g.Key)
					}
					if token = rep.NextPageToken; token == "" {
						return
					}
					between()
				}
				t.Error("GetUsage did not end")
			})
			t.Logf("usage: %d writes while paging", n)
			once(t, "agents", want, seen)
		}
		{ // ledger
			var want []string
			for _, x := range e.ledger(quota.LedgerQuery{}, 50) {
				want = append(want, x.ID)
			}
			var seen []string
			done := make(chan struct{})
			n := writeWhile(t, func(i int) {
				if i == 60 {
					close(done)
				}
				if i < 60 { // then the reader catches up
					if _, err := e.reserve("ann", C, 0); err != nil {
						t.Error(err)
					}
				}
			}, func(between func()) {
				// Follow the ledger (no end) until it has caught up with
				// the writer.
				q := quota.LedgerQuery{WorkspaceID: "ws1", PageSize: 5}
				caught := false
				for range 10_000 {
					page, next, err := e.svc.ListLedger(e.ctx, q)
					if err != nil || next == "" {
						t.Errorf("ListLedger: %q, %v", next, err)
						return
					}
					for _, x := range page {
						seen = append(seen, x.ID)
					}
					q.PageToken = next
					if !caught {
						between()
					}
					if len(page) == 0 {
						if caught {
							return
						}
						select {
						case <-done:
							caught = true // one more page: the last writes
						case <-time.After(time.Millisecond):
						}
					}
				}
				t.Error("ListLedger did not catch up")
			})
			t.Logf("ledger: %d writes while paging", n)
			once(t, "ledger", want, seen)
			all := e.ledger(quota.LedgerQuery{}, 500)
			var ids []string
			for _, x := range all {
				ids = append(ids, x.ID)
			}
			once(t, "ledger, every entry", ids, seen)
		}
		{ // reservations
			e.seat("bob", quota.SeatMax)
			ttls := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}
			var held []string
			for i := range 40 {
				o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: []string{"ann", "bob"}[i%2],
					Amount: C, Origin: quota.OriginConversation, TTL: ttls[i%3]})
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, o.Reservation.ID)
			}
			start := e.holds("", "", 500)
			rng := rand.New(rand.NewPCG(5, 6))
			var mu sync.Mutex
			refunded := map[string]bool{}
			last := ""
			var seen []string
			n := writeWhile(t, func(i int) {
				if i%2 == 1 {
					if _, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "bob",
						Amount: C, Origin: quota.OriginConversation, TTL: ttls[rng.IntN(3)]}); err != nil {
						t.Error(err)
					}
					return
				}
				// The last hold the reader saw (the page's cursor), or
				// another: the next page starts after a key that left the
				// index.
				mu.Lock()
				id := last
				mu.Unlock()
				if id == "" || rng.IntN(3) == 0 {
					id = held[rng.IntN(len(held))]
				}
				if _, err := e.refund(id); err == nil {
					mu.Lock()
					refunded[id] = true
					mu.Unlock()
				}
			}, func(between func()) {
				token := ""
				for range 1000 {
					page, next, err := e.svc.ListReservations(e.ctx, "ws1", "", "", 2, token)
					if err != nil {
						t.Error(err)
						return
					}
					for _, r := range page {
						seen = append(seen, r.ID)
					}
					if len(page) > 0 {
						mu.Lock()
						last = page[len(page)-1].ID
						mu.Unlock()
					}
					if token = next; token == "" {
						return
					}
					between()
				}
			})
			t.Logf("reservations: %d writes while paging", n)
			var want []string
			for _, r := range start {
				if !refunded[r.ID] {
					want = append(want, r.ID)
				}
			}
			if len(want) < 10 {
				t.Fatalf("only %d of the first holds left: test the paging with more", len(want))
			}
			once(t, "reservations", want, seen)
		}
	})
}
