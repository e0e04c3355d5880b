package model

import (
	"time"

	"github.com/quota-svc/quota/quota"
)

// DefaultTTL is a hold's lifetime when a Reserve sets none.
const DefaultTTL = 5 * time.Minute

// denySources refuses a hold the sources cannot cover: the reason, in
// precedence, is PROGRAMMATIC_CAP_REACHED for a spender whose cap is
// spent or is what stops the draw; for a member NO_SEAT (no seat and no
// credits of their own), then POOL_CAP_REACHED (a seat that draws from
// the pool, whose personal cap is spent or is what stops the draw); else
// CREDITS_EXHAUSTED. Available is what the sources could give, plus the
// free hold of the ancestor a child or an Extend would carve from.
func (m *Model) denySources(o Owner, requested, minimum, parentFree int64) *Error {
	total, own := m.spendable(o)
	e := &Error{Reason: "CREDITS_EXHAUSTED", Recorded: true, Requested: requested, Minimum: minimum, Available: parentFree + total}
	seat := m.seatOf(o)
	switch {
	case o.Spender != "":
		if left := m.progLeft(); m.Policy.HasProgrammaticCap && (left == 0 || left < m.poolAvailable()+m.overageLimit(o)) {
			e.Reason = "PROGRAMMATIC_CAP_REACHED"
		}
	case seat == quota.SeatNone && own == 0:
		e.Reason = "NO_SEAT"
	case drawsFromPool(seat):
		if _, capped := m.poolCap(m.members[o.Member]); capped {
			if left := m.poolLimit(o); left == 0 || left < m.poolAvailable() {
				e.Reason = "POOL_CAP_REACHED"
			}
		}
	}
	return e
}

// deny is a denial for another reason than the sources.
func deny(reason string, requested, minimum, available int64) *Error {
	return &Error{Reason: reason, Recorded: true, Requested: requested, Minimum: minimum, Available: available}
}

// newReservation records a new HELD reservation.
func (m *Model) newReservation(key string, o Owner, origin quota.Origin, amount int64, deadline time.Time) *Reservation {
	r := &Reservation{Key: key, ID: quota.ReservationID(origin, key, m.PricingVersion), Owner: o, Origin: origin,
		State: quota.StateHeld, Request: amount, Deadline: deadline, Created: m.Now}
	m.res[key] = r
	m.resOrder = append(m.resOrder, r)
	return r
}

// hold adds what is drawn from the sources to r's hold.
func (m *Model) hold(r *Reservation, amount int64) {
	d := m.draw(r.Owner, amount, false)
	r.Hold.add(d)
	m.Ledger.HeldFromSources += d.Total()
}

// Reserve takes a hold: up to Amount, at least Min (0: all of it), drawn
// from the sources in order, until now + TTL; a Sidekick run is free and
// holds nothing. With a Parent, the hold is a child's, carved from the
// parent's free hold and topped up from the sources when allowed.
func (m *Model) Reserve(requestID string, q ReserveRequest) Result {
	return m.do(requestID, q, func() Result {
		key := quota.RequestHex(m.WorkspaceID, requestID)
		if q.Parent != "" {
			return m.reserveChild(key, q)
		}
		amount, least := q.Amount, q.Min
		if least == 0 {
			least = amount
		}
		if q.Origin == quota.OriginSidekick {
			amount, least = 0, 0
		}
		var avail int64
		if amount > 0 {
			if avail, _ = m.spendable(q.Owner); avail < least {
				return Result{Err: m.denySources(q.Owner, amount, least, 0)}
			}
		}
		r := m.newReservation(key, q.Owner, q.Origin, amount, m.Now.Add(ttlOr(q.TTL)))
		r.Root, r.RunCount = r, 1
		r.HasTokenCap, r.TokenCap = q.HasTokenCap, q.TokenCap
		if amount > 0 {
			m.hold(r, min(amount, avail))
		}
		return Result{Reservation: r}
	})
}

func ttlOr(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultTTL
	}
	return d
}

// reserveChild reserves a child of q.Parent's run: its owner and origin
// are the parent's, its deadline at most the parent's. Its hold is what
// the run's token cap allows of Amount, carved from the parent's free
// hold, the rest drawn from the sources with AllowTopUp; less than Min is
// refused (RUN_CAP_REACHED, PARENT_HOLD_EXHAUSTED, or the sources'
// reason).
func (m *Model) reserveChild(key string, q ReserveRequest) Result {
	p := m.res[q.Parent]
	switch {
	case p == nil:
		return Result{Err: errParentNotFound}
	case q.Origin != quota.OriginUnknown && q.Origin != p.Origin:
		return Result{Err: errOriginNotParents}
	case q.Owner != (Owner{}) && q.Owner != p.Owner:
		return Result{Err: errOwnerNotParent}
	case p.State != quota.StateHeld:
		return Result{Err: errParentNotHeld}
	}
	amount, least := q.Amount, q.Min
	if least == 0 {
		least = amount
	}
	if p.Origin == quota.OriginSidekick {
		amount, least = 0, 0
	}
	var take, top int64
	if amount > 0 {
		allow := min(amount, m.runCapLeft(p))
		if allow < least || allow == 0 {
			return Result{Err: deny("RUN_CAP_REACHED", amount, least, allow)}
		}
		free := p.free()
		take = min(allow, free)
		if take < allow && q.AllowTopUp {
			spend, _ := m.spendable(p.Owner)
			top = min(allow-take, spend)
		}
		if take+top < least {
			if !q.AllowTopUp {
				return Result{Err: deny("PARENT_HOLD_EXHAUSTED", amount, least, free)}
			}
			return Result{Err: m.denySources(p.Owner, amount, least, free)}
		}
	}
	deadline := m.Now.Add(ttlOr(q.TTL))
	if p.Deadline.Before(deadline) {
		deadline = p.Deadline
	}
	r := m.newReservation(key, p.Owner, p.Origin, amount, deadline)
	r.ID = quota.ReservationID(p.Origin, key, m.versionOf(p))
	r.Parent, r.Root = p, p.Root
	r.Seq = int(p.Root.RunCount)
	p.Root.RunCount++
	p.Kids = append(p.Kids, r)
	carve(p, r, take)
	if top > 0 {
		m.hold(r, top)
	}
	return Result{Reservation: r}
}

