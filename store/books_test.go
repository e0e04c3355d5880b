package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/redis/go-redis/v9"
)

// raw reads a record of the test workspace ("acct:m1", "res:<id>",
// "grant:g1", "ws"): its numbers, and its text fields. A reservation is
// named by its public id.
func (e *env) raw(key string) (map[string]int64, map[string]string) {
	e.t.Helper()
	kind, id, _ := strings.Cut(key, ":")
	if kind == "res" {
		ref, ok := quota.ParseReservationID(id)
		if !ok {
			e.t.Fatalf("raw: bad reservation id %q", id)
		}
		id = ref.Hex
	}
	full := "q:{ws:ws1}:" + kind
	if id != "" {
		full += ":" + id
	}
	raw, err := e.rdb.Get(e.ctx, full).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil // deleted after its retention
	}
	if err != nil {
		e.t.Fatalf("raw %s: %v", full, err)
	}
	rec, err := store.Record(raw, kind)
	if err != nil {
		e.t.Fatal(err)
	}
	nums, strs := map[string]int64{}, map[string]string{}
	for k, v := range rec {
		switch v := v.(type) {
		case int64:
			nums[k] = v
		case string:
			strs[k] = v
		}
	}
	return nums, strs
}

// checkBooks checks, on the raw records, that every counter equals the sum
// of what the reservations hold: per account, per grant and per
// workspace; that nothing is negative; and that a reservation that is not
// held holds nothing.
func (e *env) checkBooks(step string, members []string, grants []string, reservations []string) {
	e.t.Helper()
	type held struct{ seat, free, pool, ov int64 }
	byOwner := map[string]*held{}
	byGrant := map[string]int64{}
	var total held
	for _, id := range reservations {
		r, s := e.raw("res:" + id)
		if r == nil {
			continue // a settled run deleted after its retention
		}
		h := r["h_seat"] + r["h_old"] + r["h_free"] + r["h_pool"] + r["h_ov"]
		for _, f := range []string{"h_seat", "h_old", "h_free", "h_pool", "h_ov"} {
			if r[f] < 0 {
				e.t.Fatalf("%s: reservation %s has %s %d", step, id, f, r[f])
			}
		}
		if r["state"] != int64(quota.StateHeld) {
			if h != 0 || s["h_grants"] != "" {
				e.t.Fatalf("%s: reservation %s in state %d still holds %d (%q)", step, id, r["state"], h, s["h_grants"])
			}
			continue
		}
		o := byOwner[s["owner"]]
		if o == nil {
			o = &held{}
			byOwner[s["owner"]] = o
		}
		o.seat += r["h_seat"] + r["h_old"]
		o.free += r["h_free"]
		total.pool += r["h_pool"]
		total.ov += r["h_ov"]
		var pool int64
		for _, part := range strings.Split(s["h_grants"], ";") {
			if id, amt, ok := strings.Cut(part, ":"); ok {
				v, _ := strconv.ParseInt(amt, 10, 64)
				byGrant[id] += v
				pool += v
			}
		}
		if pool != r["h_pool"] {
			e.t.Fatalf("%s: reservation %s holds %d of pool but its grants %q say %d", step, id, r["h_pool"], s["h_grants"], pool)
		}
	}
	for _, m := range members {
		a, _ := e.raw("acct:" + m)
		avail := a["s_alloc"] - a["s_spent"] - a["s_held"] + a["f_alloc"] - a["f_spent"] - a["f_held"]
		if a["alloc"] != avail+a["held"]+a["spent"]+a["forf"] {
			e.t.Fatalf("%s: account %s: alloc %d != available %d + held %d + spent %d + forfeited %d", step, m, a["alloc"], avail, a["held"], a["spent"], a["forf"])
		}
		o := byOwner[m]
		if o == nil {
			o = &held{}
		}
		if a["held"] != o.seat+o.free || a["f_held"] != o.free || a["s_held"] < 0 || a["p_held"] < 0 {
			e.t.Fatalf("%s: account %s holds seat %d (period %d) free %d, pool %d; its reservations hold seat %d free %d",
				step, m, a["held"]-a["f_held"], a["s_held"], a["f_held"], a["p_held"], o.seat, o.free)
		}
	}
	w, _ := e.raw("ws")
	var active, pending, live int64
	for _, id := range grants {
		g, _ := e.raw("grant:" + id)
		avail := g["amount"] - g["held"] - g["spent"] - g["forf"]
		if g["held"] != byGrant[id] || avail < 0 {
			e.t.Fatalf("%s: grant %s: held %d, reservations hold %d; available %d", step, id, g["held"], byGrant[id], avail)
		}
		switch quota.GrantState(g["state"]) {
		case quota.GrantActive:
			active += avail
			live += g["amount"]
		case quota.GrantPending:
			pending += avail
		default:
			if avail != 0 {
				e.t.Fatalf("%s: grant %s ended (state %d) with %d left", step, id, g["state"], avail)
			}
		}
	}
	if w["p_held"] != total.pool || w["ov_held"] != total.ov || w["p_avail"] != active || w["p_pend"] != pending ||
		w["p_live"] != live || w["p_granted"] != w["p_avail"]+w["p_pend"]+w["p_held"]+w["p_spent"]+w["p_forf"] {
		e.t.Fatalf("%s: workspace pool held %d (reservations %d), overage held %d (reservations %d), available %d (grants %d), pending %d (grants %d), live %d (grants %d), granted %d != available + pending + held + spent %d + forfeited %d",
			step, w["p_held"], total.pool, w["ov_held"], total.ov, w["p_avail"], active, w["p_pend"], pending, w["p_live"], live,
			w["p_granted"], w["p_spent"], w["p_forf"])
	}
	e.checkRuns(step, reservations)
}

