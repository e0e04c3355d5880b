package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
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
	st     Store
	cfg    Config
	prices atomic.Pointer[PriceTable]
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
// prices with DefaultPriceTable. Check cfg with Config.Validate first.
func NewService(st Store, cfg Config) *Service {
	s := &Service{st: st, cfg: cfg.withDefaults()}
	t := DefaultPriceTable()
	s.prices.Store(&t)
	return s
}

// Config returns the service's settings, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// RefreshPricing loads the stored price table, so that a table set through
// another replica is used here too. With none stored, the default stays.
func (s *Service) RefreshPricing(ctx context.Context) error {
	t, ok, err := s.st.LoadPricing(ctx)
	if err != nil || !ok {
		return err
	}
	s.prices.Store(&t)
	return nil
}

// Pricing returns the price table in force.
func (s *Service) Pricing() PriceTable { return *s.prices.Load() }

// SetPricing validates and stores a new price table and uses it at once.
func (s *Service) SetPricing(ctx context.Context, idem Idem, t PriceTable) (PriceTable, error) {
	if err := t.Validate(); err != nil {
		return PriceTable{}, err
	}
	saved, err := s.st.SavePricing(ctx, PricingOp{Idem: idem, Table: t})
	if err != nil {
		return PriceTable{}, err
	}
	s.prices.Store(&saved)
	return saved, nil
}

// EstimateCost prices an agent chain with the table in force.
func (s *Service) EstimateCost(origin Origin, run AgentRun) (RunCost, error) {
	return s.prices.Load().Price(origin, run)
}

// SetWorkspace creates or updates a workspace.
func (s *Service) SetWorkspace(ctx context.Context, idem Idem, ws Workspace) (Workspace, error) {
	if ws.SubscriptionStart.IsZero() {
		return Workspace{}, Invalid("subscription_start", "is required")
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
	if _, ok := originOfID(reservationID); !ok {
		return Reservation{}, ErrReservationNotFound
	}
	return s.st.GetReservation(ctx, workspaceID, reservationID, s.cfg.Now())
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
	if r.ParentID != "" {
		// A child inherits its parent's origin, which the parent's id
		// carries; its owner is checked against the parent's by the store.
		parent, ok := originOfID(r.ParentID)
		switch {
		case !ok:
			return Outcome{}, ErrParentNotFound
		case r.Origin != OriginUnknown && r.Origin != parent:
			return Outcome{}, Invalid("origin", "must be the parent's, or unset")
		case r.HasRunTokenCap:
			return Outcome{}, Invalid("run_token_cap", "is set on the root reservation of a run only")
		}
		r.Origin = parent
	}
	switch {
	case r.MemberID == "" && r.SpenderID == "" && r.ParentID == "":
		return Outcome{}, ErrNoMember
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
		ParentID: r.ParentID, AllowTopUp: r.AllowTopUp, RunTokenCap: r.RunTokenCap, HasRunTokenCap: r.HasRunTokenCap,
		ReservationID: newReservationID(r.Origin), Origin: r.Origin,
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
	origin, ok := originOfID(r.ReservationID)
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
	op := ExtendOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, ReservationID: r.ReservationID, AddAmount: r.AddAmount, Now: now}
	if origin == OriginSidekick {
		op.AddAmount = 0 // a free run holds nothing
	}
	if ttl > 0 {
		op.Deadline = now.Add(ttl)
	}
	return s.st.Extend(ctx, op)
}

// CommitRequest settles a reservation with the run's usage.
type CommitRequest struct {
	Idem
	WorkspaceID   string
	ReservationID string
	Usage         AgentRun
}

// Commit prices the usage with the reservation's origin and settles it.
// The origin is carried in the reservation id, so that pricing needs no
// extra read and the hot path stays one Redis round trip.
func (s *Service) Commit(ctx context.Context, r CommitRequest) (Outcome, error) {
	origin, ok := originOfID(r.ReservationID)
	if !ok {
		return Outcome{}, ErrReservationNotFound
	}
	cost, err := s.prices.Load().Price(origin, r.Usage)
	if err != nil {
		return Outcome{}, err
	}
	return s.st.Commit(ctx, CommitOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, ReservationID: r.ReservationID, Cost: cost, Now: s.cfg.Now()})
}

// RefundRequest voids a hold.
type RefundRequest struct {
	Idem
	WorkspaceID   string
	ReservationID string
}

// Refund voids a hold.
func (s *Service) Refund(ctx context.Context, r RefundRequest) (Outcome, error) {
	if _, ok := originOfID(r.ReservationID); !ok {
		return Outcome{}, ErrReservationNotFound
	}
	return s.st.Refund(ctx, RefundOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, ReservationID: r.ReservationID, Now: s.cfg.Now()})
}

// Sweep releases up to limit expired holds across all workspaces.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
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

// Reservation ids are "<origin letter>_<32 hex digits>": the letter lets
// Commit price the usage without reading the reservation first.
var originLetters = map[Origin]string{OriginConversation: "c", OriginSidekick: "s", OriginAutomation: "a"}

func newReservationID(o Origin) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return originLetters[o] + "_" + hex.EncodeToString(b[:])
}

// originOfID returns the origin a reservation id carries; ok is false for
// an id the service never issued.
func originOfID(id string) (Origin, bool) {
	letter, rest, found := strings.Cut(id, "_")
	if !found || len(rest) != 32 {
		return OriginUnknown, false
	}
	if _, err := hex.DecodeString(rest); err != nil {
		return OriginUnknown, false
	}
	for o, l := range originLetters {
		if l == letter {
			return o, true
		}
	}
	return OriginUnknown, false
}
