package model

import (
	"fmt"

	"github.com/quota-svc/quota/quota"
)

// Views: what the service should answer now, as quota's types.

// Balance is the owner's balance now: a member's (the workspace's period
// and nothing of their own without an account), or a spender's, which has
// only the pool and overage.
func (m *Model) Balance(o Owner) quota.Balance {
	total, _ := m.spendable(o)
	pool, ov := m.poolAndOverage(o)
	b := quota.Balance{WorkspaceID: m.WorkspaceID, MemberID: o.Member, Spendable: total,
		PeriodStart: m.PeriodStart, PeriodEnd: m.PeriodEnd, PoolLow: m.poolLow()}
	var mb *Member
	if o.Spender == "" {
		mb = m.members[o.Member]
	}
	if c, ok := m.poolCap(mb); ok {
		b.PoolCap, b.HasPoolCap = c, true
	}
	if mb == nil {
		b.Sources = []quota.SourceBalance{{Source: quota.SourceSeat}, {Source: quota.SourceFree},
			{Source: quota.SourcePool, Available: pool}, {Source: quota.SourceOverage, Available: ov}}
		return b
	}
	seat, free := max(m.seatAvailable(mb), 0), max(m.freeAvailable(mb), 0)
	seatHeld, freeHeld, poolHeld := m.seatHeld(mb.ID), m.freeHeld(mb.ID), m.poolHeld(mb.ID)
	b.Seat, b.NextSeat, b.HasNext = mb.Seat, mb.Next, mb.HasNext
	if !mb.HasNext {
		b.NextSeat = quota.SeatNone
	}
	b.PeriodStart, b.PeriodEnd = mb.PeriodStart, mb.PeriodEnd
	b.Allocated = mb.SeatAlloc + mb.FreeAlloc
	b.Available = seat + free
	b.Held = seatHeld + freeHeld
	b.Spent = mb.SeatSpent + mb.FreeSpent
	b.Sources = []quota.SourceBalance{
		{Source: quota.SourceSeat, Allocated: mb.SeatAlloc, Available: seat, Held: seatHeld, Spent: mb.SeatSpent},
		{Source: quota.SourceFree, Allocated: mb.FreeAlloc, Available: free, Held: freeHeld, Spent: mb.FreeSpent},
		{Source: quota.SourcePool, Available: pool, Held: poolHeld, Spent: mb.PoolUsed},
		{Source: quota.SourceOverage, Available: ov},
	}
	b.Totals = quota.Totals{Allocated: mb.Allocated, Available: seat + free,
		Held:  m.heldOf(Owner{Member: mb.ID}, func(p *Parts) int64 { return p.SeatOld + p.Seat + p.Free }),
		Spent: mb.Spent, Forfeited: mb.Forfeited}
	b.PoolUsed = poolHeld + mb.PoolUsed
	b.LowBalance = b.Allocated > 0 && b.Available*100 < b.Allocated*quota.LowBalancePercent
	return b
}

// poolLow tells whether the pool is below 20% of what its active grants
// granted.
func (m *Model) poolLow() bool {
	var live int64
	for _, g := range m.grants {
		if m.active(g) {
			live += g.Amount
		}
	}
	return live > 0 && m.poolAvailable()*100 < live*quota.LowBalancePercent
}

// ReservationOf is a reservation as the service shows it now.
func (m *Model) ReservationOf(r *Reservation) quota.Reservation {
	root := r.Root
	v := quota.Reservation{
		WorkspaceID: m.WorkspaceID, ID: r.ID, MemberID: r.Owner.Member, SpenderID: r.Owner.Spender,
		Origin: r.Origin, State: r.State, Requested: r.Request,
		Held: r.Hold.Total(), HeldFrom: sourceAmounts(r.Hold),
		Deadline: r.Deadline, Created: r.Created, Settled: r.Settled,
		RootID: root.ID, RunTokenCap: root.TokenCap, HasRunTokenCap: root.HasTokenCap,
		RunTokenSpent: root.TokenSpent, RunReservations: root.RunCount,
		Recorded: r.Recorded, PricingVersion: m.versionOf(r),
		Charged: r.Charged, ChargedFromHold: r.ChargedFromHold, ChargedFrom: sourceAmounts(r.ChargedFrom),
		Released: r.Released, Shortfall: r.Shortfall,
	}
	if !root.HasTokenCap {
		v.RunTokenCap = 0
	}
	if r.Parent != nil {
		v.ParentID = r.Parent.ID
	}
	if r.Cost != nil {
		c := *r.Cost
		c.Recorded = quota.CostTotals{TokenCost: r.RecordedToken, ActionCost: r.RecordedAction,
			TotalCost: r.RecordedToken + r.RecordedAction}
		c.TokenCost, c.ActionCost = r.OwnToken+r.RecordedToken, r.OwnAction+r.RecordedAction
		c.TotalCost = c.TokenCost + c.ActionCost
		v.Cost = &c
	}
	return v
}

