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
	SourceSeat
	SourceFree
)

// Sources lists the sources a member draws from, in draw order.
var Sources = []Source{SourceSeat, SourceFree}

// SourceAmount is an amount taken from one source.
type SourceAmount struct {
	Source Source `json:"source"`
	Amount int64  `json:"amount"`
}

// Workspace is a workspace's subscription.
type Workspace struct {
	ID string
	// SubscriptionStart anchors the monthly resets.
	SubscriptionStart time.Time
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
	// Sources, in draw order.
	Sources []SourceBalance
	// Totals are the lifetime counters.
	Totals Totals
}

// Reservation is a hold and, once settled, what it charged.
type Reservation struct {
	WorkspaceID string
	ID          string
	MemberID    string
	Origin      Origin
	State       State
	Requested   int64
	Held        int64
	HeldFrom    []SourceAmount
	Deadline    time.Time
	Created     time.Time
	Settled     time.Time // zero while held
	// Cost is the priced usage of a committed reservation.
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

// RunCost is the cost of a whole agent chain.
type RunCost struct {
	Origin         Origin    `json:"origin"`
	Root           AgentCost `json:"root"`
	TokenCost      int64     `json:"token_cost"`
	ActionCost     int64     `json:"action_cost"`
	TotalCost      int64     `json:"total_cost"`
	FallbackModels []string  `json:"fallback_models,omitempty"`
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
