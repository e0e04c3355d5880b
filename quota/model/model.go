package model

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/quota-svc/quota/quota"
)

// Credit is one credit in µcredits.
const Credit int64 = 1_000_000

// Allocations by seat (SEED-credits.txt): a Free seat's credits once for
// life, Pro and Max credits per period.
const (
	FreeLifetime = 500 * Credit
	ProMonthly   = 8_000 * Credit
	MaxMonthly   = 40_000 * Credit
)

// unlimited stands for "no cap" in the arithmetic of caps.
const unlimited int64 = math.MaxInt64 / 4

// monthly is a seat's allocation per period.
func monthly(s quota.Seat) int64 {
	switch s {
	case quota.SeatPro:
		return ProMonthly
	case quota.SeatMax:
		return MaxMonthly
	}
	return 0
}

// rank orders seats: a move up is an upgrade.
func rank(s quota.Seat) int {
	return map[quota.Seat]int{quota.SeatFree: 1, quota.SeatPro: 2, quota.SeatMax: 3}[s]
}

// drawsFromPool: only Pro and Max seats draw from the pool and overage.
func drawsFromPool(s quota.Seat) bool { return s == quota.SeatPro || s == quota.SeatMax }

// Owner is whose credits a reservation holds: a member, or (Spender) an
// API key or trigger.
type Owner struct {
	Member, Spender string
}

// GrantPart is an amount taken from one grant.
type GrantPart struct {
	Grant  string
	Amount int64
}

// Parts are credits per source: what a hold holds, or what a commit
// charged. SeatOld is seat credits of a period that has ended (forfeited
// if released); Grants keeps the order in which each grant was first met.
type Parts struct {
	SeatOld, Seat, Free int64
	Grants              []GrantPart
	Overage             int64
}

// Pool is the sum of the grant parts.
func (p *Parts) Pool() int64 {
	var n int64
	for _, g := range p.Grants {
		n += g.Amount
	}
	return n
}

// Total is the sum of every part.
func (p *Parts) Total() int64 { return p.SeatOld + p.Seat + p.Free + p.Pool() + p.Overage }

// addGrant adds amount to grant id's part, appending a part for a grant
// not met yet; parts of 0 are dropped.
func (p *Parts) addGrant(id string, amount int64) {
	if amount == 0 {
		return
	}
	for i := range p.Grants {
		if p.Grants[i].Grant == id {
			p.Grants[i].Amount += amount
			return
		}
	}
	p.Grants = append(p.Grants, GrantPart{id, amount})
}

// add adds q's parts to p, q's grants in q's order.
func (p *Parts) add(q Parts) {
	p.SeatOld += q.SeatOld
	p.Seat += q.Seat
	p.Free += q.Free
	for _, g := range q.Grants {
		p.addGrant(g.Grant, g.Amount)
	}
	p.Overage += q.Overage
}

// Member is a member's account.
type Member struct {
	ID string
	// Seat is the seat in force; Next, when HasNext, takes effect at the
	// next reset.
	Seat, Next quota.Seat
	HasNext    bool
	// PeriodStart and PeriodEnd bound the member's current period.
	PeriodStart, PeriodEnd time.Time
	// Seat credits of the current period, and free lifetime credits.
	SeatAlloc, SeatSpent int64
	FreeAlloc, FreeSpent int64
	// Lifetime totals of the member's own (seat and free) credits.
	Allocated, Spent, Forfeited int64
	// Cap is the member's pool cap override (Set false: the workspace
	// default applies).
	Cap quota.MemberCap
	// PoolUsed is what the member spent from the pool this period.
	PoolUsed int64
}

// Grant is a grant of the workspace's pool.
type Grant struct {
	ID       string
	Kind     quota.GrantKind
	Amount   int64
	Start    time.Time
	Expiry   time.Time
	Priority int64
	Seq      int
	Created  time.Time
	// Voided is set when an operator ended the grant.
	Voided bool
	// Ended is set once the grant has expired or been voided: what it
	// had left was forfeited then.
	Ended            bool
	Spent, Forfeited int64
}

