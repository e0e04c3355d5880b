package model

import (
	"fmt"
	"time"

	"github.com/quota-svc/quota/quota"
)

// TopUpLifetime is a top-up's default lifetime.
const TopUpLifetime = 365 * 24 * time.Hour

// SetSeat gives a member a seat. An upgrade takes effect at once: the
// period's seat credits become the new seat's allocation less what the
// member already spent from seat credits this period, never less than
// what was left (none in pooled mode); a Free seat grants its lifetime
// credits once. A downgrade or an unassignment takes effect at the next
// reset; the seat in force cancels a pending change. Nothing allocated
// is revoked.
func (m *Model) SetSeat(requestID string, q SeatRequest) Result {
	return m.do(requestID, q, func() Result {
		mb := m.account(q.Member)
		switch {
		case rank(q.Seat) > rank(mb.Seat):
			credited := monthly(q.Seat)
			if m.Policy.Pooled {
				credited = 0
			}
			left := mb.SeatAlloc - mb.SeatSpent
			remaining := max(credited-mb.SeatSpent, left)
			delta := mb.SeatSpent + remaining - mb.SeatAlloc
			mb.SeatAlloc += delta
			mb.Allocated += delta
			mb.Seat, mb.HasNext = q.Seat, false
			m.grantFree(mb)
		case rank(q.Seat) < rank(mb.Seat):
			mb.Next, mb.HasNext = q.Seat, true
		default:
			mb.HasNext = false
		}
		return Result{Member: q.Member}
	})
}

// SetPolicy sets the workspace's pool and overage settings: caps apply
// to draws from now on, pooled mode at the next reset.
func (m *Model) SetPolicy(requestID string, q PolicyRequest) Result {
	return m.do(requestID, q, func() Result {
		m.Policy = q.Policy
		return Result{}
	})
}

// SetMemberCap sets or clears a member's pool cap override, opening the
// member's account.
func (m *Model) SetMemberCap(requestID string, q CapRequest) Result {
	return m.do(requestID, q, func() Result {
		m.account(q.Member).Cap = q.Cap
		return Result{Member: q.Member}
	})
}

// AddGrant adds a grant to the pool: pending until its start, active
// until its expiry. Ids are "g1", "g2", ... in creation order.
//
// A grant must end after its start and after now; that is checked before
// the request id is looked at (a retry sent after the grant would have
// ended is refused as invalid).
func (m *Model) AddGrant(requestID string, q GrantRequest) Result {
	start, expiry := q.Start, q.Expiry
	if start.IsZero() {
		start = m.Now
	}
	if expiry.IsZero() {
		expiry = start.Add(TopUpLifetime)
	}
	if !expiry.After(start) || !expiry.After(m.Now) {
		return Result{Err: errInvalid}
	}
	return m.do(requestID, q, func() Result {
		g := &Grant{Kind: q.Kind, Amount: q.Amount, Start: start, Expiry: expiry,
			Priority: q.Priority, Seq: len(m.grants) + 1, Created: m.Now}
		g.ID = fmt.Sprintf("g%d", g.Seq)
		m.grants = append(m.grants, g)
		return Result{Grant: g}
	})
}

// VoidGrant ends a live grant now: what it has left is forfeited, what
// is held from it is forfeited when released. A grant that has ended is
// GRANT_ENDED.
func (m *Model) VoidGrant(requestID string, q VoidRequest) Result {
	return m.do(requestID, q, func() Result {
		g := m.Grant(q.Grant)
		switch {
		case g == nil:
			return Result{Err: errGrantNotFound}
		case g.Ended:
			return Result{Err: errGrantEnded}
		}
		m.endGrant(g)
		g.Voided = true
		return Result{Grant: g}
	})
}

// grantState is a grant's state now.
func (m *Model) grantState(g *Grant) quota.GrantState {
	switch {
	case g.Voided:
		return quota.GrantVoided
	case g.Ended:
		return quota.GrantExpired
	case m.Now.Before(g.Start):
		return quota.GrantPending
	}
	return quota.GrantActive
}