// checkRuns checks, on the raw records, that every run's root counts what
// its held children hold (open) and its reservations (nres).
func (e *env) checkRuns(step string, reservations []string) {
	e.t.Helper()
	open, count, held := map[string]int64{}, map[string]int64{}, map[string]int64{}
	roots := map[string]string{}
	for _, id := range reservations {
		r, s := e.raw("res:" + id)
		if r == nil {
			continue
		}
		ref, _ := quota.ParseReservationID(id)
		root := s["root"]
		if root == "" {
			root = ref.Hex
		}
		roots[root] = quota.ReservationID(ref.Origin, root, ref.Version)
		count[root]++
		if s["root"] != "" && r["state"] == int64(quota.StateHeld) {
			open[root] += r["h_seat"] + r["h_old"] + r["h_free"] + r["h_pool"] + r["h_ov"]
			held[root]++
		}
	}
	for hex, id := range roots {
		r, _ := e.raw("res:" + id)
		if r["open"] != open[hex] || r["nres"] != count[hex] || r["nheld"] != held[hex] {
			e.t.Fatalf("%s: run %s: root says its children hold %d (they hold %d), it has %d reservations (it has %d), %d held children (%d)",
				step, id, r["open"], open[hex], r["nres"], count[hex], r["nheld"], held[hex])
		}
	}
}

// TestRandomOperationsKeepTheBooks runs random sequences of every operation
// (roots, children, extends, commits, refunds, grants, policies, clock
// moves across deadlines and resets, sweeps) and checks the books on the
// raw records after every step.
func TestRandomOperationsKeepTheBooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		rng := rand.New(rand.NewPCG(1, 2))
		members := []string{"m1", "m2", "m3"}
		e.seat("m1", quota.SeatPro)
		e.seat("m2", quota.SeatMax)
		e.seat("m3", quota.SeatFree)
		var grants, reservations []string
		for step := range 400 {
			name := ""
			switch op := rng.IntN(100); {
			case op < 20:
				m := members[rng.IntN(3)]
				name = "reserve " + m
				o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", MemberID: m,
					Amount: rng.Int64N(3_000)*C + 1, Min: 1, Origin: quota.OriginConversation, TTL: time.Duration(1+rng.IntN(120)) * time.Second})
				if err == nil {
					reservations = append(reservations, o.Reservation.ID)
				}
			case op < 40 && len(reservations) > 0:
				p := reservations[rng.IntN(len(reservations))]
				name = "child of " + p
				o, err := e.svc.Reserve(e.ctx, quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", ParentID: p,
					Amount: rng.Int64N(500)*C + 1, Min: 1, AllowTopUp: rng.IntN(2) == 0, TTL: time.Duration(1+rng.IntN(120)) * time.Second})
				if err == nil {
					reservations = append(reservations, o.Reservation.ID)
				}
			case op < 55 && len(reservations) > 0:
				id := reservations[rng.IntN(len(reservations))]
				name = "commit " + id
				e.commit(id, actions(rng.IntN(200)))
			case op < 65 && len(reservations) > 0:
				id := reservations[rng.IntN(len(reservations))]
				name = "refund " + id
				e.refund(id)
			case op < 72 && len(reservations) > 0:
				id := reservations[rng.IntN(len(reservations))]
				name = "extend " + id
				e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: id,
					AddAmount: rng.Int64N(300) * C, TTL: time.Duration(1+rng.IntN(120)) * time.Second})
			case op < 78:
				name = "grant"
				g, err := e.svc.AddGrant(e.ctx, e.id(), quota.Grant{WorkspaceID: "ws1", Kind: quota.GrantTopUp,
					Amount: rng.Int64N(2_000)*C + 1, Priority: rng.Int64N(3), Expiry: e.clock().Add(time.Duration(1+rng.IntN(72)) * time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				grants = append(grants, g.ID)
			case op < 80 && len(grants) > 0:
				name = "void"
				e.svc.VoidGrant(e.ctx, e.id(), "ws1", grants[rng.IntN(len(grants))])
			case op < 83:
				name = "policy"
				e.policy(quota.Policy{HasDefaultPoolCap: rng.IntN(2) == 0, DefaultPoolCap: rng.Int64N(1_000) * C,
					OverageEnabled: rng.IntN(2) == 0, OverageCap: rng.Int64N(500) * C})
			case op < 93:
				name = "advance"
				e.advance(time.Duration(rng.IntN(90)) * time.Second)
			case op < 95:
				name = "advance a day"
				e.advance(time.Duration(12+rng.IntN(300)) * time.Hour)
			default:
				name = "sweep"
				if _, err := e.svc.Sweep(e.ctx, 1+rng.IntN(5)); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range members {
				e.balance(m) // rolls periods and releases expired holds
			}
			e.checkBooks(fmt.Sprintf("step %d (%s)", step, name), members, grants, reservations)
		}
	})
}