// Reservation is a hold and, once settled, what it charged.
type Reservation struct {
	Key     string // quota.RequestHex of the Reserve's request id
	ID      string
	Owner   Owner
	Origin  quota.Origin
	State   quota.State
	Request int64 // amount asked for, raised by Extend
	Hold    Parts
	// Deadline, Created and Settled (zero while held).
	Deadline, Created, Settled time.Time
	// The run tree: Parent (nil for a root), Root (itself for a root),
	// Kids in the order they were reserved, Seq its place in the run.
	Parent *Reservation
	Root   *Reservation
	Kids   []*Reservation
	Seq    int
	// On a root: the run's token cap, the token credits it recorded so
	// far and how many reservations it has.
	HasTokenCap bool
	TokenCap    int64
	TokenSpent  int64
	RunCount    int64
	// Once committed: its own priced usage; Recorded set when its cost
	// was recorded under an ancestor.
	Cost      *quota.RunCost
	Recorded  bool
	OwnToken  int64
	OwnAction int64
	// PendingToken and PendingAction are the costs its committed
	// descendants recorded under it, not charged yet; RecordedToken and
	// RecordedAction what they were when it was committed.
	PendingToken, PendingAction   int64
	RecordedToken, RecordedAction int64
	// Settlement.
	Charged, ChargedFromHold int64
	ChargedFrom              Parts
	Released, Shortfall      int64
}

// pending is the cost recorded under r and not charged yet.
func (r *Reservation) pending() int64 { return r.PendingToken + r.PendingAction }

// free is what r holds beyond the costs recorded under it: what a child
// may carve.
func (r *Reservation) free() int64 { return max(r.Hold.Total()-r.pending(), 0) }

// Model is the reference model of one workspace.
type Model struct {
	WorkspaceID string
	// Now is the model's clock; Advance moves it.
	Now time.Time
	// Anchor is the subscription start; Policy the pool and overage
	// settings.
	Anchor time.Time
	Policy quota.Policy
	// The workspace's current period and this period's usage of overage
	// and of the programmatic cap.
	PeriodStart, PeriodEnd time.Time
	OverageUsed, ProgUsed  int64
	// Prices is the price table runs are priced with, version
	// PricingVersion.
	Prices         Prices
	PricingVersion int64

	members  map[string]*Member
	grants   []*Grant
	res      map[string]*Reservation
	resOrder []*Reservation
	requests map[string]*request
	// Ledger is what the ledger stream should add up to.
	Ledger Ledger
}

// Ledger is what the workspace's ledger entries add up to.
type Ledger struct {
	// Forfeited is every credit forfeited: seat credits at a reset, held
	// credits of an ended period or grant at release, what a grant had
	// left when it ended.
	Forfeited int64
	// HeldFromSources is what Reserve and Extend drew from the sources
	// into holds.
	HeldFromSources int64
	// Commits counts charged commits; Cost, Shortfall and the charges per
	// source add them up (Own counts seat and free credits).
	Commits                         int64
	Cost, Shortfall                 int64
	ChargedOwn, ChargedPool         int64
	ChargedOverage, ChargedFromHold int64
	// Records counts child commits recorded under an ancestor, and
	// RecordedCost adds up their costs.
	Records, RecordedCost int64
}

// New returns the model of a workspace created at now with subscription
// start anchor, pricing runs with prices (version).
func New(workspaceID string, anchor, now time.Time, prices Prices, version int64) *Model {
	m := &Model{
		WorkspaceID: workspaceID, Now: now, Anchor: anchor,
		Prices: prices, PricingVersion: version,
		members: map[string]*Member{}, res: map[string]*Reservation{}, requests: map[string]*request{},
	}
	m.PeriodStart, m.PeriodEnd = PeriodAt(anchor, now)
	return m
}

// Member returns a member's account, or nil when the member has none.
func (m *Model) Member(id string) *Member { return m.members[id] }

