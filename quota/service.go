package quota

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Config holds the service's settings. The zero value of each field means
// its documented default.
type Config struct {
	// DefaultTTL is a hold's lifetime when the request sets none. Default 5m.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL bound a requested TTL. Defaults 1s and 24h.
	MinTTL, MaxTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.DefaultTTL == 0 {
		c.DefaultTTL = 5 * time.Minute
	}
	if c.MinTTL == 0 {
		c.MinTTL = time.Second
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Service is the credit engine: it validates requests, prices agent chains
// and drives the Store. It is safe for concurrent use.
type Service struct {
	st  Store
	cfg Config
	// current is the price table version new runs are priced with.
	current atomic.Pointer[PriceVersion]
	// versions caches the versions met, by number (they never change).
	versions versionCache
}

// Validate checks that the TTL bounds are ordered, with the default
// between them.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.MinTTL <= 0 || c.MinTTL > c.MaxTTL || c.DefaultTTL < c.MinTTL || c.DefaultTTL > c.MaxTTL {
		return fmt.Errorf("quota: want 0 < min TTL (%s) <= default TTL (%s) <= max TTL (%s)", c.MinTTL, c.DefaultTTL, c.MaxTTL)
	}
	return nil
}

// NewService returns a Service on st. Until RefreshPricing succeeds it
// prices with the built-in version 0 (DefaultPriceTable). Check cfg with
// Config.Validate first.
func NewService(st Store, cfg Config) *Service {
	s := &Service{st: st, cfg: cfg.withDefaults()}
	v := DefaultPriceVersion()
	s.versions.put(&v)
	s.current.Store(&v)
	return s
}

// Config returns the service's settings, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// EstimateCost prices an agent chain with the version in force.
func (s *Service) EstimateCost(origin Origin, run AgentRun) (RunCost, int64, error) {
	v := s.current.Load()
	c, err := v.price(origin, run)
	return c, v.Version, err
}

// SetWorkspace creates or updates a workspace.
func (s *Service) SetWorkspace(ctx context.Context, idem Idem, ws Workspace) (Workspace, error) {
	if ws.SubscriptionStart.IsZero() {
		return Workspace{}, Invalid("subscription_start", "is required")
	}
	if err := checkTime("subscription_start", ws.SubscriptionStart); err != nil {
		return Workspace{}, err
	}
	ws.SubscriptionStart = ws.SubscriptionStart.UTC().Truncate(time.Millisecond)
	return s.st.SetWorkspace(ctx, WorkspaceOp{Idem: idem, Workspace: ws, Now: s.cfg.Now()})
}

// GetWorkspace returns a workspace.
func (s *Service) GetWorkspace(ctx context.Context, id string) (Workspace, error) {
	return s.st.GetWorkspace(ctx, id)
}

// SetSeat gives a member a seat (SeatNone unassigns).
func (s *Service) SetSeat(ctx context.Context, idem Idem, workspaceID, memberID string, seat Seat) (Balance, error) {
	if memberID == "" {
		return Balance{}, ErrNoMember
	}
	return s.st.SetSeat(ctx, SeatOp{
		Idem: idem, WorkspaceID: workspaceID, MemberID: memberID,
		Seat: seat, Rank: seat.Rank(), Monthly: seat.Monthly(), Lifetime: seat.Lifetime(),
		Now: s.cfg.Now(),
	})
}

// GetBalance returns a member's balance now.
func (s *Service) GetBalance(ctx context.Context, workspaceID, memberID string) (Balance, error) {
	if memberID == "" {
		return Balance{}, ErrNoMember
	}
	return s.st.GetBalance(ctx, workspaceID, memberID, s.cfg.Now())
}

// GetReservation returns a reservation now.
func (s *Service) GetReservation(ctx context.Context, workspaceID, reservationID string) (Reservation, error) {
	ref, ok := ParseReservationID(reservationID)
	if !ok {
		return Reservation{}, ErrReservationNotFound
	}
	return s.st.GetReservation(ctx, workspaceID, ref, s.cfg.Now())
}

