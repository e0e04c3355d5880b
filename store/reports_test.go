package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
)

// Helpers that page through the four reports, checking on every page that
// keys come in order and never twice.

// usage pages through ws1's usage over [start, end) grouped by g, size
// groups a page, and returns the groups by key and the total.
func (e *env) usage(g quota.UsageGrouping, start, end time.Time, size int) (map[string]quota.UsageGroup, quota.UsageGroup) {
	e.t.Helper()
	out := map[string]quota.UsageGroup{}
	var total *quota.UsageGroup
	token, last := "", ""
	for range 10_000 {
		rep, err := e.svc.GetUsage(e.ctx, quota.UsageRequest{WorkspaceID: "ws1", GroupBy: g, Start: start, End: end,
			PageSize: size, PageToken: token})
		if err != nil {
			e.t.Fatalf("GetUsage(%d): %v", g, err)
		}
		if total == nil {
			total = &rep.Total
		} else if rep.Total != *total {
			e.t.Fatalf("GetUsage(%d): the total changed between pages: %+v, then %+v", g, *total, rep.Total)
		}
		for _, grp := range rep.Groups {
			if _, dup := out[grp.Key]; dup || (last != "" && grp.Key <= last) {
				e.t.Fatalf("GetUsage(%d): key %q after %q (repeated or out of order)", g, grp.Key, last)
			}
			out[grp.Key], last = grp, grp.Key
		}
		if rep.NextPageToken == "" {
			return out, *total
		}
		token = rep.NextPageToken
	}
	e.t.Fatal("GetUsage did not end")
	return nil, quota.UsageGroup{}
}

// members pages through ws1's members table, size a page.
func (e *env) members(size int) []quota.Balance {
	e.t.Helper()
	var out []quota.Balance
	token := ""
	for range 10_000 {
		page, next, err := e.svc.ListMembers(e.ctx, "ws1", size, token)
		if err != nil {
			e.t.Fatalf("ListMembers: %v", err)
		}
		for _, b := range page {
			if n := len(out); n > 0 && b.MemberID <= out[n-1].MemberID {
				e.t.Fatalf("ListMembers: %q after %q", b.MemberID, out[n-1].MemberID)
			}
			e.invariant(b)
			out = append(out, b)
		}
		if next == "" {
			return out
		}
		token = next
	}
	e.t.Fatal("ListMembers did not end")
	return nil
}

// ledger pages through ws1's ledger as q selects it (q.End unset: up to
// now), size a page.
func (e *env) ledger(q quota.LedgerQuery, size int) []quota.LedgerEntry {
	e.t.Helper()
	q.WorkspaceID, q.PageSize = "ws1", size
	if q.End.IsZero() {
		q.End = e.clock().Add(time.Millisecond)
	}
	var out []quota.LedgerEntry
	for range 100_000 {
		page, next, err := e.svc.ListLedger(e.ctx, q)
		if err != nil {
			e.t.Fatalf("ListLedger: %v", err)
		}
		for _, x := range page {
			if n := len(out); n > 0 && !idLess(out[n-1].ID, x.ID) {
				e.t.Fatalf("ListLedger: entry %s after %s", x.ID, out[n-1].ID)
			}
			out = append(out, x)
		}
		if next == "" {
			return out
		}
		q.PageToken = next
	}
	e.t.Fatal("ListLedger did not end")
	return nil
}

// idLess orders stream ids "<ms>-<seq>".
func idLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	if len(am) != len(bm) {
		return len(am) < len(bm)
	}
	if am != bm {
		return am < bm
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	return as < bs
}

