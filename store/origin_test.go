package store_test

import (
	"errors"
	"testing"

	"github.com/quota-svc/quota/quota"
)

// TestReservationUnderAnotherOriginIsNotFound names a conversation's
// reservation through its id with another origin letter: Commit prices
// with the id's origin, so a Sidekick letter would make the run free. The
// reservation is not found under that id, by Commit or by any other call,
// and nothing changes.
func TestReservationUnderAnotherOriginIsNotFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		r := e.mustReserve("ann", 10*C)
		for _, letter := range []string{"s", "a"} {
			forged := letter + r.ID[1:]
			if _, err := e.commit(forged, actions(3)); !errors.Is(err, quota.ErrReservationNotFound) {
				t.Errorf("Commit(%s): %v, want RESERVATION_NOT_FOUND", forged, err)
			}
			// Every other call that names a reservation by its id too.
			if _, err := e.refund(forged); !errors.Is(err, quota.ErrReservationNotFound) {
				t.Errorf("Refund(%s): %v, want RESERVATION_NOT_FOUND", forged, err)
			}
			if _, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: forged,
				AddAmount: C}); !errors.Is(err, quota.ErrReservationNotFound) {
				t.Errorf("Extend(%s): %v, want RESERVATION_NOT_FOUND", forged, err)
			}
			if _, err := e.svc.GetReservation(e.ctx, "ws1", forged); !errors.Is(err, quota.ErrReservationNotFound) {
				t.Errorf("GetReservation(%s): %v, want RESERVATION_NOT_FOUND", forged, err)
			}
			if _, _, err := e.svc.ListRunCosts(e.ctx, "ws1", forged, 10, ""); !errors.Is(err, quota.ErrReservationNotFound) {
				t.Errorf("ListRunCosts(%s): %v, want RESERVATION_NOT_FOUND", forged, err)
			}
		}
		if got := e.get(r.ID); got.State != quota.StateHeld {
			t.Errorf("the reservation after the forged commits: %v", got.State)
		}
		o, err := e.commit(r.ID, actions(3))
		if err != nil || o.Reservation.Charged != 9*C {
			t.Errorf("Commit(%s): charged %d, %v; want 9 credits", r.ID, o.Reservation.Charged, err)
		}
	})
}
