package model

import "github.com/quota-svc/quota/quota"

// Sources and caps (DESIGN §1, README "Credit rules"): a member draws from
// seat credits, then free lifetime credits, then the pool (Pro and Max
// seats only, within the personal pool cap), then overage (Pro and Max,
// where enabled, within its cap for the period). A programmatic spender
// draws from the pool, then overage, within the programmatic cap.

// seatOf is the seat in force of a member (none for a spender, or for a
// member without an account).
func (m *Model) seatOf(o Owner) quota.Seat {
	if mb := m.members[o.Member]; o.Spender == "" && mb != nil {
		return mb.Seat
	}
	return quota.SeatNone
}

// progLeft is what the programmatic cap still allows this period.
func (m *Model) progLeft() int64 {
	if !m.Policy.HasProgrammaticCap {
		return unlimited
	}
	return max(m.Policy.ProgrammaticCap-m.ProgUsed-m.progHeld(), 0)
}

// progHeld is what programmatic spenders hold from the pool and overage.
func (m *Model) progHeld() int64 {
	var n int64
	for _, r := range m.held(func(r *Reservation) bool { return r.Owner.Spender != "" }) {
		n += r.Hold.Pool() + r.Hold.Overage
	}
	return n
}

// poolCap is a member's pool cap per period: the override, else the
// workspace default; ok false means no cap.
func (m *Model) poolCap(mb *Member) (capValue int64, ok bool) {
	if mb != nil && mb.Cap.Set {
		return mb.Cap.Cap, !mb.Cap.Unlimited
	}
	return m.Policy.DefaultPoolCap, m.Policy.HasDefaultPoolCap
}

// poolHeld is what a member holds from the pool.
func (m *Model) poolHeld(id string) int64 {
	return m.heldOf(Owner{Member: id}, func(p *Parts) int64 { return p.Pool() })
}

// poolLimit is what the owner may draw from the pool by its caps.
func (m *Model) poolLimit(o Owner) int64 {
	if o.Spender != "" {
		return m.progLeft()
	}
	if !drawsFromPool(m.seatOf(o)) {
		return 0
	}
	mb := m.members[o.Member]
	c, ok := m.poolCap(mb)
	if !ok {
		return unlimited
	}
	return max(c-mb.PoolUsed-m.poolHeld(mb.ID), 0)
}

// overageHeld is what every hold holds from overage.
func (m *Model) overageHeld() int64 {
	var n int64
	for _, r := range m.held(func(*Reservation) bool { return true }) {
		n += r.Hold.Overage
	}
	return n
}

// overageLimit is what overage still allows the owner this period.
func (m *Model) overageLimit(o Owner) int64 {
	if !m.Policy.OverageEnabled || (o.Spender == "" && !drawsFromPool(m.seatOf(o))) {
		return 0
	}
	return max(m.Policy.OverageCap-m.OverageUsed-m.overageHeld(), 0)
}

// spendable is what the owner could hold now: in all, and of it the
// member's own (seat and free) credits.
func (m *Model) spendable(o Owner) (total, own int64) {
	if mb := m.members[o.Member]; o.Spender == "" && mb != nil {
		own = max(m.seatAvailable(mb), 0) + max(m.freeAvailable(mb), 0)
	}
	pool, ov := m.poolAndOverage(o)
	return own + pool + ov, own
}

// poolAndOverage is what the owner could hold now of the pool and of
// overage (a spender's within the programmatic cap).
func (m *Model) poolAndOverage(o Owner) (pool, ov int64) {
	pool = min(m.poolAvailable(), m.poolLimit(o))
	ov = m.overageLimit(o)
	if o.Spender != "" {
		ov = max(min(ov, m.progLeft()-pool), 0)
	}
	return pool, ov
}

// draw takes up to want from the sources in order. It returns the parts
// taken; the caller adds them to a hold. With spend, the parts are spent
// at once instead (a commit's charge beyond its hold).
func (m *Model) draw(o Owner, want int64, spend bool) Parts {
	var d Parts
	left := want
	mb := m.members[o.Member]
	if o.Spender == "" && mb != nil {
		d.Seat = min(left, max(m.seatAvailable(mb), 0))
		left -= d.Seat
		d.Free = min(left, max(m.freeAvailable(mb), 0))
		left -= d.Free
	}
	pool := min(left, m.poolLimit(o), m.poolAvailable())
	for _, g := range m.drawOrder() {
		if pool == 0 {
			break
		}
		x := min(pool, m.grantAvailable(g))
		d.addGrant(g.ID, x)
		pool -= x
		left -= x
	}
	ov := min(left, m.overageLimit(o))
	if o.Spender != "" {
		ov = min(ov, m.progLeft()-d.Pool())
	}
	d.Overage = max(ov, 0)
	if spend {
		m.spend(o, d)
	}
	return d
}