// ReserveRequest asks for a hold.
type ReserveRequest struct {
	Idem
	WorkspaceID string
	// MemberID is the member whose credits are held; for programmatic
	// usage (no member), SpenderID names the API key or trigger instead.
	MemberID  string
	SpenderID string
	// Amount to hold; Min the least acceptable (0: all of Amount). Sidekick
	// runs are free and hold nothing.
	Amount, Min int64
	// TTL is the hold's lifetime; 0 means Config.DefaultTTL.
	TTL    time.Duration
	Origin Origin
	// ParentID makes this a child reservation of the parent's run: its
	// hold is carved out of the parent's (see run.go). Member, spender
	// and origin may be left empty (the parent's); if set they must match.
	// AllowTopUp lets the child draw from the sources what the parent's
	// free hold cannot give.
	ParentID   string
	AllowTopUp bool
	// RunTokenCap, on a root reservation, caps the run's token credits
	// (HasRunTokenCap false: no cap).
	RunTokenCap    int64
	HasRunTokenCap bool
}

// Reserve takes a hold.
func (s *Service) Reserve(ctx context.Context, r ReserveRequest) (Outcome, error) {
	// A run is priced with its root's price version; a child inherits it
	// and its parent's origin, which the parent's id carries (the store
	// checks them, and the owner, against the parent's record).
	version := s.current.Load().Version
	var parent ReservationRef
	if r.ParentID != "" {
		var ok bool
		parent, ok = ParseReservationID(r.ParentID)
		switch {
		case !ok:
			return Outcome{}, ErrParentNotFound
		case r.Origin != OriginUnknown && r.Origin != parent.Origin:
			return Outcome{}, Invalid("origin", "must be the parent's, or unset")
		case r.HasRunTokenCap:
			return Outcome{}, Invalid("run_token_cap", "is set on the root reservation of a run only")
		}
		r.Origin, version = parent.Origin, parent.Version
	}
	switch {
	case r.MemberID == "" && r.SpenderID == "" && r.ParentID == "":
		return Outcome{}, ErrNoMemberOrSpender
	case r.MemberID != "" && r.SpenderID != "":
		return Outcome{}, ErrMemberAndSpender
	}
	if r.Origin < OriginConversation || r.Origin > OriginAutomation {
		return Outcome{}, Invalid("origin", "must be CONVERSATION, SIDEKICK or AUTOMATION")
	}
	if r.HasRunTokenCap {
		if err := checkAmount("run_token_cap", r.RunTokenCap, 0); err != nil {
			return Outcome{}, err
		}
	}
	ttl, err := s.ttl("ttl", r.TTL, true)
	if err != nil {
		return Outcome{}, err
	}
	amount, min := r.Amount, r.Min
	least := int64(1)
	if r.Origin == OriginSidekick {
		least = 0 // free: any amount is accepted and nothing is held
	}
	if err := checkAmount("amount", amount, least); err != nil {
		return Outcome{}, err
	}
	if err := checkAmount("min_amount", min, 0); err != nil {
		return Outcome{}, err
	}
	if min == 0 {
		min = amount
	}
	if min > amount {
		return Outcome{}, Invalid("min_amount", "must not exceed amount (%d)", amount)
	}
	if r.Origin == OriginSidekick {
		amount, min = 0, 0
	}
	now := s.cfg.Now()
	return s.st.Reserve(ctx, ReserveOp{
		Idem: r.Idem, WorkspaceID: r.WorkspaceID, MemberID: r.MemberID, SpenderID: r.SpenderID,
		Parent: parent, AllowTopUp: r.AllowTopUp, RunTokenCap: r.RunTokenCap, HasRunTokenCap: r.HasRunTokenCap,
		Ref:    ReservationRef{Origin: r.Origin, Hex: RequestHex(r.WorkspaceID, r.RequestID), Version: version},
		Amount: amount, Min: min, Deadline: now.Add(ttl), Now: now,
	})
}

// ExtendRequest raises a hold and/or moves its deadline.
type ExtendRequest struct {
	Idem
	WorkspaceID   string
	ReservationID string
	// AddAmount is added to the hold, all or nothing.
	AddAmount int64
	// TTL, when not 0, sets the deadline to now + TTL.
	TTL time.Duration
}

