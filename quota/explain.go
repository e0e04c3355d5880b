package quota

import (
	"context"
	"fmt"
	"time"
)

// Explanations: what makes up a member's balance, or the pool's, part by
// part, with the book-keeping invariants checked on what was read.

// Explanation is ExplainBalance's answer.
type Explanation struct {
	// Balance is the member's (nil for the pool).
	Balance *Balance
	// Workspace is the workspace's pool and usage.
	Workspace WorkspaceBalance
	// Components are the parts of the balance, in draw order.
	Components []BalanceComponent
	// Holds are open holds (the member's, or every one for the pool),
	// earliest deadline first, at most MaxExplainHolds; HoldsTruncated is
	// set when there are more.
	Holds          []Reservation
	HoldsTruncated bool
	// Checks are the invariants checked.
	Checks []InvariantCheck
}

// MaxExplainHolds bounds the holds an explanation lists.
const MaxExplainHolds = 100

// BalanceComponent is one part of a balance. Kind is one of "seat",
// "free", "earlier_periods", "pool", "overage", "grant", "ended_grants".
type BalanceComponent struct {
	Kind        string
	Description string
	Source      Source
	GrantID     string
	Start, End  time.Time
	Allocated   int64
	Available   int64
	Held        int64
	Spent       int64
	Forfeited   int64
	// Cap bounds it per period when HasCap.
	Cap    int64
	HasCap bool
}

// InvariantCheck is an equation and the values of its two sides.
type InvariantCheck struct {
	Equation    string
	Left, Right int64
}

// Holds tells whether the two sides are equal.
func (c InvariantCheck) Holds() bool { return c.Left == c.Right }

// ExplainBalance explains a member's balance, or the pool's when memberID
// is "".
func (s *Service) ExplainBalance(ctx context.Context, workspaceID, memberID string) (Explanation, error) {
	if memberID == "" {
		return s.explainPool(ctx, workspaceID)
	}
	b, err := s.GetBalance(ctx, workspaceID, memberID)
	if err != nil {
		return Explanation{}, err
	}
	wb, err := s.GetWorkspaceBalance(ctx, workspaceID)
	if err != nil {
		return Explanation{}, err
	}
	e := Explanation{Balance: &b, Workspace: wb}
	src := map[Source]SourceBalance{}
	for _, sb := range b.Sources {
		src[sb.Source] = sb
	}
	seat, free, pool, ov := src[SourceSeat], src[SourceFree], src[SourcePool], src[SourceOverage]
	seatDesc := fmt.Sprintf("this period's credits of the %s seat, drawn first; what is unused at the reset is forfeited", b.Seat)
	if wb.Policy.Pooled {
		seatDesc = "this period's seat credits: none from the seat in a pooled workspace (adjustments only); forfeited at the reset"
	}
	e.Components = append(e.Components,
		BalanceComponent{Kind: "seat", Description: seatDesc, Source: SourceSeat, Start: b.PeriodStart, End: b.PeriodEnd,
			Allocated: seat.Allocated, Available: seat.Available, Held: seat.Held, Spent: seat.Spent},
		BalanceComponent{Kind: "free", Description: "free lifetime credits (a Free seat's, once per member): never reset, drawn after the seat's",
			Source: SourceFree, Allocated: free.Allocated, Available: free.Available, Held: free.Held, Spent: free.Spent})
	if old := b.Totals.Held - seat.Held - free.Held; old != 0 {
		e.Components = append(e.Components, BalanceComponent{Kind: "earlier_periods", Source: SourceSeat, Held: old,
			Description: "seat credits of ended periods still held by open reservations: spent if committed, forfeited if released"})
	}
	pc := BalanceComponent{Kind: "pool", Source: SourcePool, Start: wb.PeriodStart, End: wb.PeriodEnd,
		Available: pool.Available, Held: pool.Held, Spent: pool.Spent, Cap: b.PoolCap, HasCap: b.HasPoolCap,
		Description: "what the member may draw from the workspace pool now (within the pool cap for the period); " +
			"held and spent are the member's pool use this period, not counted in the balance's own held and spent"}
	if !b.Seat.DrawsFromPool() {
		pc.Description = fmt.Sprintf("a %s seat never draws from the pool", b.Seat)
	}
	e.Components = append(e.Components, pc)
	if wb.Policy.OverageEnabled {
		e.Components = append(e.Components, BalanceComponent{Kind: "overage", Source: SourceOverage,
			Start: wb.PeriodStart, End: wb.PeriodEnd, Available: ov.Available, Held: wb.OverageHeld, Spent: wb.OverageUsed,
			Cap: wb.Policy.OverageCap, HasCap: true,
			Description: "pay-as-you-go once every other source is spent: held and spent are the whole workspace's this period"})
	}
	if err := s.explainHolds(ctx, &e, workspaceID, memberID); err != nil {
		return Explanation{}, err
	}
	t := b.Totals
	if !e.HoldsTruncated {
		var own, fromPool int64
		for _, r := range e.Holds {
			for _, f := range r.HeldFrom {
				switch f.Source {
				case SourceSeat, SourceFree:
					own += f.Amount
				case SourcePool:
					fromPool += f.Amount
				}
			}
		}
		e.Checks = append(e.Checks,
			InvariantCheck{Equation: "held (lifetime) = the seat and free credits the open holds listed hold", Left: t.Held, Right: own},
			InvariantCheck{Equation: "pool held = the pool credits the open holds listed hold", Left: pool.Held, Right: fromPool})
	}
	e.Checks = append(e.Checks,
		InvariantCheck{Equation: "allocated = available + held + spent + forfeited (the member's own credits, for life)",
			Left: t.Allocated, Right: t.Available + t.Held + t.Spent + t.Forfeited},
		InvariantCheck{Equation: "available = seat available + free available", Left: b.Available,
			Right: seat.Available + free.Available})
	return e, nil
}

