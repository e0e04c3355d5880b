package store_test

import (
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
)

// TestChildVoidedByExpirySettlesAtTheDeadline: a child still held when its
// parent expires is voided as EXPIRED at the parent's deadline, the
// instant it expired, whenever a call or the sweeper gets to it (the
// model-based test found it settled at the time of the call that
// released it, so that its settle time depended on when that came).
func TestChildVoidedByExpirySettlesAtTheDeadline(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("hal", quota.SeatPro)
		root := e.reserveFor("hal", "", 100*C, time.Hour)
		kid := e.reserveFor("hal", root.ID, 30*C, time.Hour)
		// The root moves its deadline before its child's.
		o, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: root.ID, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		deadline := o.Reservation.Deadline
		e.advance(10 * time.Minute)
		k := e.get(kid.ID)
		if k.State != quota.StateExpired || !k.Settled.Equal(deadline) {
			t.Fatalf("child: %s settled at %s, want EXPIRED at the root's deadline %s", k.State, k.Settled, deadline)
		}
		if r := e.get(root.ID); !r.Settled.Equal(deadline) {
			t.Fatalf("root settled at %s, want its deadline %s", r.Settled, deadline)
		}
	})
}
