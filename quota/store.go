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
	GetReservation(ctx context.Context, workspaceID string, ref ReservationRef, now time.Time) (Reservation, error)
	// ListRun returns up to limit reservations of ref's run, in the order
	// they were made, after the cursor (-1: from the root), and the cursor
	// of the next page (-1: no more).
	ListRun(ctx context.Context, workspaceID string, ref ReservationRef, now time.Time, after int64, limit int) ([]RunEntry, int64, error)
	// GetBalance returns a member's balance as of now.
	GetBalance(ctx context.Context, workspaceID, memberID string, now time.Time) (Balance, error)
	// CurrentPricingVersion returns the number of the current price
	// version; ok is false when none was ever stored (version 0 is in
	// force).
	CurrentPricingVersion(ctx context.Context) (version int64, ok bool, err error)
	// LoadPricingVersion returns a stored price version (version 0 is
	// DefaultPriceVersion), or ErrPricingVersionNotFound.
	LoadPricingVersion(ctx context.Context, version int64) (PriceVersion, error)
	// SavePricing stores a new price version and makes it current.
	SavePricing(ctx context.Context, op PricingOp) (PriceVersion, error)
	// ListPricingVersions returns up to limit stored versions older than
	// before (0: from the newest), newest first, and the cursor of the next
	// page (0: no more).
	ListPricingVersions(ctx context.Context, before int64, limit int) ([]PriceVersion, int64, error)
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
	// Adjust credits or debits a member's seat credits of this period, or
	// the pool (see Service.Adjust).
	Adjust(ctx context.Context, op AdjustOp) (Adjustment, error)
	// Audit recomputes a workspace's accounts and grants from its records
	// and reports the differences; it changes nothing.
	Audit(ctx context.Context, workspaceID string, now time.Time) (AuditReport, error)
	// Workspaces lists every workspace ever set up.
	Workspaces(ctx context.Context) ([]string, error)
	// Sweep does the background work due at now across all workspaces,
	// within limit holds released: releases expired holds, applies grant
	// expiries, deletes settled records past their retention and trims
	// the streams. Any number of sweepers may run at once.
	Sweep(ctx context.Context, now time.Time, limit int) (SweepStats, error)
	// ReportStore reads the reports: usage, members, ledger, holds.
	ReportStore
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
	// Replayed is set when the request id was met before: nothing
	// changed, and the first outcome is answered again (for metrics, which
	// count what changed once).
	Replayed bool
	// Added is what an Extend added to the hold (Service.Extend sets it:
	// 0 for a free run's, which holds nothing).
	Added int64
	// Carved is what a child's Reserve or Extend moved into its hold from
	// an ancestor's (credits the run held already); the rest was drawn from
	// the sources. 0 for any other call, and on a replay.
	Carved int64
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
	// Ref is the new reservation: its origin, key (RequestHex) and price
	// version.
	Ref ReservationRef
	// Parent, when its Hex is set, makes a child reservation of the
	// parent's run (see run.go); the member and spender may then be empty
	// (the parent's) and AllowTopUp lets the hold draw from the sources
	// what the parent cannot give.
	Parent     ReservationRef
	AllowTopUp bool
	// RunTokenCap, on a root with HasRunTokenCap, caps the run's token
	// credits.
	RunTokenCap    int64
	HasRunTokenCap bool
	Amount         int64
	Min            int64
	Deadline       time.Time
	Now            time.Time
}

// ExtendOp adds AddAmount to a hold (all or nothing) and, unless Deadline is
// zero, moves its deadline.
type ExtendOp struct {
	Idem
	WorkspaceID string
	Ref         ReservationRef
	AddAmount   int64
	Deadline    time.Time
	Now         time.Time
}

// CommitOp settles a reservation with its priced usage: Cost (priced with
// Ref.Version) and the number of agents of the usage tree.
type CommitOp struct {
	Idem
	WorkspaceID string
	Ref         ReservationRef
	Cost        RunCost
	Agents      int64
	Now         time.Time
}

// RefundOp voids a reservation.
type RefundOp struct {
	Idem
	WorkspaceID string
	Ref         ReservationRef
	Now         time.Time
	// Actor and Reason are an operator's (AdminService.RefundReservation),
	// kept in the ledger entry; "" for the orchestrator's Refund.
	Actor, Reason string
}

// PricingOp stores a new price version: Table, set by Actor at Now.
type PricingOp struct {
	Idem
	Table PriceTable
	Actor string
	Now   time.Time
}

// RunEntry is one reservation of a run, as ListRun returns it.
type RunEntry struct {
	// Seq is its place in the run: 0 for the root, then 1, 2, ... in the
	// order the children were reserved; the cursor of ListRun.
	Seq      int64
	ID       string
	ParentID string
	State    State
	// Recorded: its cost was recorded under an ancestor; Voided: it was
	// voided into an ancestor, which kept the costs its subtree recorded.
	Recorded, Voided bool
	// Cost is its own priced usage, once committed (nil otherwise).
	Cost *RunCost
	// Ancestors are its ancestors, from its parent up to the root.
	Ancestors []RunAncestor
}

// RunAncestor is an ancestor of a run's reservation, as ListRun sees it.
type RunAncestor struct {
	ID     string
	State  State
	Voided bool
}

// SweepStats is what one Sweep did.
type SweepStats struct {
	// Workspaces swept, and those that could not be reached.
	Workspaces, Failed int
	// Released expired holds, and the credits they held (µcredits), in
	// all and by origin (indexed by Origin); Forfeited what of that was
	// forfeited (seat credits of an ended period, ended grants).
	Released         int
	ReleasedCredits  int64
	ReleasedByOrigin [OriginAutomation + 1]int64
	ForfeitedCredits int64
	// Lag is how long past its deadline the oldest hold released had
	// waited (0 when none).
	Lag time.Duration
	// Purged settled reservations past their retention; Trimmed stream
	// entries past theirs.
	Purged, Trimmed int
	// Held: streams a lagging consumer group keeps above their retention.
	Held int
	// UsageDays: days of usage buckets deleted past the usage retention.
	UsageDays int
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
