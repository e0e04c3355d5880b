package quota

import (
	"context"
	"time"
)

// Store keeps accounts, reservations and prices. Package store implements it
// on Redis. Every mutation is atomic: its check, its change, its idempotency
// record and its ledger entry happen in one step. A mutation retried with
// the same RequestID and Fingerprint returns the first outcome and changes
// nothing; the same RequestID with another Fingerprint is
// ErrRequestIDReused.
type Store interface {
	// SetWorkspace creates or updates a workspace.
	SetWorkspace(ctx context.Context, op WorkspaceOp) (Workspace, error)
	// GetWorkspace returns a workspace or ErrWorkspaceNotFound.
	GetWorkspace(ctx context.Context, workspaceID string) (Workspace, error)
	// SetSeat changes a member's seat (see SeatOp).
	SetSeat(ctx context.Context, op SeatOp) (Balance, error)
	// Reserve takes a hold, or fails with a *DeniedError.
	Reserve(ctx context.Context, op ReserveOp) (Outcome, error)
	// Extend raises a held reservation and/or moves its deadline.
	Extend(ctx context.Context, op ExtendOp) (Outcome, error)
	// Commit charges a priced run from the hold, then from the sources in
	// order, records any shortfall and releases the rest.
	Commit(ctx context.Context, op CommitOp) (Outcome, error)
	// Refund voids a held reservation.
	Refund(ctx context.Context, op RefundOp) (Outcome, error)
	// GetReservation returns a reservation as of now (a hold past its
	// deadline is expired).
	GetReservation(ctx context.Context, workspaceID, reservationID string, now time.Time) (Reservation, error)
	// GetBalance returns a member's balance as of now.
	GetBalance(ctx context.Context, workspaceID, memberID string, now time.Time) (Balance, error)
	// LoadPricing returns the stored price table; ok is false when none was
	// ever stored.
	LoadPricing(ctx context.Context) (table PriceTable, ok bool, err error)
	// SavePricing replaces the price table.
	SavePricing(ctx context.Context, op PricingOp) (PriceTable, error)
	// SetPolicy sets a workspace's pool and overage settings.
	SetPolicy(ctx context.Context, op PolicyOp) (Workspace, error)
	// SetMemberCap sets or clears a member's pool cap override.
	SetMemberCap(ctx context.Context, op MemberCapOp) (Balance, error)
	// AddGrant adds a grant to a workspace's pool; the store assigns its
	// id and creation order.
	AddGrant(ctx context.Context, op GrantOp) (Grant, error)
	// VoidGrant ends a grant: what is left is forfeited at once, what is
	// held is forfeited when released.
	VoidGrant(ctx context.Context, op VoidGrantOp) (Grant, error)
	// ListGrants returns up to limit grants created after the cursor
	// (0: from the first), oldest first, and the cursor of the next page
	// (0: no more).
	ListGrants(ctx context.Context, workspaceID string, now time.Time, after int64, limit int) ([]Grant, int64, error)
	// GetWorkspaceBalance returns a workspace's pool and usage as of now.
	GetWorkspaceBalance(ctx context.Context, workspaceID string, now time.Time) (WorkspaceBalance, error)
	// Sweep releases up to limit holds whose deadline has passed, across all
	// workspaces, and returns how many it released. Any number of sweepers
	// may run at once.
	Sweep(ctx context.Context, now time.Time, limit int) (int, error)
}

// Idem identifies a mutation for idempotency: the caller's request id and a
// fingerprint of the whole request.
type Idem struct {
	RequestID   string
	Fingerprint string
}

// Outcome is the result of a reservation mutation.
type Outcome struct {
	Reservation Reservation
	Balance     Balance
}

// WorkspaceOp sets a workspace.
type WorkspaceOp struct {
	Idem
	Workspace Workspace
	Now       time.Time
}

// SeatOp sets a member's seat. Rank orders seats: a higher rank is an
// upgrade and applies at once, a lower one at the next reset. Monthly and
// Lifetime are the seat's allocations (Seat.Monthly, Seat.Lifetime).
type SeatOp struct {
	Idem
	WorkspaceID string
	MemberID    string
	Seat        Seat
	Rank        int
	Monthly     int64
	Lifetime    int64
	Now         time.Time
}

// ReserveOp takes a hold of Amount, at least Min, until Deadline, for a
// member or (SpenderID) a programmatic spender.
type ReserveOp struct {
	Idem
	WorkspaceID string
	MemberID    string
	SpenderID   string
	// ParentID makes a child reservation of the run (see run.go); the
	// member and spender may then be empty (the parent's) and AllowTopUp
	// lets the hold draw from the sources what the parent cannot give.
	ParentID   string
	AllowTopUp bool
	// RunTokenCap, on a root with HasRunTokenCap, caps the run's token
	// credits.
	RunTokenCap    int64
	HasRunTokenCap bool
	ReservationID  string
	Origin         Origin
	Amount         int64
	Min            int64
	Deadline       time.Time
	Now            time.Time
}

// ExtendOp adds AddAmount to a hold (all or nothing) and, unless Deadline is
// zero, moves its deadline.
type ExtendOp struct {
	Idem
	WorkspaceID   string
	ReservationID string
	AddAmount     int64
	Deadline      time.Time
	Now           time.Time
}

// CommitOp settles a reservation with a priced run.
type CommitOp struct {
	Idem
	WorkspaceID   string
	ReservationID string
	Cost          RunCost
	Now           time.Time
}

// RefundOp voids a reservation.
type RefundOp struct {
	Idem
	WorkspaceID   string
	ReservationID string
	Now           time.Time
}

// PricingOp replaces the price table.
type PricingOp struct {
	Idem
	Table PriceTable
}

// PolicyOp sets a workspace's pool and overage settings.
type PolicyOp struct {
	Idem
	WorkspaceID string
	Policy      Policy
	Now         time.Time
}

// MemberCapOp sets a member's pool cap override.
type MemberCapOp struct {
	Idem
	WorkspaceID string
	MemberID    string
	Cap         MemberCap
	Now         time.Time
}

// GrantOp adds a grant (Kind, Amount, Start, Expiry, Priority of Grant).
type GrantOp struct {
	Idem
	Grant Grant
	Now   time.Time
}

// VoidGrantOp voids a grant.
type VoidGrantOp struct {
	Idem
	WorkspaceID string
	GrantID     string
	Now         time.Time
}
