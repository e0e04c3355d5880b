package quota

import "time"

// Seat is the kind of seat a member holds.
type Seat int

// Seats. The zero value is "no seat" (never assigned or unassigned).
const (
	SeatNone Seat = iota
	SeatFree
	SeatPro
	SeatMax
)

// String returns the seat's name.
func (s Seat) String() string {
	switch s {
	case SeatFree:
		return "FREE"
	case SeatPro:
		return "PRO"
	case SeatMax:
		return "MAX"
	default:
		return "NONE"
	}
}

// Origin is where an agent run comes from.
type Origin int

// Origins.
const (
	OriginUnknown Origin = iota
	OriginConversation
	OriginSidekick
	OriginAutomation
)

// Tier is a tool action's price tier.
type Tier int

// Tiers. TierUnknown means "let the catalogue decide".
const (
	TierUnknown Tier = iota
	TierFree
	TierBasic
	TierAdvanced
)

// State is a reservation's state.
type State int

// States: Held moves to exactly one of Committed, Refunded, Expired; Expired
// may still move to Committed.
const (
	StateUnknown State = iota
	StateHeld
	StateCommitted
	StateRefunded
	StateExpired
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateHeld:
		return "HELD"
	case StateCommitted:
		return "COMMITTED"
	case StateRefunded:
		return "REFUNDED"
	case StateExpired:
		return "EXPIRED"
	default:
		return "UNKNOWN"
	}
}

// Source is where credits come from. Sources are drawn in the order of
// their values: seat credits first, then free lifetime credits.
type Source int

// Sources, in draw order.
const (
	SourceUnknown Source = iota
	// SourceSeat is the member's seat credits for the current period.
	SourceSeat
	// SourceFree is the member's free lifetime credits.
	SourceFree
	// SourcePool is the workspace pool: its grants, by priority, then
	// earliest expiry, then oldest.
	SourcePool
	// SourceOverage is pay-as-you-go, where the workspace enabled it.
	SourceOverage
)

// Sources lists the sources in draw order. Programmatic usage draws only
// from the pool and overage; Free seats never from the pool.
var Sources = []Source{SourceSeat, SourceFree, SourcePool, SourceOverage}

// SourceAmount is an amount taken from one source; GrantID names the pool
// grant for SourcePool.
type SourceAmount struct {
	Source  Source `json:"source"`
	GrantID string `json:"grant_id,omitempty"`
	Amount  int64  `json:"amount"`
}

// Workspace is a workspace's subscription.
type Workspace struct {
	ID string
	// SubscriptionStart anchors the monthly resets.
	SubscriptionStart time.Time
	// Policy is the pool and overage settings.
	Policy Policy
}

// SourceBalance is one source's standing for a member.
type SourceBalance struct {
	Source    Source
	Allocated int64
	Available int64
	Held      int64
	Spent     int64
}

// Totals are an account's lifetime counters:
// Allocated = Available + Held + Spent + Forfeited.
type Totals struct {
	Allocated int64
	Available int64
	Held      int64
	Spent     int64
	Forfeited int64
}

// Balance is a member's credits in a workspace.
type Balance struct {
	WorkspaceID string
	MemberID    string
	// Seat is the seat in force; NextSeat a change pending for the next
	// reset (HasNext tells whether there is one).
	Seat     Seat
	NextSeat Seat
	HasNext  bool
	// PeriodStart and PeriodEnd bound the current period; PeriodEnd is the
	// next reset.
	PeriodStart time.Time
	PeriodEnd   time.Time
	// Allocated, Available, Held, Spent sum the member's own sources.
	Allocated int64
	Available int64
	Held      int64
	Spent     int64
	// Spendable is what a Reserve could hold now.
	Spendable int64
	// Sources, in draw order. For the pool, Available is what the member
	// may draw now (after the personal cap); for overage, what is left
	// under the workspace's cap.
	Sources []SourceBalance
	// Totals are the lifetime counters of the member's own credits (seat
	// and free).
	Totals Totals
	// PoolCap is the member's pool cap for the period (the member's
	// override, else the workspace default); HasPoolCap is false when
	// there is none (unlimited). PoolUsed is what the member drew from the
	// pool this period, held or spent.
	PoolCap    int64
	HasPoolCap bool
	PoolUsed   int64
	// LowBalance is set when the member's own spendable credits are below
	// 20% of their allocation; PoolLow when the pool is below 20% of what
	// its live grants granted.
	LowBalance bool
	PoolLow    bool
}

