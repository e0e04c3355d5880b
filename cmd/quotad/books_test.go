package main

import (
	"context"
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

// The books after a load (see load_test.go): every acknowledged Commit is
// there as answered, the accounts are exact to the µcredit, and the
// ledger holds one entry per request id.

// lost returns the acknowledged Commits that are not in the books as
// acknowledged: their reservation missing, or not COMMITTED with the same
// answer. Any other difference is a failure of t.
func (l *load) lost(t *testing.T) []*cycle {
	t.Helper()
	var lost []*cycle
	for _, cy := range l.cycles {
		if cy.committed == nil {
			continue
		}
		resp, err := l.c.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{
			WorkspaceId: cy.acct.ws, ReservationId: cy.committed.GetReservationId(),
		})
		switch {
		case status.Code(err) == codes.NotFound:
			lost = append(lost, cy)
		case err != nil:
			t.Fatalf("GetReservation %s: %v", cy.committed.GetReservationId(), err)
		case resp.GetReservation().GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED:
			lost = append(lost, cy)
		default:
			if diff := cmp.Diff(cy.committed, resp.GetReservation(), protocmp.Transform()); diff != "" {
				t.Errorf("%s cycle %d: GetReservation differs from the acknowledged Commit (-commit +now):\n%s", cy.acct, cy.n, diff)
			}
		}
	}
	return lost
}

// reserveLost tells whether cy's Reserve was acknowledged and its Commit
// then found no reservation: the acknowledged Reserve is lost.
func (cy *cycle) reserveLost() bool {
	return cy.reserved != nil && cy.committed == nil && status.Code(cy.err) == codes.NotFound
}

// lostReserves counts the cycles whose acknowledged Reserve is lost.
func (l *load) lostReserves() int {
	n := 0
	for _, cy := range l.cycles {
		if cy.reserveLost() {
			n++
		}
	}
	return n
}

// verify checks the books after a load whose cycles are all settled and
// none lost: every acknowledged Commit is there as answered, and each
// account holds nothing, spent exactly what its Commits charged and keeps
// the invariant. With rdb, it also checks the workspace ledgers: each
// request id of the load is there exactly once. It returns how many
// cycles it checked.
func (l *load) verify(t *testing.T, accts []account, rdb redis.UniversalClient) int {
	t.Helper()
	if lost := l.lost(t); len(lost) > 0 {
		t.Errorf("%d acknowledged Commits are not in the books; first: %s cycle %d (%s)", len(lost), lost[0].acct, lost[0].n, lost[0].committed.GetReservationId())
	}
	spent := map[account]int64{}
	open := 0
	for _, cy := range l.cycles {
		if cy.committed == nil {
			open++
			continue
		}
		spent[cy.acct] += cy.committed.GetCharged()
	}
	if open > 0 {
		t.Errorf("%d cycles never committed (see settle)", open)
	}
	for _, a := range accts {
		b := getBalance(t, l.c, a.ws, a.member)
		checkInvariant(t, b)
		tt := b.GetTotals()
		if tt.GetHeld() != 0 || tt.GetSpent() != spent[a] || tt.GetAvailable() != tt.GetAllocated()-spent[a] || tt.GetForfeited() != 0 {
			t.Errorf("%s: totals %v; want held 0, spent %d (what its acknowledged Commits charged), available allocated - spent, forfeited 0", a, tt, spent[a])
		}
	}
	if rdb != nil {
		l.checkLedger(t, accts, rdb)
	}
	return len(l.cycles)
}

// checkLedger checks that each request id of the load has exactly one
// reserve or commit entry in the ledger, and that there is none of
// another load request id.
func (l *load) checkLedger(t *testing.T, accts []account, rdb redis.UniversalClient) {
	t.Helper()
	want := map[string]int{}
	for _, cy := range l.cycles {
		want[cy.reserveID()], want[cy.commitID()] = 1, 1
	}
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
