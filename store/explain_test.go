package store_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/internal/schema"
)

// corrupt adds delta to a numeric field of a record of ws1 ("acct:m1",
// "grant:g1", "ws"), behind the scripts' back, as a bug or a hand edit
// would.
func (e *env) corrupt(key, field string, delta int64) {
	e.t.Helper()
	kind, _, _ := cutKind(key)
	full := "q:{ws:ws1}:" + key
	raw, err := e.rdb.Get(e.ctx, full).Result()
	if err != nil {
		e.t.Fatalf("corrupt %s: %v", full, err)
	}
	rec, err := store.Record(raw, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	l := map[string]*schema.Layout{"ws": schema.Workspace, "acct": schema.Account, "grant": schema.Grant, "res": schema.Reservation}[kind]
	rec[field] = rec[field].(int64) + delta
	// The fields as MessagePack values one after the other: uint64
	// (0xcf), int64 (0xd3) and str32 (0xdb).
	var out []byte
	for _, f := range l.Fields {
		switch v := rec[f.Name].(type) {
		case int64:
			tag := byte(0xcf)
			if v < 0 {
				tag = 0xd3
			}
			out = binary.BigEndian.AppendUint64(append(out, tag), uint64(v))
		case string:
			out = append(binary.BigEndian.AppendUint32(append(out, 0xdb), uint32(len(v))), v...)
		}
	}
	if err := e.rdb.Set(e.ctx, full, out, 0).Err(); err != nil {
		e.t.Fatal(err)
	}
}

func cutKind(key string) (kind, id string, ok bool) {
	for i := range len(key) {
		if key[i] == ':' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// checksHold fails unless every check of x holds, or, with want false,
// unless one does not.
func checksHold(t *testing.T, what string, x quota.Explanation, want bool) {
	t.Helper()
	all := true
	for _, c := range x.Checks {
		if !c.Holds() {
			all = false
			if want {
				t.Errorf("%s: %s: %d != %d", what, c.Equation, c.Left, c.Right)
			}
		}
	}
	if !want && all {
		t.Errorf("%s: every check holds, want one to fail: %+v", what, x.Checks)
	}
}

func TestExplainMember(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("m1", quota.SeatPro)
		e.policy(quota.Policy{OverageEnabled: true, OverageCap: 10 * C})
		e.grant(100*C, 0, yearEnd)
		held := e.mustReserve("m1", 30*C)
		if _, err := e.commit(e.mustReserve("m1", 10*C).ID, actions(1)); err != nil {
			t.Fatal(err)
		}
		// A hold across the reset keeps seat credits of the ended period.
		e.set(time.Date(2026, 3, 31, 8, 59, 0, 0, time.UTC))
		long, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: "m1",
			Amount: 5 * C, Origin: quota.OriginConversation, TTL: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		e.set(time.Date(2026, 3, 31, 9, 30, 0, 0, time.UTC))

		x, err := e.svc.ExplainBalance(e.ctx, "ws1", "m1")
		if err != nil {
			t.Fatal(err)
		}
		checksHold(t, "m1", x, true)
		byKind := map[string]quota.BalanceComponent{}
		for _, c := range x.Components {
			byKind[c.Kind] = c
		}
		if c := byKind["seat"]; c.Allocated != 8000*C || c.Available != 8000*C || c.Held != 0 {
			t.Errorf("seat component of the new period: %+v", c)
		}
		if c := byKind["earlier_periods"]; c.Held != 5*C {
			t.Errorf("earlier periods: %+v, want the 5 credits the long hold keeps", c)
		}
		if c := byKind["pool"]; c.Available != 100*C {
			t.Errorf("pool component: %+v", c)
		}
		if c := byKind["overage"]; !c.HasCap || c.Cap != 10*C || c.Available != 10*C {
			t.Errorf("overage component: %+v", c)
		}
		var ids []string
		for _, r := range x.Holds {
			ids = append(ids, r.ID)
		}
		// held expired weeks ago: only the long hold is open.
		if want := []string{long.Reservation.ID}; x.HoldsTruncated || !cmp.Equal(ids, want) || held.ID == long.Reservation.ID {
			t.Errorf("holds %v (truncated %v), want %v", ids, x.HoldsTruncated, want)
		}

		e.corrupt("acct:m1", "alloc", 7)
		x, err = e.svc.ExplainBalance(e.ctx, "ws1", "m1")
		if err != nil {
			t.Fatal(err)
		}
		checksHold(t, "corrupted m1", x, false)
	})
}

func TestExplainPool(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		g1 := e.grant(100*C, 0, yearEnd)
		e.grant(50*C, 5, e.clock().Add(24*time.Hour))
		if _, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantCommitment,
			Amount: 20 * C, Start: e.clock().Add(time.Hour), Expiry: yearEnd}); err != nil {
			t.Fatal(err)
		}
		e.seat("m1", quota.SeatMax)
		if _, err := e.adjust("m1", -40000*C, "draw on the pool"); err != nil {
			t.Fatal(err)
		}
		e.mustReserve("m1", 70*C) // g2 (priority 5) then g1
		e.advance(25 * time.Hour) // the hold expires; g2 expires; g3 starts

		x, err := e.svc.ExplainBalance(e.ctx, "ws1", "")
		if err != nil {
			t.Fatal(err)
		}
		checksHold(t, "pool", x, true)
		var live, ended int
		for _, c := range x.Components {
			switch c.Kind {
			case "grant":
				live++
			case "ended_grants":
				ended++
				if c.Allocated != 50*C || c.Forfeited != 50*C {
					t.Errorf("ended grants: %+v, want g2's 50, forfeited when the hold expired", c)
				}
			}
		}
		if live != 2 || ended != 1 {
			t.Errorf("%d live grants and %d ended lines, want 2 and 1: %+v", live, ended, x.Components)
		}

		e.corrupt("grant:"+g1.ID, "held", 3)
		x, err = e.svc.ExplainBalance(e.ctx, "ws1", "")
		if err != nil {
			t.Fatal(err)
		}
		checksHold(t, "corrupted g1", x, false)
	})
}