// Reservation is a hold and, once settled, what it charged.
type Reservation struct {
	WorkspaceID string
	ID          string
	// MemberID is the member whose credits are held; SpenderID, for
	// programmatic usage (an API key or trigger), is set instead.
	MemberID  string
	SpenderID string
	Origin    Origin
	State     State
	Requested int64
	Held      int64
	HeldFrom  []SourceAmount
	Deadline  time.Time
	Created   time.Time
	Settled   time.Time // zero while held
	// ParentID is the parent of a child reservation ("" for a root);
	// RootID the run's root (the reservation itself for a root).
	ParentID string
	RootID   string
	// RunTokenCap is the run's cap on token credits, set on the root
	// (HasRunTokenCap false: none); RunTokenSpent the token credits the
	// run recorded so far. Both are the root's, on every reservation of
	// the run.
	RunTokenCap    int64
	HasRunTokenCap bool
	RunTokenSpent  int64
	// Recorded is set on a committed child whose cost was recorded under
	// an ancestor: it is charged when the root commits, so Charged and
	// the amounts below stay 0.
	Recorded bool
	// PricingVersion is the price version the run is priced with (its
	// root's, at Reserve).
	PricingVersion int64
	// RunReservations is how many reservations the run has (its root and
	// every child), on every reservation of the run.
	RunReservations int64
	// Cost is the priced usage of a committed reservation: its own usage
	// tree, with the costs its committed descendants recorded in
	// Cost.Recorded (ListRunCosts pages their trees).
	Cost            *RunCost
	Charged         int64
	ChargedFromHold int64
	ChargedFrom     []SourceAmount
	Released        int64
	Shortfall       int64
}

// ModelUsage is the tokens one agent spent on one model.
type ModelUsage struct {
	Model                                            string
	InputTokens, OutputTokens, CacheRead, CacheWrite int64
}

// ToolAction is one tool action.
type ToolAction struct {
	Tool        string
	Tier        Tier // TierUnknown: the catalogue decides
	ExternalMCP bool
	NotRun      bool
}

// AgentRun is one node of an agent chain.
type AgentRun struct {
	AgentID   string
	Models    []ModelUsage
	Actions   []ToolAction
	SubAgents []AgentRun
}

// ModelCost is one model's cost within one agent.
type ModelCost struct {
	Model    string `json:"model"`
	PricedAs string `json:"priced_as"`
	Fallback bool   `json:"fallback,omitempty"`
	Tokens   int64  `json:"tokens"`
	Cost     int64  `json:"cost"`
}

// ActionCost is one tool action's cost.
type ActionCost struct {
	Tool string `json:"tool"`
	Tier Tier   `json:"tier"`
	Cost int64  `json:"cost"`
	Note string `json:"note,omitempty"`
	// Uncatalogued is set for a tool the catalogue does not list: it is
	// priced as advanced whatever tier the caller sent.
	Uncatalogued bool `json:"uncatalogued,omitempty"`
}

// AgentCost is the cost of one node: its own and with its sub-agents.
type AgentCost struct {
	AgentID       string       `json:"agent_id"`
	Models        []ModelCost  `json:"models,omitempty"`
	Actions       []ActionCost `json:"actions,omitempty"`
	OwnTokenCost  int64        `json:"own_token_cost"`
	OwnActionCost int64        `json:"own_action_cost"`
	OwnCost       int64        `json:"own_cost"`
	TokenCost     int64        `json:"token_cost"`
	ActionCost    int64        `json:"action_cost"`
	TotalCost     int64        `json:"total_cost"`
	SubAgents     []AgentCost  `json:"sub_agents,omitempty"`
}

// RunCost is the cost of an agent chain: Root is the usage tree of one
// commit, priced; the totals add what its run's child reservations
// recorded under it (Recorded; zero from Price).
type RunCost struct {
	Origin         Origin
	Root           AgentCost
	TokenCost      int64
	ActionCost     int64
	TotalCost      int64
	Recorded       CostTotals
	FallbackModels []string
}

// CostTotals are the token, action and total credits of some usage.
type CostTotals struct {
	TokenCost  int64
	ActionCost int64
	TotalCost  int64
}

// ModelPrice is one model's rates in µcredits per million tokens.
type ModelPrice struct {
	Model                                                string
	InputRate, OutputRate, CacheReadRate, CacheWriteRate int64
}

// ToolPrice is one tool of the catalogue.
type ToolPrice struct {
	Tool     string
	Tier     Tier
	Platform bool
}

// PriceTable prices tokens and tool actions.
type PriceTable struct {
	Models        []ModelPrice
	FallbackModel string
	Tools         []ToolPrice
}
