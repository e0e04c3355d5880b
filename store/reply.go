package store

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/quota-svc/quota/quota"
)

// fields is a script's OK reply: field names ("r.held", "b.s_alloc", ...)
// to decimal strings or text.
type fields map[string]string

func parseFields(kv []string) fields {
	f := make(fields, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return f
}

func (f fields) int(k string) int64 {
	v, _ := strconv.ParseInt(f[k], 10, 64)
	return v
}

// balance reads the "b." fields: the member's account (see lua/lib.lua).
func (f fields) balance(ws, member string) quota.Balance {
	sAlloc, sSpent, sHeld := f.int("b.s_alloc"), f.int("b.s_spent"), f.int("b.s_held")
	fAlloc, fSpent, fHeld := f.int("b.f_alloc"), f.int("b.f_spent"), f.int("b.f_held")
	seat := quota.SourceBalance{Source: quota.SourceSeat, Allocated: sAlloc, Available: sAlloc - sSpent - sHeld, Held: sHeld, Spent: sSpent}
	free := quota.SourceBalance{Source: quota.SourceFree, Allocated: fAlloc, Available: fAlloc - fSpent - fHeld, Held: fHeld, Spent: fSpent}
	b := quota.Balance{
		WorkspaceID: ws,
		MemberID:    member,
		Seat:        quota.SeatByRank(int(f.int("b.seat"))),
		PeriodStart: msTime(f.int("b.ps")),
		PeriodEnd:   msTime(f.int("b.pe")),
		Allocated:   sAlloc + fAlloc,
		Available:   seat.Available + free.Available,
		Held:        sHeld + fHeld,
		Spent:       sSpent + fSpent,
		Sources:     []quota.SourceBalance{seat, free},
	}
	pool := quota.SourceBalance{Source: quota.SourcePool, Available: f.int("b.pool"), Held: f.int("b.p_held"), Spent: f.int("b.p_used")}
	overage := quota.SourceBalance{Source: quota.SourceOverage, Available: f.int("b.ov")}
	b.Sources = append(b.Sources, pool, overage)
	b.Spendable = f.int("b.spendable")
	b.PoolUsed = pool.Held + pool.Spent
	if c := f.int("b.pcap"); c >= 0 {
		b.PoolCap, b.HasPoolCap = c, true
	}
	b.LowBalance, b.PoolLow = f["b.low"] == "1", f["b.pool_low"] == "1"
	if next := f.int("b.next"); f["b.exists"] == "1" && next >= 0 {
		b.NextSeat, b.HasNext = quota.SeatByRank(int(next)), true
	}
	b.Totals = quota.Totals{
		Allocated: f.int("b.alloc"),
		Available: b.Available,
		Held:      f.int("b.held"),
		Spent:     f.int("b.spent"),
		Forfeited: f.int("b.forf"),
	}
	return b
}

// reservation reads the "r." fields (see lua/lib.lua).
func (f fields) reservation(ws string) quota.Reservation {
	hSeat := f.int("r.h_seat") + f.int("r.h_old")
	hFree := f.int("r.h_free")
	hPool, hOv := f.int("r.h_pool"), f.int("r.h_ov")
	r := quota.Reservation{
		WorkspaceID:     ws,
		ID:              f["r.id"],
		MemberID:        f["r.member"],
		Origin:          quota.Origin(f.int("r.origin")),
		State:           quota.State(f.int("r.state")),
		Requested:       f.int("r.req"),
		Held:            hSeat + hFree + hPool + hOv,
		HeldFrom:        sourceAmounts(hSeat, hFree, f["r.h_grants"], f.int("r.h_ov")),
		Deadline:        msTime(f.int("r.dl")),
		Created:         msTime(f.int("r.ct")),
		Settled:         msTime(f.int("r.st")),
		Charged:         f.int("r.ch"),
		ChargedFromHold: f.int("r.chh"),
		ChargedFrom:     sourceAmounts(f.int("r.c_seat"), f.int("r.c_free"), f["r.c_grants"], f.int("r.c_ov")),
		Released:        f.int("r.rel"),
		Shortfall:       f.int("r.sf"),
	}
	if spender, ok := strings.CutPrefix(r.MemberID, spenderMark); ok {
		r.MemberID, r.SpenderID = "", spender
	}
	if r.RootID = f["r.root"]; r.RootID == "" {
		r.RootID = r.ID
	}
	r.ParentID = f["r.parent"]
	r.Recorded = f["r.rec"] == "1"
	r.RunTokenSpent = f.int("r.run_tok")
	if c := f.int("r.run_cap"); c >= 0 {
		r.RunTokenCap, r.HasRunTokenCap = c, true
	}
	if own, ok := parseCost(f["r.cost"]); ok {
		c := f.nestDescendants(r.ID, own)
		r.Cost = &c
	}
	return r
}

func parseCost(raw string) (quota.RunCost, bool) {
	var c quota.RunCost
	if raw == "" || json.Unmarshal([]byte(raw), &c) != nil {
		return c, false
	}
	return c, true
}

// descendant is a committed descendant of a reservation ("k<i>." fields).
type descendant struct {
	id, parent string
	ord        int64 // its place among its parent's children
	cost       quota.RunCost
}

// nestDescendants nests the costs of id's committed descendants under own,
// each under its parent's main agent, children in the order they were
// reserved: the cost of a run shown as one tree.
func (f fields) nestDescendants(id string, own quota.RunCost) quota.RunCost {
	kids := map[string][]descendant{}
	for i := 1; i <= int(f.int("k.n")); i++ {
		pre := "k" + strconv.Itoa(i) + "."
		if c, ok := parseCost(f[pre+"cost"]); ok {
			d := descendant{id: f[pre+"id"], parent: f[pre+"parent"], ord: f.int(pre + "ord"), cost: c}
			kids[d.parent] = append(kids[d.parent], d)
		}
	}
	var nest func(id string, own quota.RunCost, depth int) quota.RunCost
	nest = func(id string, own quota.RunCost, depth int) quota.RunCost {
		list := kids[id]
		if len(list) == 0 || depth > quota.MaxDepth {
			return own
		}
		sort.Slice(list, func(i, j int) bool { return list[i].ord < list[j].ord })
		subs := make([]quota.RunCost, 0, len(list))
		for _, d := range list {
			subs = append(subs, nest(d.id, d.cost, depth+1))
		}
		return quota.NestCosts(own, subs)
	}
	return nest(id, own, 1)
}

// outcome reads a reservation and its member's balance.
func (f fields) outcome(ws string) quota.Outcome {
	r := f.reservation(ws)
	return quota.Outcome{Reservation: r, Balance: f.balance(ws, r.MemberID)}
}

// sourceAmounts lists the non-zero amounts per source, in draw order: seat,
// free, each pool grant (grants is "id:amount;..." in draw order), overage.
func sourceAmounts(seat, free int64, grants string, overage int64) []quota.SourceAmount {
	var out []quota.SourceAmount
	add := func(src quota.Source, grant string, amount int64) {
		if amount != 0 {
			out = append(out, quota.SourceAmount{Source: src, GrantID: grant, Amount: amount})
		}
	}
	add(quota.SourceSeat, "", seat)
	add(quota.SourceFree, "", free)
	for _, part := range strings.Split(grants, ";") {
		if id, amount, ok := strings.Cut(part, ":"); ok {
			v, _ := strconv.ParseInt(amount, 10, 64)
			add(quota.SourcePool, id, v)
		}
	}
	add(quota.SourceOverage, "", overage)
	return out
}

// policy reads a workspace's settings from "w." fields.
func (f fields) policy() quota.Policy {
	p := quota.Policy{
		OverageEnabled: f["w.ov_on"] == "1",
		OverageCap:     f.int("w.ov_cap"),
		Pooled:         f["w.pooled"] == "1",
	}
	if c := f.int("w.pcap"); c >= 0 {
		p.DefaultPoolCap, p.HasDefaultPoolCap = c, true
	}
	if c := f.int("w.prog_cap"); c >= 0 {
		p.ProgrammaticCap, p.HasProgrammaticCap = c, true
	}
	return p
}

// workspace reads a workspace from "w." fields.
func (f fields) workspace(ws string) quota.Workspace {
	return quota.Workspace{ID: ws, SubscriptionStart: msTime(f.int("w.anchor")), Policy: f.policy()}
}

// workspaceBalance reads a workspace's pool and usage from "w." fields.
func (f fields) workspaceBalance(ws string) quota.WorkspaceBalance {
	return quota.WorkspaceBalance{
		WorkspaceID: ws,
		PeriodStart: msTime(f.int("w.wps")),
		PeriodEnd:   msTime(f.int("w.wpe")),
		Policy:      f.policy(),
		Pool: quota.PoolBalance{
			Granted:   f.int("w.p_granted"),
			Available: f.int("w.p_avail"),
			Pending:   f.int("w.p_pending"),
			Held:      f.int("w.p_held"),
			Spent:     f.int("w.p_spent"),
			Forfeited: f.int("w.p_forf"),
		},
		OverageUsed:      f.int("w.ov_used"),
		OverageHeld:      f.int("w.ov_held"),
		ProgrammaticUsed: f.int("w.prog_used"),
		ProgrammaticHeld: f.int("w.prog_held"),
		PoolLow:          f["w.low"] == "1",
	}
}

// grant reads a grant from the fields under prefix ("g." or "g1.").
func (f fields) grant(ws, prefix string, now time.Time) quota.Grant {
	g := quota.Grant{
		WorkspaceID: ws,
		ID:          f[prefix+"id"],
		Kind:        quota.GrantKind(f.int(prefix + "kind")),
		Amount:      f.int(prefix + "amount"),
		Start:       msTime(f.int(prefix + "start")),
		Expiry:      msTime(f.int(prefix + "exp")),
		Priority:    f.int(prefix + "prio"),
		Created:     msTime(f.int(prefix + "ct")),
		State:       quota.GrantState(f.int(prefix + "state")),
		Held:        f.int(prefix + "held"),
		Spent:       f.int(prefix + "spent"),
		Forfeited:   f.int(prefix + "forf"),
	}
	g.Available = g.Amount - g.Held - g.Spent - g.Forfeited
	if g.State == quota.GrantActive && now.Before(g.Start) {
		g.State = quota.GrantPending
	}
	return g
}
