package quota

import "slices"

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
