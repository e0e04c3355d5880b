package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/quota-svc/quota/quota"
)

// TestLedgerEntriesNameTheirFields writes one of several operations a
// second and reads them back filtered by member, spender, operation and
// time, checking how each field maps.
func TestLedgerEntriesNameTheirFields(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		t0 := e.clock()
		e.seat("ann", quota.SeatPro)
		g := e.grant(100*C, 0, t0.Add(30*24*time.Hour))
		e.advance(time.Second)
		t1 := e.clock()
		botIdem := e.id()
		bot, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: botIdem, WorkspaceID: "ws1", SpenderID: "bot",
			Amount: 2 * C, Origin: quota.OriginAutomation, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		root := e.mustReserve("ann", 10*C)
		e.advance(time.Second)
		t2 := e.clock()
		kid := e.mustChild(root.ID, 3*C)
		if _, err := e.commit(kid.ID, actions(0)); err != nil {
			t.Fatal(err)
		}
		kid2 := e.mustChild(root.ID, 2*C)
		e.advance(time.Second)
		t3 := e.clock()
		if _, err := e.refund(root.ID); err != nil {
			t.Fatal(err)
		}

		ignore := cmpopts.IgnoreFields(quota.LedgerEntry{}, "ID", "Time", "RequestID")
		got := e.ledger(quota.LedgerQuery{SpenderID: "bot"}, 1)
		want := []quota.LedgerEntry{{Op: "reserve", SpenderID: "bot", ReservationID: bot.Reservation.ID,
			Amounts: amounts("held", 2*C, "pool", 2*C),
			Grants:  []quota.SourceAmount{{Source: quota.SourcePool, GrantID: g.ID, Amount: 2 * C}}}}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("bot's entries (-want +got):\n%s", diff)
		}
		if len(got) == 1 && (got[0].RequestID != botIdem.RequestID || !got[0].Time.Equal(t1)) {
			t.Errorf("bot's reserve: request %q at %s, want %q at %s", got[0].RequestID, got[0].Time, botIdem.RequestID, t1)
		}
		got = e.ledger(quota.LedgerQuery{MemberID: "ann", Operations: []string{"reserve", "record", "void", "refund"}, Start: t2}, 2)
		want = []quota.LedgerEntry{
			{Op: "reserve", MemberID: "ann", ReservationID: kid.ID, RelatedReservationID: root.ID,
				Amounts: amounts("carved", 3*C, "seat", 3*C)},
			{Op: "record", MemberID: "ann", ReservationID: kid.ID, RelatedReservationID: root.ID,
				Amounts: amounts("released", 3*C)},
			{Op: "reserve", MemberID: "ann", ReservationID: kid2.ID, RelatedReservationID: root.ID,
				Amounts: amounts("carved", 2*C, "seat", 2*C)},
			{Op: "void", MemberID: "ann", ReservationID: root.ID, Amounts: amounts("count", int64(1), "released", 2*C)},
			{Op: "refund", MemberID: "ann", ReservationID: root.ID, Amounts: amounts("released", 10*C)},
		}
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("ann's entries from t2 (-want +got):\n%s", diff)
		}
		// [t1, t2): the second's entries; a time range with no end
		// returns a token after the last entry too.
		got = e.ledger(quota.LedgerQuery{Start: t1, End: t2}, 10)
		if len(got) != 2 || got[0].Op != "reserve" || got[1].ReservationID != root.ID {
			t.Errorf("entries of [t1, t2): %+v", got)
		}
		all, next, err := e.svc.ListLedger(e.ctx, quota.LedgerQuery{WorkspaceID: "ws1", Start: t3, PageSize: 10})
		if err != nil || len(all) != 2 || next == "" {
			t.Fatalf("from t3: %+v, %q, %v", all, next, err)
		}
		// Follow: nothing new, then the entries appended since.
		page, next2, err := e.svc.ListLedger(e.ctx, quota.LedgerQuery{WorkspaceID: "ws1", Start: t3, PageSize: 10, PageToken: next})
		if err != nil || len(page) != 0 || next2 == "" {
			t.Fatalf("follow, nothing new: %+v, %q, %v", page, next2, err)
		}
		e.seat("bob", quota.SeatFree)
		page, _, err = e.svc.ListLedger(e.ctx, quota.LedgerQuery{WorkspaceID: "ws1", Start: t3, PageSize: 10, PageToken: next2})
		var ops []string
		for _, x := range page {
			if x.MemberID == "bob" {
				ops = append(ops, x.Op)
			}
		}
		if diff := cmp.Diff([]string{"reset", "upgrade", "grant_free"}, ops); err != nil || len(page) != 3 || diff != "" {
			t.Errorf("follow, bob's seat: %+v, %v; operations (-want +got):\n%s", page, err, diff)
		}
		for _, tc := range []struct {
			name string
			q    quota.LedgerQuery
			want func(error) bool
		}{
			{"unknown operation", quota.LedgerQuery{Operations: []string{"commit", "spend"}}, func(err error) bool { return isInvalid(err, "operations[1]") }},
			{"member and spender", quota.LedgerQuery{MemberID: "ann", SpenderID: "bot"}, func(err error) bool { return errors.Is(err, quota.ErrMemberAndSpender) }},
			{"end before start", quota.LedgerQuery{Start: t2, End: t1}, func(err error) bool { return isInvalid(err, "end_time") }},
			{"a token of other filters", quota.LedgerQuery{Start: t2, PageToken: next}, func(err error) bool { return isInvalid(err, "page_token") }},
			{"a token that is not one", quota.LedgerQuery{PageToken: "bGVkZ2VyAHgAeQ"}, func(err error) bool { return isInvalid(err, "page_token") }},
			{"unknown workspace", quota.LedgerQuery{WorkspaceID: "nowhere"}, func(err error) bool { return errors.Is(err, quota.ErrWorkspaceNotFound) }},
		} {
			if tc.q.WorkspaceID == "" {
				tc.q.WorkspaceID = "ws1"
			}
			if _, _, err := e.svc.ListLedger(e.ctx, tc.q); !tc.want(err) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})
}

// TestFilteredLedgerPagesAreBounded reads a spender's one entry after
// many of a member's with pages of one: each page reads at most ten
// entries, so the first pages are empty and still have a token.
func TestFilteredLedgerPagesAreBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		e.grant(100*C, 0, e.clock().Add(30*24*time.Hour))
		for range 12 {
			e.mustReserve("ann", C)
		}
		if _, err := e.spend("bot", C, 0); err != nil {
			t.Fatal(err)
		}
		end := e.clock().Add(time.Millisecond)
		q := quota.LedgerQuery{WorkspaceID: "ws1", SpenderID: "bot", End: end, PageSize: 1}
		var pages []int
		for range 10 {
			page, next, err := e.svc.ListLedger(e.ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, len(page))
			if next == "" {
				break
			}
			q.PageToken = next
		}
		// 16 entries before bot's (workspace, ann's reset and upgrade,
		// grant_add, 12 reserves): a first page of ten entries read,
		// empty, then bot's entry and the end.
		if diff := cmp.Diff([]int{0, 1}, pages); diff != "" {
			t.Errorf("entries per page (-want +got):\n%s", diff)
		}
	})
}

// amounts lists a ledger entry's amounts: name, amount, name, amount...
func amounts(kv ...any) []quota.LedgerAmount {
	var out []quota.LedgerAmount
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, quota.LedgerAmount{Name: kv[i].(string), Amount: kv[i+1].(int64)})
	}
	return out
}
