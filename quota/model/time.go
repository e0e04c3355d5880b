package model

import (
	"slices"
	"strings"
	"time"

	"github.com/quota-svc/quota/quota"
)

// anniversary is the k-th monthly reset after anchor (UTC): the anchor's
// day in month anchor.Month()+k, clamped to that month's last day, at the
// anchor's time of day. Each one is computed from the anchor, never from
// the previous one, so a 31st comes back after a 28th.
func anniversary(anchor time.Time, k int) time.Time {
	a := anchor.UTC()
	y, mo := a.Year(), int(a.Month())-1+k
	y += mo / 12
	if mo %= 12; mo < 0 {
		mo += 12
		y--
	}
	month := time.Month(mo + 1)
	last := time.Date(y, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, month, min(a.Day(), last), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
}

// PeriodAt is the billing period [start, end) that contains t, for a
// subscription started at anchor: consecutive anniversaries of anchor.
func PeriodAt(anchor, t time.Time) (start, end time.Time) {
	k := (t.Year()-anchor.Year())*12 + int(t.Month()) - int(anchor.Month()) + 1
	for anniversary(anchor, k).After(t) {
		k--
	}
	return anniversary(anchor, k), anniversary(anchor, k+1)
}

// Advance moves the clock to t (never back) and applies what is due by
// then: periods, grant transitions, then expired holds.
func (m *Model) Advance(t time.Time) {
	if t.Before(m.Now) {
		panic("model: the clock moves forward only")
	}
	m.Now = t
	m.rollPeriods()
	m.grantTransitions()
	m.expireDue()
}

// rollPeriods brings the workspace and every member into the period that
// contains now, once: overage and programmatic usage start again (holds
// still open count against the new period's caps); per member, unused
// seat credits are forfeited, seat credits still held become credits of
// an ended period, a pending seat takes effect (a Free seat granting its
// lifetime credits once), the seat's allocation for the period is
// granted (none in pooled mode) and the pool cap's usage starts again.
func (m *Model) rollPeriods() {
	if m.Now.Before(m.PeriodEnd) {
		return
	}
	m.PeriodStart, m.PeriodEnd = PeriodAt(m.Anchor, m.Now)
	m.OverageUsed, m.ProgUsed = 0, 0
	for _, id := range m.memberIDs() {
		mb := m.members[id]
		if m.Now.Before(mb.PeriodEnd) {
			continue
		}
		unused := m.seatAvailable(mb)
		mb.Forfeited += unused
		m.Ledger.Forfeited += unused
		for _, r := range m.held(func(r *Reservation) bool { return r.Owner == Owner{Member: id} }) {
			r.Hold.SeatOld += r.Hold.Seat
			r.Hold.Seat = 0
		}
		if mb.HasNext {
			mb.Seat, mb.HasNext = mb.Next, false
			m.grantFree(mb)
		}
		alloc := monthly(mb.Seat)
		if m.Policy.Pooled {
			alloc = 0
		}
		mb.SeatAlloc, mb.SeatSpent = alloc, 0
		mb.Allocated += alloc
		mb.PoolUsed = 0
		mb.PeriodStart, mb.PeriodEnd = m.PeriodStart, m.PeriodEnd
	}
}

// memberIDs lists the members with an account, sorted.
func (m *Model) memberIDs() []string {
	var ids []string
	for id := range m.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// grantFree gives a Free seat's lifetime credits, once per member.
func (m *Model) grantFree(mb *Member) {
	if mb.Seat == quota.SeatFree && mb.FreeAlloc == 0 {
		mb.FreeAlloc = FreeLifetime
		mb.Allocated += FreeLifetime
	}
}

// grantTransitions ends the grants whose expiry has come: what they have
// left is forfeited (credits held from them are forfeited when
// released). Grants start by themselves (active tells).
func (m *Model) grantTransitions() {
	for _, g := range m.grants {
		if !g.Ended && !m.Now.Before(g.Expiry) {
			m.endGrant(g)
		}
	}
}

// endGrant ends a grant: what it has left is forfeited.
func (m *Model) endGrant(g *Grant) {
	rest := m.grantAvailable(g)
	g.Forfeited += rest
	g.Ended = true
	m.Ledger.Forfeited += rest
}

// expireDue expires every HELD reservation whose deadline has come, the
// earliest deadline first (ties by reservation key).
func (m *Model) expireDue() {
	due := m.held(func(r *Reservation) bool { return !m.Now.Before(r.Deadline) })
	slices.SortStableFunc(due, func(a, b *Reservation) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	for _, r := range due {
		if r.State == quota.StateHeld { // not voided by an earlier one
			m.expire(r)
		}
	}
}

// expire ends a hold at its deadline: its held children are voided into
// it (as expired, at the same instant), then its hold returns to its
// nearest held ancestor with the costs recorded under it, or to the
// sources.
func (m *Model) expire(r *Reservation) {
	m.voidKids(r, quota.StateExpired, r.Deadline)
	released := m.release(r, true)
	r.State, r.Settled, r.Released = quota.StateExpired, r.Deadline, released
}

// voidKids voids r's held descendants into r, depth first and in the
// order they were reserved: their holds and the costs recorded under
// them move to r, and they end in state at time at.
func (m *Model) voidKids(r *Reservation, state quota.State, at time.Time) {
	var void func(q *Reservation)
	void = func(q *Reservation) {
		for _, k := range q.Kids {
			if k.State != quota.StateHeld {
				continue
			}
			void(k)
			k.Released = merge(r, k, true)
			k.State, k.Settled = state, at
		}
	}
	void(r)
}
