package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// The books after a load (see load_test.go). A fault may lose
// acknowledged writes (a failover, an OS crash with appendfsync
// everysec): losses finds them, and the books must then be exact for
// what survived: every surviving Commit as answered, each account's held
// and spent to the µcredit, the invariant, one ledger entry per surviving
// write and none for a lost one. A loss is always of whole writes.

// loss is an acknowledged write that is not in the books.
type loss struct {
	cy *cycle
	// commit says the lost write is the Commit (its reservation is gone,
	// or back to HELD); else the Reserve (the Commit found none).
	commit bool
	// held says the lost Commit's reservation is HELD: its Reserve
	// survived.
	held bool
	// at is when the lost write was acknowledged.
	at time.Time
}

// reserveLost tells whether cy's Reserve was acknowledged and its Commit
// then found no reservation: the acknowledged Reserve is lost.
func (cy *cycle) reserveLost() bool {
	return cy.reserved != nil && cy.committed == nil && status.Code(cy.err) == codes.NotFound
}

// losses returns the acknowledged writes that are not in the books. A
// surviving Commit that differs from its answer fails t.
func (l *load) losses(t *testing.T) []loss {
	t.Helper()
	var lost []loss
	for _, cy := range l.cycles {
		if cy.reserveLost() {
			lost = append(lost, loss{cy: cy, at: cy.reservedAt})
			continue
		}
		if cy.committed == nil {
			continue
		}
		var resp *quotav1.GetReservationResponse
		err := l.retry(cy.acct, faultWait, func(ctx context.Context) (err error) {
			resp, err = l.c.quota.GetReservation(ctx, &quotav1.GetReservationRequest{
				WorkspaceId: cy.acct.ws, ReservationId: cy.committed.GetReservationId(),
			})
			return err
		})
		state := resp.GetReservation().GetState()
		switch {
		case status.Code(err) == codes.NotFound:
			lost = append(lost, loss{cy: cy, commit: true, at: cy.committedAt})
		case err != nil:
			t.Fatalf("GetReservation %s: %v", cy.committed.GetReservationId(), err)
		case state == quotav1.ReservationState_RESERVATION_STATE_HELD:
			lost = append(lost, loss{cy: cy, commit: true, held: true, at: cy.committedAt})
		case state != quotav1.ReservationState_RESERVATION_STATE_COMMITTED:
			t.Errorf("%s cycle %d: reservation %s is %v after an acknowledged Commit", cy.acct, cy.n, cy.committed.GetReservationId(), state)
		default:
			if diff := cmp.Diff(cy.committed, resp.GetReservation(), protocmp.Transform()); diff != "" {
				t.Errorf("%s cycle %d: GetReservation differs from the acknowledged Commit (-commit +now):\n%s", cy.acct, cy.n, diff)
			}
		}
	}
	return lost
}

// describe sums up losses for a log line: how many, and when the lost
// writes had been acknowledged, from at.
func describe(lost []loss, at time.Time) string {
	if len(lost) == 0 {
		return "none lost"
	}
	first, last := lost[0].at, lost[0].at
	for _, x := range lost {
		if x.at.Before(first) {
			first = x.at
		}
		if x.at.After(last) {
			last = x.at
		}
	}
	when := func(t time.Time) string {
		if d := t.Sub(at).Round(time.Millisecond); d > 0 {
			return fmt.Sprintf("%v after", d)
		}
		return fmt.Sprintf("%v before", at.Sub(t).Round(time.Millisecond))
	}
	return fmt.Sprintf("%d lost, acknowledged between %s and %s the fault", len(lost), when(first), when(last))
}