// holds pages through ws1's open reservations of member or spender,
// size a page.
func (e *env) holds(member, spender string, size int) []quota.Reservation {
	e.t.Helper()
	var out []quota.Reservation
	token := ""
	for range 10_000 {
		page, next, err := e.svc.ListReservations(e.ctx, "ws1", member, spender, size, token)
		if err != nil {
			e.t.Fatalf("ListReservations: %v", err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		token = next
	}
	e.t.Fatal("ListReservations did not end")
	return nil
}

func TestListMembersRollsPeriodsAndReleasesHolds(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		for _, m := range []string{"cat", "ann", "bob", "dan", "eve"} {
			e.seat(m, quota.SeatPro)
		}
		e.grant(1_000*C, 0, e.clock().Add(90*24*time.Hour))
		if _, err := e.spend("bot", 5*C, 0); err != nil { // a spender: not a member
			t.Fatal(err)
		}
		r := e.mustReserve("bob", 100*C)
		if _, err := e.commit(e.mustReserve("ann", 10*C).ID, actions(1)); err != nil {
			t.Fatal(err)
		}
		got := e.members(2)
		var ids []string
		for _, b := range got {
			ids = append(ids, b.MemberID)
			if want := e.balance(b.MemberID); !cmp.Equal(want, b) {
				t.Errorf("ListMembers' %s differs from GetBalance (-GetBalance +ListMembers):\n%s", b.MemberID, cmp.Diff(want, b))
			}
		}
		if diff := cmp.Diff([]string{"ann", "bob", "cat", "dan", "eve"}, ids); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		if got[1].Held != 100*C || got[0].Spent != 3*C {
			t.Errorf("ann %+v, bob %+v: want 3 credits spent, 100 held", got[0], got[1])
		}
		// Past bob's deadline and the next reset (March 31): the table
		// shows the new period, bob's hold released.
		e.set(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
		got = e.members(50)
		for _, b := range got {
			if !b.PeriodStart.Equal(time.Date(2026, 3, 31, 9, 0, 0, 0, time.UTC)) || b.Held != 0 || b.Allocated != 8_000*C {
				t.Errorf("%s after the reset: period %s, held %d, allocated %d", b.MemberID, b.PeriodStart, b.Held, b.Allocated)
			}
		}
		if st := e.get(r.ID).State; st != quota.StateExpired {
			t.Errorf("bob's hold after ListMembers: %v, want EXPIRED", st)
		}
		if _, _, err := e.svc.ListMembers(e.ctx, "nowhere", 10, ""); !errors.Is(err, quota.ErrWorkspaceNotFound) {
			t.Errorf("ListMembers of an unknown workspace: %v", err)
		}
		if _, _, err := e.svc.ListMembers(e.ctx, "ws1", 10, "garbage"); !isInvalid(err, "page_token") {
			t.Errorf("ListMembers with a bad token: %v", err)
		}
	})
}

// isInvalid tells whether err is INVALID_ARGUMENT on field.
func isInvalid(err error, field string) bool {
	var qe *quota.Error
	return errors.As(err, &qe) && qe.Code == quota.CodeInvalidField && qe.Field == field
}

func TestListReservationsOldestFirstByMember(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatMax)
		e.seat("bob", quota.SeatMax)
		e.grant(1_000*C, 0, e.clock().Add(90*24*time.Hour))
		reserve := func(member string, ttl time.Duration) quota.Reservation {
			t.Helper()
			o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: member,
				Amount: C, Origin: quota.OriginConversation, TTL: ttl})
			if err != nil {
				t.Fatal(err)
			}
			return o.Reservation
		}
		// Several holds share a deadline: their order is their key's.
		a1, b1, a2, a3 := reserve("ann", 3*time.Minute), reserve("bob", time.Minute), reserve("ann", time.Minute), reserve("ann", 2*time.Minute)
		kid := e.mustChild(a3.ID, C/2)
		o, err := e.spend("bot", C, 0)
		if err != nil {
			t.Fatal(err)
		}
		spent := o.Reservation
		if _, err := e.commit(reserve("ann", time.Hour).ID, actions(0)); err != nil { // settled: not listed
			t.Fatal(err)
		}
		ids := func(rs []quota.Reservation) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		held := []quota.Reservation{a1, b1, a2, e.get(a3.ID), e.get(kid.ID), spent}
		slices.SortFunc(held, func(x, y quota.Reservation) int {
			if c := x.Deadline.Compare(y.Deadline); c != 0 {
				return c
			}
			xr, _ := quota.ParseReservationID(x.ID)
			yr, _ := quota.ParseReservationID(y.ID)
			return strings.Compare(xr.Hex, yr.Hex)
		})
		all := e.holds("", "", 1)
		if diff := cmp.Diff(ids(held), ids(all)); diff != "" {
			t.Errorf("every hold, by deadline then key (-want +got):\n%s", diff)
		}
		for _, r := range all {
			if want := e.get(r.ID); r.State != quota.StateHeld || !cmp.Equal(want, r) {
				t.Errorf("listed %s differs from GetReservation (-get +list):\n%s", r.ID, cmp.Diff(want, r))
			}
		}
		annIDs := ids(e.holds("ann", "", 1))
		for _, id := range annIDs {
			if id == b1.ID || id == spent.ID {
				t.Errorf("ann's holds list %s", id)
			}
		}
		if len(annIDs) != 4 {
			t.Errorf("ann's holds: %v, want 4", annIDs)
		}
		if got := ids(e.holds("", "bot", 2)); !cmp.Equal(got, []string{spent.ID}) {
			t.Errorf("bot's holds: %v", got)
		}
		// Past the one-minute deadlines, before any call releases them:
		// still listed, as EXPIRED; the listing changes nothing.
		e.advance(90 * time.Second)
		var states []quota.State
		for _, r := range e.holds("", "", 10) {
			states = append(states, r.State)
		}
		x, h := quota.StateExpired, quota.StateHeld
		if diff := cmp.Diff([]quota.State{x, x, x, x, h, h}, states); diff != "" {
			t.Errorf("states past the first deadlines (-want +got):\n%s", diff)
		}
		if _, err := e.svc.Sweep(e.ctx, 100); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{a3.ID, a1.ID}, ids(e.holds("", "", 10))); diff != "" {
			t.Errorf("after a sweep (-want +got):\n%s", diff)
		}
		if _, _, err := e.svc.ListReservations(e.ctx, "ws1", "ann", "bot", 10, ""); !errors.Is(err, quota.ErrMemberAndSpender) {
			t.Errorf("member and spender: %v", err)
		}
		if _, next, err := e.svc.ListReservations(e.ctx, "ws1", "ann", "", 1, ""); err != nil || next == "" {
			t.Fatalf("ann's first page: %q, %v", next, err)
		} else if _, _, err := e.svc.ListReservations(e.ctx, "ws1", "bob", "", 1, next); !isInvalid(err, "page_token") {
			t.Errorf("ann's token for bob: %v", err)
		}
		if _, _, err := e.svc.ListReservations(e.ctx, "nowhere", "", "", 1, ""); !errors.Is(err, quota.ErrWorkspaceNotFound) {
			t.Errorf("unknown workspace: %v", err)
		}
	})
}