// spend records parts drawn straight from the sources as spent.
func (m *Model) spend(o Owner, d Parts) {
	if mb := m.members[o.Member]; mb != nil && o.Spender == "" {
		mb.SeatSpent += d.Seat
		mb.FreeSpent += d.Free
		mb.Spent += d.Seat + d.Free
		mb.PoolUsed += d.Pool()
	}
	for _, p := range d.Grants {
		m.Grant(p.Grant).Spent += p.Amount
	}
	m.OverageUsed += d.Overage
	if o.Spender != "" {
		m.ProgUsed += d.Pool() + d.Overage
	}
}

// settle charges used from r's hold, in its order (seat credits of an
// ended period, seat, free, grants, overage), and releases the rest:
// back where it came from, or forfeited for seat credits of an ended
// period and credits of a grant that has ended. It empties the hold and
// returns what it charged (seat credits of any period as Seat) and what
// it released (what of that was forfeited goes to the ledger).
func (m *Model) settle(r *Reservation, used int64) (charged Parts, released int64) {
	var forfeited int64
	h := r.Hold
	r.Hold = Parts{}
	left := used
	take := func(x int64) int64 {
		t := min(left, x)
		left -= t
		return t
	}
	mb := m.members[r.Owner.Member]
	old, seat, free := take(h.SeatOld), take(h.Seat), take(h.Free)
	charged.Seat, charged.Free = old+seat, free
	forfeited = h.SeatOld - old
	if mb != nil && r.Owner.Spender == "" {
		mb.SeatSpent += seat
		mb.FreeSpent += free
		mb.Spent += old + seat + free
		mb.Forfeited += h.SeatOld - old
	}
	for _, p := range h.Grants {
		x := take(p.Amount)
		g := m.Grant(p.Grant)
		g.Spent += x
		if g.Ended {
			g.Forfeited += p.Amount - x
			forfeited += p.Amount - x
		}
		charged.addGrant(g.ID, x)
		if mb != nil && r.Owner.Spender == "" {
			mb.PoolUsed += x
		}
	}
	charged.Overage = take(h.Overage)
	m.OverageUsed += charged.Overage
	if r.Owner.Spender != "" {
		m.ProgUsed += charged.Pool() + charged.Overage
	}
	released = h.Total() - (used - left)
	m.Ledger.Forfeited += forfeited
	return charged, released
}

// carve moves up to amount of p's hold to its descendant c, in p's order.
func carve(p, c *Reservation, amount int64) {
	left := amount
	take := func(x *int64) int64 {
		t := min(left, *x)
		left -= t
		*x -= t
		return t
	}
	c.Hold.SeatOld += take(&p.Hold.SeatOld)
	c.Hold.Seat += take(&p.Hold.Seat)
	c.Hold.Free += take(&p.Hold.Free)
	var keep []GrantPart
	for _, g := range p.Hold.Grants {
		c.Hold.addGrant(g.Grant, take(&g.Amount))
		if g.Amount > 0 {
			keep = append(keep, g)
		}
	}
	p.Hold.Grants = keep
	c.Hold.Overage += take(&p.Hold.Overage)
}

// merge moves r's hold into q (the credits stay held, by q) and, with
// costs, the costs recorded under r. It returns what moved.
func merge(q, r *Reservation, costs bool) int64 {
	moved := r.Hold.Total()
	q.Hold.add(r.Hold)
	r.Hold = Parts{}
	if costs {
		q.PendingToken += r.PendingToken
		q.PendingAction += r.PendingAction
	}
	r.PendingToken, r.PendingAction = 0, 0
	return moved
}

// nearestHeld is r's nearest ancestor that is still HELD, or nil.
func nearestHeld(r *Reservation) *Reservation {
	for q := r.Parent; q != nil; q = q.Parent {
		if q.State == quota.StateHeld {
			return q
		}
	}
	return nil
}

// release ends r's hold: into its nearest held ancestor (with the costs
// recorded under r, when costs), or back to the sources. It returns what
// was released.
func (m *Model) release(r *Reservation, costs bool) int64 {
	if q := nearestHeld(r); q != nil {
		return merge(q, r, costs)
	}
	_, released := m.settle(r, 0)
	return released
}

// runOpen is what the HELD children of root's run hold.
func (m *Model) runOpen(root *Reservation) int64 {
	var n int64
	for _, r := range m.held(func(r *Reservation) bool { return r.Root == root && r != root }) {
		n += r.Hold.Total()
	}
	return n
}

// runCapLeft is what r's run token cap still allows: the cap less the
// token credits the run recorded and what its held children hold.
func (m *Model) runCapLeft(r *Reservation) int64 {
	root := r.Root
	if !root.HasTokenCap {
		return unlimited
	}
	return max(root.TokenCap-root.TokenSpent-m.runOpen(root), 0)
}