// explainHoldsBudget bounds the deadlines index entries an explanation
// reads to list holds.
const explainHoldsBudget = 10 * MaxExplainHolds

// explainHolds lists up to MaxExplainHolds open holds of owner ("" for
// every one), earliest deadline first.
func (s *Service) explainHolds(ctx context.Context, e *Explanation, workspaceID, owner string) error {
	page, err := s.st.ListHolds(ctx, HoldsOp{WorkspaceID: workspaceID, Owner: owner, Now: s.cfg.Now(),
		Limit: MaxExplainHolds, Budget: explainHoldsBudget})
	if err != nil {
		return err
	}
	e.Holds, e.HoldsTruncated = page.Reservations, page.More
	return nil
}

// explainPool lists the pool's grants with the workspace's sums, read
// again until both reads of the sums agree (at most 3 times).
func (s *Service) explainPool(ctx context.Context, workspaceID string) (Explanation, error) {
	var e Explanation
	for range 3 {
		wb, err := s.GetWorkspaceBalance(ctx, workspaceID)
		if err != nil {
			return Explanation{}, err
		}
		var grants []Grant
		var after int64
		for {
			page, next, err := s.st.ListGrants(ctx, workspaceID, s.cfg.Now(), after, MaxPageSize)
			if err != nil {
				return Explanation{}, err
			}
			grants = append(grants, page...)
			if next == 0 {
				break
			}
			after = next
		}
		again, err := s.GetWorkspaceBalance(ctx, workspaceID)
		if err != nil {
			return Explanation{}, err
		}
		e = poolExplanation(wb, grants)
		if again.Pool == wb.Pool {
			break
		}
	}
	if err := s.explainHolds(ctx, &e, workspaceID, ""); err != nil {
		return Explanation{}, err
	}
	return e, nil
}

// poolExplanation explains the pool from its sums and its grants.
func poolExplanation(wb WorkspaceBalance, grants []Grant) Explanation {
	e := Explanation{Workspace: wb}
	var sum, ended Grant
	var active, pending int64
	for _, g := range grants {
		sum.Amount += g.Amount
		sum.Held += g.Held
		sum.Spent += g.Spent
		sum.Forfeited += g.Forfeited
		switch g.State {
		case GrantActive, GrantPending:
			if g.State == GrantActive {
				active += g.Available
			} else {
				pending += g.Available
			}
			e.Components = append(e.Components, BalanceComponent{Kind: "grant", Source: SourcePool, GrantID: g.ID,
				Start: g.Start, End: g.Expiry, Allocated: g.Amount, Available: g.Available, Held: g.Held,
				Spent: g.Spent, Forfeited: g.Forfeited,
				Description: fmt.Sprintf("%s, %s, priority %d", g.Kind, g.State, g.Priority)})
		default:
			ended.Amount += g.Amount
			ended.Held += g.Held
			ended.Spent += g.Spent
			ended.Forfeited += g.Forfeited
		}
	}
	if ended.Amount > 0 {
		e.Components = append(e.Components, BalanceComponent{Kind: "ended_grants", Source: SourcePool,
			Allocated: ended.Amount, Held: ended.Held, Spent: ended.Spent, Forfeited: ended.Forfeited,
			Description: "every expired or voided grant: what they had left was forfeited; what they still hold is forfeited when released"})
	}
	p := wb.Pool
	e.Checks = []InvariantCheck{
		{Equation: "granted = available + pending + held + spent + forfeited", Left: p.Granted,
			Right: p.Available + p.Pending + p.Held + p.Spent + p.Forfeited},
		{Equation: "granted = the grants' amounts", Left: p.Granted, Right: sum.Amount},
		{Equation: "available = the active grants' available", Left: p.Available, Right: active},
		{Equation: "pending = the pending grants' available", Left: p.Pending, Right: pending},
		{Equation: "held = the grants' held", Left: p.Held, Right: sum.Held},
		{Equation: "spent = the grants' spent", Left: p.Spent, Right: sum.Spent},
		{Equation: "forfeited = the grants' forfeited", Left: p.Forfeited, Right: sum.Forfeited},
	}
	return e
}