// versionOf is the price version of r's run.
func (m *Model) versionOf(r *Reservation) int64 {
	ref, _ := quota.ParseReservationID(r.Root.ID)
	return ref.Version
}

// Extend raises a HELD reservation by Add (all or nothing: from its
// nearest held ancestor's free hold first, then from the sources, within
// the run's token cap) and/or, with a TTL, moves its deadline to now +
// TTL (never past that ancestor's).
func (m *Model) Extend(requestID string, q ExtendRequest) Result {
	return m.do(requestID, q, func() Result {
		r := m.res[q.Reservation]
		switch {
		case r == nil:
			return Result{Err: errNotFound}
		case r.State != quota.StateHeld:
			return Result{Err: transition(r, quota.StateHeld)}
		}
		add := q.Add
		if r.Origin == quota.OriginSidekick {
			add = 0
		}
		p := nearestHeld(r)
		if add > 0 {
			if left := m.runCapLeft(r); add > left {
				return Result{Err: deny("RUN_CAP_REACHED", add, add, left)}
			}
			var free int64
			if p != nil {
				free = p.free()
			}
			carved := min(add, free)
			if spend, _ := m.spendable(r.Owner); carved+spend < add {
				return Result{Err: m.denySources(r.Owner, add, add, free)}
			}
			if carved > 0 {
				carve(p, r, carved)
			}
			if add > carved {
				m.hold(r, add-carved)
			}
			r.Request += add
		}
		if q.TTL > 0 {
			r.Deadline = m.Now.Add(q.TTL)
			if p != nil && p.Deadline.Before(r.Deadline) {
				r.Deadline = p.Deadline
			}
		}
		return Result{Reservation: r}
	})
}

// Commit settles a HELD or EXPIRED reservation with its priced usage.
// Its held children are voided into it first (REFUNDED). A child with a
// held ancestor records its cost there, its hold returning to that
// ancestor; anything else is charged: its own cost and the costs
// recorded under it, from its hold first, then from the sources in
// order, what no source can pay being the shortfall; the rest of the
// hold is released.
func (m *Model) Commit(requestID string, q CommitRequest) Result {
	return m.do(requestID, q, func() Result {
		r := m.res[q.Reservation]
		switch {
		case r == nil:
			return Result{Err: errNotFound}
		case r.State != quota.StateHeld && r.State != quota.StateExpired:
			return Result{Err: transition(r, quota.StateCommitted)}
		}
		cost := m.Prices.Price(r.Origin, q.Usage)
		wasHeld := r.State == quota.StateHeld
		m.voidKids(r, quota.StateRefunded, m.Now)
		r.Root.TokenSpent += cost.TokenCost
		r.Cost = &cost
		r.OwnToken, r.OwnAction = cost.TokenCost, cost.ActionCost
		r.State, r.Settled = quota.StateCommitted, m.Now
		r.RecordedToken, r.RecordedAction = r.PendingToken, r.PendingAction
		own := r.OwnToken + r.OwnAction
		if a := nearestHeld(r); a != nil {
			merge(a, r, true)
			a.PendingToken += r.OwnToken
			a.PendingAction += r.OwnAction
			r.Recorded = true
			m.Ledger.Records++
			m.Ledger.RecordedCost += own
			return Result{Reservation: r}
		}
		total := own + r.pending()
		var charged Parts
		if wasHeld {
			charged, r.Released = m.settle(r, total)
		}
		r.PendingToken, r.PendingAction = 0, 0
		fromHold := charged.Total()
		if total > fromHold {
			charged.add(m.draw(r.Owner, total-fromHold, true))
		}
		r.ChargedFrom, r.Charged, r.ChargedFromHold = charged, charged.Total(), fromHold
		r.Shortfall = total - r.Charged
		l := &m.Ledger
		l.Commits++
		l.Cost += total
		l.Shortfall += r.Shortfall
		l.ChargedOwn += charged.SeatOld + charged.Seat + charged.Free
		l.ChargedPool += charged.Pool()
		l.ChargedOverage += charged.Overage
		l.ChargedFromHold += fromHold
		return Result{Reservation: r}
	})
}

// Refund voids a HELD reservation: its held children are voided into it,
// the costs recorded under it are dropped, and its hold returns to its
// nearest held ancestor or to the sources. Nothing is charged.
func (m *Model) Refund(requestID string, q RefundRequest) Result {
	return m.do(requestID, q, func() Result {
		r := m.res[q.Reservation]
		switch {
		case r == nil:
			return Result{Err: errNotFound}
		case r.State != quota.StateHeld:
			return Result{Err: transition(r, quota.StateRefunded)}
		}
		m.voidKids(r, quota.StateRefunded, m.Now)
		r.PendingToken, r.PendingAction = 0, 0
		released := m.release(r, false)
		r.State, r.Settled, r.Released = quota.StateRefunded, m.Now, released
		return Result{Reservation: r}
	})
}