// Grants returns the pool's grants, oldest first.
func (m *Model) Grants() []*Grant { return m.grants }

// Grant returns a grant, or nil.
func (m *Model) Grant(id string) *Grant {
	for _, g := range m.grants {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// Reservations returns every reservation, in the order they were made.
func (m *Model) Reservations() []*Reservation { return m.resOrder }

// Reservation returns the reservation of a Reserve's request id, or nil.
func (m *Model) Reservation(requestID string) *Reservation {
	return m.res[quota.RequestHex(m.WorkspaceID, requestID)]
}

// ReservationByKey returns the reservation with a key, or nil.
func (m *Model) ReservationByKey(key string) *Reservation { return m.res[key] }

// account returns a member's account, opening it in the current period.
func (m *Model) account(id string) *Member {
	if mb := m.members[id]; mb != nil {
		return mb
	}
	mb := &Member{ID: id, PeriodStart: m.PeriodStart, PeriodEnd: m.PeriodEnd}
	m.members[id] = mb
	return mb
}

// held returns the HELD reservations that match keep.
func (m *Model) held(keep func(r *Reservation) bool) []*Reservation {
	var out []*Reservation
	for _, r := range m.resOrder {
		if r.State == quota.StateHeld && keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// heldOf sums a part over the HELD reservations of owner o.
func (m *Model) heldOf(o Owner, part func(p *Parts) int64) int64 {
	var n int64
	for _, r := range m.held(func(r *Reservation) bool { return r.Owner == o }) {
		n += part(&r.Hold)
	}
	return n
}

// seatHeld, freeHeld: a member's seat credits of the current period and
// free credits in holds.
func (m *Model) seatHeld(id string) int64 {
	return m.heldOf(Owner{Member: id}, func(p *Parts) int64 { return p.Seat })
}

func (m *Model) freeHeld(id string) int64 {
	return m.heldOf(Owner{Member: id}, func(p *Parts) int64 { return p.Free })
}

// seatAvailable and freeAvailable are what a member may still draw.
func (m *Model) seatAvailable(mb *Member) int64 {
	return mb.SeatAlloc - mb.SeatSpent - m.seatHeld(mb.ID)
}

func (m *Model) freeAvailable(mb *Member) int64 {
	return mb.FreeAlloc - mb.FreeSpent - m.freeHeld(mb.ID)
}

// grantHeld is what holds took from grant id.
func (m *Model) grantHeld(id string) int64 {
	var n int64
	for _, r := range m.held(func(*Reservation) bool { return true }) {
		for _, g := range r.Hold.Grants {
			if g.Grant == id {
				n += g.Amount
			}
		}
	}
	return n
}

// grantAvailable is what a grant has left.
func (m *Model) grantAvailable(g *Grant) int64 {
	return g.Amount - m.grantHeld(g.ID) - g.Spent - g.Forfeited
}

// active tells whether a grant may be drawn now.
func (m *Model) active(g *Grant) bool {
	return !g.Ended && !m.Now.Before(g.Start) && m.Now.Before(g.Expiry)
}

// drawOrder returns the active grants with credits left, in draw order:
// highest priority, then earliest expiry, then oldest.
func (m *Model) drawOrder() []*Grant {
	var gs []*Grant
	for _, g := range m.grants {
		if m.active(g) && m.grantAvailable(g) > 0 {
			gs = append(gs, g)
		}
	}
	slices.SortStableFunc(gs, func(a, b *Grant) int {
		switch {
		case a.Priority != b.Priority:
			return cmp.Compare(b.Priority, a.Priority)
		case !a.Expiry.Equal(b.Expiry):
			return a.Expiry.Compare(b.Expiry)
		}
		return a.Seq - b.Seq
	})
	return gs
}

// poolAvailable is what the active grants have left.
func (m *Model) poolAvailable() int64 {
	var n int64
	for _, g := range m.grants {
		if m.active(g) {
			n += m.grantAvailable(g)
		}
	}
	return n
}