// check checks the books after a load whose cycles are all settled (see
// settle), given what losses found: every account holds what the Reserves
// of its lost Commits hold and nothing else, spent exactly what its
// surviving Commits charged and keeps the invariant. With rdb, it also
// checks the workspace ledgers: one reserve or commit entry per surviving
// write's request id, none for a lost one.
func (l *load) check(t *testing.T, accts []account, rdb redis.UniversalClient, lost []loss) {
	t.Helper()
	lostOf := map[*cycle]loss{}
	for _, x := range lost {
		lostOf[x.cy] = x
	}
	spent, held := map[account]int64{}, map[account]int64{}
	ledger := map[string]int{}
	open := 0
	for _, cy := range l.cycles {
		x, isLost := lostOf[cy]
		switch {
		case isLost && x.held:
			held[cy.acct] += cy.reserved.GetHeld()
			ledger[cy.reserveID()] = 1
		case isLost:
		case cy.committed == nil:
			open++
		default:
			spent[cy.acct] += cy.committed.GetCharged()
			ledger[cy.reserveID()], ledger[cy.commitID()] = 1, 1
		}
	}
	if open > 0 {
		t.Errorf("%d cycles never committed (see settle)", open)
	}
	for _, a := range accts {
		var resp *quotav1.GetBalanceResponse
		if err := l.retry(a, faultWait, func(ctx context.Context) (err error) {
			resp, err = l.c.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: a.ws, MemberId: a.member})
			return err
		}); err != nil {
			t.Fatalf("GetBalance(%s): %v", a, err)
		}
		b := resp.GetBalance()
		checkInvariant(t, b)
		tt := b.GetTotals()
		if tt.GetHeld() != held[a] || tt.GetSpent() != spent[a] || tt.GetAvailable() != tt.GetAllocated()-spent[a]-held[a] || tt.GetForfeited() != 0 {
			t.Errorf("%s: totals %v; want held %d (its lost Commits' holds), spent %d (what its surviving Commits charged), available allocated - spent - held, forfeited 0",
				a, tt, held[a], spent[a])
		}
	}
	if rdb != nil {
		l.checkLedger(t, accts, rdb, ledger)
	}
}

// settleAndCheck settles what the workers gave up on (the client's retry
// after the fault), finds the acknowledged writes lost and checks the
// books for what survived (see check). It logs and returns the losses; at
// is when the fault struck.
func settleAndCheck(t *testing.T, l *load, accts []account, rdb redis.UniversalClient, at time.Time) []loss {
	t.Helper()
	l.settle(t, faultWait)
	lost := l.losses(t)
	l.check(t, accts, rdb, lost)
	if !t.Failed() {
		t.Logf("%d cycles of %d accounts: %s; the books exact to the µcredit for what survived, one ledger entry per surviving write",
			len(l.cycles), len(accts), describe(lost, at))
	}
	return lost
}

// noneLost fails t if lost is not empty.
func noneLost(t *testing.T, lost []loss, at time.Time) {
	t.Helper()
	if len(lost) > 0 {
		t.Errorf("acknowledged writes lost: %s; want none", describe(lost, at))
	}
}

// lostWithin fails t if a write in lost was acknowledged more than d
// before the fault f, or after it was done: only the writes of its last
// moments may be lost.
func lostWithin(t *testing.T, lost []loss, f faultFigures, d time.Duration) {
	t.Helper()
	for _, x := range lost {
		if x.at.Before(f.at.Add(-d)) || x.at.After(f.done) {
			t.Errorf("%s cycle %d: a write acknowledged %v before the fault struck is lost, want none but those of the %v before it",
				x.cy.acct, x.cy.n, f.at.Sub(x.at), d)
		}
	}
}

// checkLedger checks that the reserve and commit entries of the load in
// the ledgers of accts' workspaces are those of want: one per request id.
func (l *load) checkLedger(t *testing.T, accts []account, rdb redis.UniversalClient, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	seen := map[string]bool{}
	for _, a := range accts {
		if seen[a.ws] {
			continue
		}
		seen[a.ws] = true
		for req, n := range ledgerByRequest(t, rdb, a.ws) {
			if strings.HasPrefix(req, "load-") {
				got[req] += n
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ledger entries per request id (-want +got):\n%s", diff)
	}
}

// ledgerByRequest reads workspace ws's whole ledger and counts its
// reserve and commit entries by request id. (A call may also release
// expired holds of its workspace: those entries, op expire, carry its
// request id too.)
func ledgerByRequest(t *testing.T, rdb redis.UniversalClient, ws string) map[string]int {
	t.Helper()
	return ledgerBy(t, rdb, ws, func(e map[string]any) string {
		if e["op"] != "reserve" && e["op"] != "commit" {
			return ""
		}
		s, _ := e["req"].(string)
		return s
	})
}

// ledgerBy reads workspace ws's whole ledger and counts its entries by
// key, leaving out those whose key is "".
func ledgerBy(t *testing.T, rdb redis.UniversalClient, ws string, key func(map[string]any) string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range readLedger(t, rdb, ws) {
		if k := key(e.Values); k != "" {
			n[k]++
		}
	}
	return n
}

// readLedger returns workspace ws's whole ledger.
func readLedger(t *testing.T, rdb redis.UniversalClient, ws string) []redis.XMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, err := rdb.XRange(ctx, "q:{ws:"+ws+"}:ledger", "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE the ledger of %s: %v", ws, err)
	}
	return entries
}