// sourceAmounts lists the non-zero parts in source order: seat (of any
// period), free, each grant, overage.
func sourceAmounts(p Parts) []quota.SourceAmount {
	var out []quota.SourceAmount
	add := func(s quota.Source, grant string, amount int64) {
		if amount != 0 {
			out = append(out, quota.SourceAmount{Source: s, GrantID: grant, Amount: amount})
		}
	}
	add(quota.SourceSeat, "", p.SeatOld+p.Seat)
	add(quota.SourceFree, "", p.Free)
	for _, g := range p.Grants {
		add(quota.SourcePool, g.Grant, g.Amount)
	}
	add(quota.SourceOverage, "", p.Overage)
	return out
}

// GrantOf is a grant as the service shows it now.
func (m *Model) GrantOf(g *Grant) quota.Grant {
	return quota.Grant{WorkspaceID: m.WorkspaceID, ID: g.ID, Kind: g.Kind, Amount: g.Amount,
		Start: g.Start, Expiry: g.Expiry, Priority: g.Priority, Created: g.Created, State: m.grantState(g),
		Available: m.grantAvailable(g), Held: m.grantHeld(g.ID), Spent: g.Spent, Forfeited: g.Forfeited}
}

// WorkspaceBalance is the workspace's pool and usage now.
func (m *Model) WorkspaceBalance() quota.WorkspaceBalance {
	b := quota.WorkspaceBalance{WorkspaceID: m.WorkspaceID, PeriodStart: m.PeriodStart, PeriodEnd: m.PeriodEnd,
		Policy: m.Policy, OverageUsed: m.OverageUsed, OverageHeld: m.overageHeld(),
		ProgrammaticUsed: m.ProgUsed, ProgrammaticHeld: m.progHeld(), PoolLow: m.poolLow()}
	for _, g := range m.grants {
		v := m.GrantOf(g)
		b.Pool.Granted += g.Amount
		switch v.State {
		case quota.GrantActive:
			b.Pool.Available += v.Available
		case quota.GrantPending:
			b.Pool.Pending += v.Available
		}
		b.Pool.Held += v.Held
		b.Pool.Spent += v.Spent
		b.Pool.Forfeited += v.Forfeited
	}
	return b
}

// Check verifies the model's own invariants: for every member,
// allocated = available + held + spent + forfeited; for every grant,
// amount = available + held + spent + forfeited with nothing negative; a
// HELD reservation's ancestors are HELD.
func (m *Model) Check() error {
	for _, id := range m.memberIDs() {
		t := m.Balance(Owner{Member: id}).Totals
		if t.Allocated != t.Available+t.Held+t.Spent+t.Forfeited || t.Available < 0 || t.Held < 0 {
			return fmt.Errorf("model: member %s: totals %+v break the invariant", id, t)
		}
	}
	for _, g := range m.grants {
		v := m.GrantOf(g)
		if v.Available < 0 || v.Held < 0 || v.Amount != v.Available+v.Held+v.Spent+v.Forfeited {
			return fmt.Errorf("model: grant %s: %+v breaks the invariant", g.ID, v)
		}
	}
	for _, r := range m.held(func(*Reservation) bool { return true }) {
		if q := r.Parent; q != nil && q.State != quota.StateHeld {
			return fmt.Errorf("model: %s is held under %s, which is %s", r.ID, q.ID, q.State)
		}
	}
	return nil
}
