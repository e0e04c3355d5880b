package quota

import "fmt"

// Limits. Every limit has a name, a documented value (README, "Limits")
// and an error that names it: a request that would pass one is
// INVALID_ARGUMENT with reason LIMIT_EXCEEDED, the field and the limit's
// name, and changes nothing.

// Limit is one of the service's limits.
type Limit struct {
	// Name is the limit's name on the wire (ErrorInfo metadata "limit").
	Name string
	// Field is the request field that passes it.
	Field string
	// Value is the limit.
	Value int64
	// What says what is counted, after the number: "reservations in one
	// run".
	What string
}

// Run limits: they bound what one script does for a run, whatever its
// size.
const (
	// MaxRunReservations is the most reservations one run may have: its
	// root and every child, settled or not.
	MaxRunReservations = 1000
	// MaxRunHeld is the most child reservations a run may hold at once:
	// what a root's Commit or Refund voids in one step.
	MaxRunHeld = 256
	// MaxRunAgents is the most agents the commits of one run's children
	// may report in all (each commit's usage tree counts its nodes). The
	// root's own Commit, which settles the run, is never refused for it,
	// so that children at the limit cannot keep what they recorded from
	// being charged: a run reports at most MaxRunAgents + MaxNodes.
	MaxRunAgents = 10_000
	// MaxRunCost is the most the children of one run may record in all,
	// with the run's cost so far: 10^15 µcredits. The root's own Commit
	// is never refused for it (its own cost is at most MaxAmount), so a
	// run costs at most 2 × 10^15 µcredits, below 2^53: every sum stays
	// exact.
	MaxRunCost = MaxAmount
	// MaxPoolGranted is the most a workspace's pool may be granted in all
	// (2^52 µcredits), so that pool counters stay exact in Lua numbers.
	MaxPoolGranted int64 = 1 << 52
	// MaxPoolGrants is the most live grants (pending or active, not yet
	// ended) a workspace's pool may hold at once: a draw from the pool
	// touches at most that many, so a Reserve's work and its reservation
	// stay small whatever the pool's history (32 grants of 1 µcredit
	// drawn by one Reserve: 0.18 ms of Redis and a 424-byte reservation).
	// A grant that ends (expires, is voided) makes room.
	MaxPoolGrants = 32
)

// The limits, by name.
var (
	LimitRunReservations = Limit{"run_reservations", "parent_reservation_id", MaxRunReservations,
		"reservations in one run (its root and every child)"}
	LimitRunHeld = Limit{"run_held", "parent_reservation_id", MaxRunHeld,
		"child reservations held at once in one run"}
	LimitRunAgents  = Limit{"run_agents", "usage", MaxRunAgents, "agents reported by the commits of one run's children"}
	LimitRunCost    = Limit{"run_cost", "usage", MaxRunCost, "µcredits of cost recorded by one run's children"}
	LimitRunDepth   = Limit{"run_depth", "parent_reservation_id", MaxDepth, "levels of reservations in one run"}
	LimitPool       = Limit{"pool_granted", "amount", MaxPoolGranted, "µcredits granted to one workspace's pool in all"}
	LimitPoolGrants = Limit{"pool_grants", "workspace_id", MaxPoolGrants,
		"live grants (pending or active) in one workspace's pool; void one, or wait for one to end"}
	LimitDepth = Limit{"usage_depth", "usage", MaxDepth, "levels in one usage tree"}
	LimitNodes = Limit{"usage_agents", "usage", MaxNodes, "agents in one usage tree"}
	LimitItems = Limit{"usage_items", "usage", MaxItems, "model lines and actions in one usage tree"}
)

// Limits lists every limit a script may report, in the order of their
// numbers in the generated Lua constants (1-based): never reorder.
var Limits = []*Limit{&LimitRunReservations, &LimitRunAgents, &LimitRunCost, &LimitRunDepth, &LimitPool, &LimitRunHeld,
	&LimitPoolGrants}

// LimitError returns the CodeLimitExceeded error of l.
func LimitError(l Limit) error {
	return &Error{Code: CodeLimitExceeded, Field: l.Field, Limit: &l,
		Message: fmt.Sprintf("%s: the request would pass the limit %s: at most %d %s", l.Field, l.Name, l.Value, l.What)}
}
