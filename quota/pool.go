package quota

import "time"

// GrantKind is the kind of a pool grant.
type GrantKind int

// Grant kinds.
const (
	GrantKindUnknown GrantKind = iota
	// GrantTopUp is a purchased top-up; it expires after TopUpLifetime by
	// default.
	GrantTopUp
	// GrantCommitment is a contractual commitment; its expiry is required.
	GrantCommitment
)

// String is the kind in lower case: "top-up", "commitment".
func (k GrantKind) String() string {
	switch k {
	case GrantTopUp:
		return "top-up"
	case GrantCommitment:
		return "commitment"
	}
	return "unknown"
}

// TopUpLifetime is a top-up's default lifetime.
const TopUpLifetime = 365 * 24 * time.Hour

// GrantState is where a grant is in its life.
type GrantState int

// Grant states.
const (
	GrantStateUnknown GrantState = iota
	// GrantActive: between its start and expiry, drawable.
	GrantActive
	// GrantPending: its start is in the future.
	GrantPending
	// GrantExpired: past its expiry; what was left is forfeited.
	GrantExpired
	// GrantVoided: voided by an operator; what was left is forfeited.
	GrantVoided
)

// String is the state in lower case: "active", "pending", "expired",
// "voided".
func (s GrantState) String() string {
	switch s {
	case GrantActive:
		return "active"
	case GrantPending:
		return "pending"
	case GrantExpired:
		return "expired"
	case GrantVoided:
		return "voided"
	}
	return "unknown"
}

// Grant is a grant of credits to a workspace's pool. At every moment
// Amount = Available + Held + Spent + Forfeited.
type Grant struct {
	WorkspaceID string
	ID          string
	Kind        GrantKind
	Amount      int64
	Start       time.Time
	Expiry      time.Time
	// Priority orders draws: a higher priority is drawn first, then the
	// earliest expiry, then the oldest grant.
	Priority  int64
	Created   time.Time
	State     GrantState
	Available int64
	Held      int64
	Spent     int64
	Forfeited int64
}

// Policy is a workspace's pool and overage settings.
type Policy struct {
	// DefaultPoolCap is a member's pool cap per period unless the member
	// has an override; 0 means no pool access. Without one
	// (HasDefaultPoolCap false) members draw without limit.
	DefaultPoolCap    int64
	HasDefaultPoolCap bool
	// OverageEnabled turns pay-as-you-go on, up to OverageCap per period.
	OverageEnabled bool
	OverageCap     int64
	// ProgrammaticCap bounds what API keys and triggers spend per period
	// (pool and overage together); without one it is unlimited.
	ProgrammaticCap    int64
	HasProgrammaticCap bool
	// Pooled: members get no seat credits; everyone draws straight from
	// the pool. A change applies at each member's next reset.
	Pooled bool
}

// MemberCap is a member's pool cap override.
type MemberCap struct {
	// Set false clears the override: the workspace default applies.
	Set bool
	// Unlimited, with Set, lets the member draw without limit.
	Unlimited bool
	// Cap, with Set and not Unlimited, is the cap per period (0: no pool
	// access).
	Cap int64
}

// PoolBalance is a workspace pool's standing, summed over every grant ever
// added. At every moment
// Granted = Available + Pending + Held + Spent + Forfeited, where Available
// is what live grants have left and Pending what grants that have not
// started yet have.
type PoolBalance struct {
	Granted   int64
	Available int64
	Pending   int64
	Held      int64
	Spent     int64
	Forfeited int64
}

// WorkspaceBalance is a workspace's pool, overage and programmatic usage in
// its current period.
type WorkspaceBalance struct {
	WorkspaceID string
	PeriodStart time.Time
	PeriodEnd   time.Time
	Policy      Policy
	Pool        PoolBalance
	// OverageUsed and OverageHeld are this period's pay-as-you-go.
	OverageUsed int64
	OverageHeld int64
	// ProgrammaticUsed and ProgrammaticHeld are this period's programmatic
	// usage (pool and overage).
	ProgrammaticUsed int64
	ProgrammaticHeld int64
	// PoolLow is set when the pool is below 20% of its live grants.
	PoolLow bool
}

// Denial reasons added by the pool, in precedence after ReasonNoSeat.
const (
	// ReasonPoolCapReached: the member's personal pool cap stops the draw.
	ReasonPoolCapReached = "POOL_CAP_REACHED"
	// ReasonProgrammaticCapReached: the workspace's programmatic cap stops
	// the draw.
	ReasonProgrammaticCapReached = "PROGRAMMATIC_CAP_REACHED"
)
