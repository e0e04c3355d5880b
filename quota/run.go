package quota

import (
	"context"
	"slices"
	"strconv"
)

// A run is a tree of reservations: the root, taken before the main agent
// runs, and child reservations for sub-agents (ReserveRequest.ParentID),
// which may have children of their own.
//
//   - A child's hold is carved out of its parent's free hold (what the
//     parent holds beyond the cost its committed children recorded); with
//     AllowTopUp the rest is drawn from the sources in order.
//   - A child's Commit prices its usage and records the cost under its
//     nearest held ancestor, its hold returning to that ancestor; nothing is
//     charged yet. The root's Commit charges its own cost and every recorded
//     cost of the tree in one atomic step, from the tree's hold first, and
//     voids the children still open.
//   - Refunding a reservation voids it and its open descendants and drops
//     the costs they recorded; refunding the root voids the whole run.
//   - A child's deadline is at most its parent's, when it is reserved and
//     when it is extended (a parent that later moves its own deadline
//     earlier voids its children still held when it expires). A child
//     that expires, or is voided, returns its hold (and
//     the costs its subtree recorded) to its nearest held ancestor; with
//     none left, its hold is released and a late Commit charges it
//     directly, like a root.
//   - A run may carry a cap on token credits (RunTokenCap, set on the
//     root): a child Reserve or an Extend anywhere in the run is refused
//     with ReasonRunCapReached when the token credits recorded so far,
//     what the run's open children hold, and what it asks for would pass
//     the cap (a child Reserve with a minimum gets what fits, if that
//     meets the minimum). Token credits recorded by a subtree that is
//     later refunded still count: the tokens were used.

// Reasons a run adds to the denial reasons.
const (
	// ReasonRunCapReached: the run's token cap stops the hold.
	ReasonRunCapReached = "RUN_CAP_REACHED"
	// ReasonParentHoldExhausted: the parent's free hold cannot cover the
	// child's minimum, and the request did not allow a top-up.
	ReasonParentHoldExhausted = "PARENT_HOLD_EXHAUSTED"
)

// NestCosts returns own with each of subs nested as a sub-agent of own's
// main agent, in order, and the totals of the agent and the run updated:
// the cost of a run shown as one tree, main agent and sub-agents nested.
func NestCosts(own RunCost, subs []RunCost) RunCost {
	if len(subs) == 0 {
		return own
	}
	root := own.Root
	root.SubAgents = append([]AgentCost(nil), root.SubAgents...)
	own.FallbackModels = append([]string(nil), own.FallbackModels...)
	seen := map[string]bool{}
	for _, m := range own.FallbackModels {
		seen[m] = true
	}
	for _, sub := range subs {
		root.SubAgents = append(root.SubAgents, sub.Root)
		root.TokenCost += sub.TokenCost
		root.ActionCost += sub.ActionCost
		root.TotalCost += sub.TotalCost
		for _, m := range sub.FallbackModels {
			if !seen[m] {
				seen[m] = true
				own.FallbackModels = append(own.FallbackModels, m)
			}
		}
	}
	slices.Sort(own.FallbackModels)
	own.Root = root
	own.TokenCost, own.ActionCost, own.TotalCost = root.TokenCost, root.ActionCost, root.TotalCost
	return own
}

// RunCostEntry is one committed reservation of a run whose cost shows in
// the run's cost.
type RunCostEntry struct {
	ReservationID string
	// Under is its nearest committed ancestor: the reservation whose main
	// agent its own main agent nests under ("" for the top of the run).
	Under string
	// Cost is its own priced usage; Cost.Recorded what its descendants had
	// recorded under it when it was committed.
	Cost RunCost
}

// showsInRun tells whether a committed reservation's cost shows in its
// run's cost: unless an ancestor it was recorded under dropped it, that is
// was refunded itself (an ancestor voided by another's settlement passed
// its costs up).
func showsInRun(e *RunEntry) bool {
	if e.State != StateCommitted || e.Cost == nil {
		return false
	}
	for _, a := range e.Ancestors {
		if a.State == StateRefunded && !a.Voided {
			return false
		}
	}
	return true
}

// ListRunCosts pages the costs of a run, given any of its reservations:
// each committed reservation whose cost shows, in the order they were
// made (the root first), with the reservation it nests under. pageToken is
// "" for the first page or a previous next token; the returned token is
// "" after the last page. Nesting each entry's Cost.Root under its Under's
// main agent (NestCosts) rebuilds the run's cost as one tree.
func (s *Service) ListRunCosts(ctx context.Context, workspaceID, reservationID string, pageSize int, pageToken string) ([]RunCostEntry, string, error) {
	ref, ok := ParseReservationID(reservationID)
	if !ok {
		return nil, "", ErrReservationNotFound
	}
	size, err := PageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	after := int64(-1)
	if pageToken != "" {
		v, err := strconv.ParseInt(pageToken, 10, 64)
		if err != nil || v < 0 {
			return nil, "", Invalid("page_token", "is not a token this service returned")
		}
		after = v
	}
	entries, next, err := s.st.ListRun(ctx, workspaceID, ref, s.cfg.Now(), after, size)
	if err != nil {
		return nil, "", err
	}
	out := make([]RunCostEntry, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		if !showsInRun(e) {
			continue
		}
		ce := RunCostEntry{ReservationID: e.ID, Cost: *e.Cost}
		for _, a := range e.Ancestors {
			if a.State == StateCommitted {
				ce.Under = a.ID
				break
			}
		}
		out = append(out, ce)
	}
	if next < 0 {
		return out, "", nil
	}
	return out, strconv.FormatInt(next, 10), nil
}

// NestRun rebuilds a run's cost as one tree from the entries
// ListRunCosts returned (every page, in order): each entry's own usage
// tree nested under the main agent of the entry it is under, children in
// the order they were reserved. The totals are what the run's trees add
// up to; they equal the root's charged cost when every cost recorded in
// the run was charged with it.
func NestRun(entries []RunCostEntry) RunCost {
	kids := map[string][]int{}
	top := -1
	for i := range entries {
		if u := entries[i].Under; u != "" {
			kids[u] = append(kids[u], i)
		} else if top < 0 {
			top = i
		}
	}
	if top < 0 {
		return RunCost{}
	}
	var nest func(i, depth int) RunCost
	nest = func(i, depth int) RunCost {
		c := entries[i].Cost
		own := RunCost{Origin: c.Origin, Root: c.Root, FallbackModels: c.FallbackModels,
			TokenCost: c.Root.TokenCost, ActionCost: c.Root.ActionCost, TotalCost: c.Root.TotalCost}
		if depth > MaxDepth {
			return own
		}
		var subs []RunCost
		for _, k := range kids[entries[i].ReservationID] {
			subs = append(subs, nest(k, depth+1))
		}
		return NestCosts(own, subs)
	}
	return nest(top, 1)
}
