package store_test

import (
	"errors"
	"testing"

	"github.com/quota-svc/quota/quota"
)

// TestCommitUnderAnotherOriginIsNotFound commits a conversation's
// reservation through its id with another origin letter: Commit prices
// with the id's origin, so a Sidekick letter would make the run free. The
// reservation is not found under that id, and nothing changes.
func TestCommitUnderAnotherOriginIsNotFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		r := e.mustReserve("ann", 10*C)
		for _, letter := range []string{"s", "a"} {
			forged := letter + r.ID[1:]
			if _, err := e.commit(forged, actions(3)); !errors.Is(err, quota.ErrReservationNotFound) {
				t.Errorf("Commit(%s): %v, want RESERVATION_NOT_FOUND", forged, err)
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