// Extend raises a hold and/or moves its deadline.
func (s *Service) Extend(ctx context.Context, r ExtendRequest) (Outcome, error) {
	ref, ok := ParseReservationID(r.ReservationID)
	if !ok {
		return Outcome{}, ErrReservationNotFound
	}
	if err := checkAmount("add_amount", r.AddAmount, 0); err != nil {
		return Outcome{}, err
	}
	ttl, err := s.ttl("ttl", r.TTL, false)
	if err != nil {
		return Outcome{}, err
	}
	if r.AddAmount == 0 && ttl == 0 {
		return Outcome{}, Invalid("add_amount", "add_amount or ttl must be set")
	}
	now := s.cfg.Now()
	op := ExtendOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, Ref: ref, AddAmount: r.AddAmount, Now: now}
	if ref.Origin == OriginSidekick {
		op.AddAmount = 0 // a free run holds nothing
	}
	if ttl > 0 {
		op.Deadline = now.Add(ttl)
	}
	out, err := s.st.Extend(ctx, op)
	out.Added = op.AddAmount
	return out, err
}

// CommitRequest settles a reservation with the run's usage.
type CommitRequest struct {
	Idem
	WorkspaceID   string
	ReservationID string
	Usage         AgentRun
}

// Commit prices the usage with the reservation's origin and its run's
// price version, and settles it. Both are carried in the reservation id,
// so that pricing needs no extra read and the hot path stays one Redis
// round trip (a price version this replica has not met yet is read once).
func (s *Service) Commit(ctx context.Context, r CommitRequest) (Outcome, error) {
	ref, ok := ParseReservationID(r.ReservationID)
	if !ok {
		return Outcome{}, ErrReservationNotFound
	}
	if err := checkChain(&r.Usage); err != nil {
		return Outcome{}, err
	}
	v, err := s.version(ctx, ref.Version)
	if err != nil {
		if errors.Is(err, ErrPricingVersionNotFound) {
			return Outcome{}, ErrReservationNotFound
		}
		return Outcome{}, err
	}
	cost, err := v.price(ref.Origin, r.Usage)
	if err != nil {
		return Outcome{}, err
	}
	return s.st.Commit(ctx, CommitOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, Ref: ref, Cost: cost,
		Agents: countAgents(&r.Usage), Now: s.cfg.Now()})
}

// countAgents counts the nodes of a usage tree.
func countAgents(run *AgentRun) int64 {
	n := int64(1)
	for i := range run.SubAgents {
		n += countAgents(&run.SubAgents[i])
	}
	return n
}

// RefundRequest voids a hold.
type RefundRequest struct {
	Idem
	WorkspaceID   string
	ReservationID string
}

// Refund voids a hold.
func (s *Service) Refund(ctx context.Context, r RefundRequest) (Outcome, error) {
	return s.refund(ctx, r, "", "")
}

// refund voids a hold, for an operator (actor, reason) or its caller.
func (s *Service) refund(ctx context.Context, r RefundRequest, actor, reason string) (Outcome, error) {
	ref, ok := ParseReservationID(r.ReservationID)
	if !ok {
		return Outcome{}, ErrReservationNotFound
	}
	return s.st.Refund(ctx, RefundOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, Ref: ref, Now: s.cfg.Now(),
		Actor: actor, Reason: reason})
}

// Sweep does the background work that is due across all workspaces,
// releasing up to limit expired holds (see Store.Sweep).
func (s *Service) Sweep(ctx context.Context, limit int) (SweepStats, error) {
	return s.st.Sweep(ctx, s.cfg.Now(), limit)
}

// ttl resolves a requested TTL against the configured bounds. Zero means
// the default when useDefault, else "unchanged" (returned as 0).
func (s *Service) ttl(field string, d time.Duration, useDefault bool) (time.Duration, error) {
	if d == 0 {
		if useDefault {
			return s.cfg.DefaultTTL, nil
		}
		return 0, nil
	}
	if d < s.cfg.MinTTL || d > s.cfg.MaxTTL {
		return 0, Invalid(field, "must be between %s and %s", s.cfg.MinTTL, s.cfg.MaxTTL)
	}
	return d, nil
}

func checkAmount(field string, v, min int64) error {
	if v < min || v > MaxAmount {
		return Invalid(field, "must be between %d and %d µcredits", min, MaxAmount)
	}
	return nil
}
