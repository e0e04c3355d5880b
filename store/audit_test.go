package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
)

// audit audits ws1 and returns the report.
func (e *env) audit() quota.AuditReport {
	e.t.Helper()
	rep, err := e.svc.AuditWorkspace(e.ctx, "ws1")
	if err != nil {
		e.t.Fatalf("AuditWorkspace: %v", err)
	}
	return rep
}

func TestAuditFindsNoDriftThenTheCorruption(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.policy(quota.Policy{OverageEnabled: true, OverageCap: 5 * C})
		g1 := e.grant(100*C, 0, yearEnd)
		e.seat("m1", quota.SeatPro)
		e.seat("m2", quota.SeatMax)
		e.seat("m3", quota.SeatFree)
		r1 := e.mustReserve("m1", 30*C)
		if _, err := e.commit(r1.ID, actions(4)); err != nil {
			t.Fatal(err)
		}
		e.mustReserve("m2", 10*C)
		if _, err := e.adjust("m2", -39990*C, "drain"); err != nil {
			t.Fatal(err)
		}
		e.mustReserve("m2", 20*C) // from the pool
		if _, err := e.spend("api-1", 3*C, 0); err != nil {
			t.Fatal(err)
		}
		r3 := e.mustReserve("m3", 1*C)
		if _, err := e.refund(r3.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.adjust("", 10*C, "credit"); err != nil {
			t.Fatal(err)
		}

		rep := e.audit()
		if len(rep.Drifts) != 0 {
			t.Fatalf("drifts on clean books: %+v", rep.Drifts)
		}
		if rep.Accounts != 3 || rep.Grants != 2 || rep.Reservations != 3 || !rep.LedgerComplete || rep.LedgerEntries == 0 {
			t.Errorf("report: %+v, want 3 accounts, 2 grants, 3 open reservations and the whole ledger", rep)
		}

		e.corrupt("acct:m1", "held", 2*C)
		e.corrupt("grant:"+g1.ID, "spent", 1)
		rep = e.audit()
		got := map[string]quota.Drift{}
		for _, d := range rep.Drifts {
			got[d.Subject+" "+d.Field] = d
		}
		want := map[string]quota.Drift{
			"account m1 allocated": {Subject: "account m1", Field: "allocated", Recorded: 8000 * C,
				Recomputed: 8000*C + 2*C, Explanation: "available + held + spent + forfeited"},
			"account m1 held": {Subject: "account m1", Field: "held", Recorded: 2 * C, Recomputed: 0,
				Explanation: "the seat and free credits its open reservations hold"},
			"pool spent": {Subject: "pool", Field: "spent", Recorded: 0, Recomputed: 1, Explanation: "the grants' spent credits"},
		}
		for k, w := range want {
			if diff := cmp.Diff(w, got[k]); diff != "" {
				t.Errorf("drift %s (-want +got):\n%s", k, diff)
			}
		}
		if len(rep.Drifts) < len(want) {
			t.Errorf("drifts: %+v", rep.Drifts)
		}
	})
}

func TestAuditStopsReplayingATrimmedLedger(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatPro)
		if rep := e.audit(); !rep.LedgerComplete || len(rep.Drifts) != 0 {
			t.Fatalf("before any trim: %+v", rep)
		}
		// Past the ledger's retention, the sweeper trims it.
		e.advance(8 * 24 * time.Hour)
		e.seat("m1", quota.SeatPro) // a new entry, after the cutoff
		if _, err := e.svc.Sweep(e.ctx, 100); err != nil {
			t.Fatal(err)
		}
		if rep := e.audit(); rep.LedgerComplete || len(rep.Drifts) != 0 {
			t.Fatalf("after a trim: %+v, want the ledger not replayed and no drift", rep)
		}
	})
}
