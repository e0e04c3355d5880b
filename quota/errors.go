package quota

import (
	"errors"
	"fmt"
)

// Sentinel errors callers check with errors.Is. The server maps each to a
// gRPC status in one place.
var (
	// ErrWorkspaceNotFound: the workspace was never set up.
	ErrWorkspaceNotFound = errors.New("quota: workspace not found")
	// ErrReservationNotFound: no such reservation in the workspace.
	ErrReservationNotFound = errors.New("quota: reservation not found")
	// ErrRequestIDReused: the request_id was used before for a different
	// request.
	ErrRequestIDReused = errors.New("quota: request_id was already used for a different request")
	// ErrNoMember: the request names no member (or, for Reserve, neither a
	// member nor a programmatic spender).
	ErrNoMember = errors.New("quota: a member is required")
	// ErrMemberAndSpender: a Reserve names both a member and a spender.
	ErrMemberAndSpender = errors.New("quota: a reservation is for a member or a programmatic spender, not both")
	// ErrGrantNotFound: no such pool grant in the workspace.
	ErrGrantNotFound = errors.New("quota: pool grant not found")
	// ErrParentNotFound: a child Reserve names a parent that does not
	// exist in the workspace, or an id the service never issued.
	ErrParentNotFound = errors.New("quota: parent reservation not found")
	// ErrParentNotHeld: a child Reserve names a parent that is no longer
	// held (committed, refunded or expired).
	ErrParentNotHeld = errors.New("quota: parent reservation is no longer held")
	// ErrGrantEnded: the grant has already expired or been voided.
	ErrGrantEnded = errors.New("quota: pool grant has already ended")
	// ErrUnavailable: the store cannot be reached or did not answer in time; the call may or may not have been applied, and a retry with the same request_id is safe.
	ErrUnavailable = errors.New("quota: the store is unavailable")
)

// InvalidError is bad input: Field names the offending field with the API's
// spelling (e.g. "usage.sub_agents[2].models[0].input_tokens").
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("quota: invalid %s: %s", e.Field, e.Reason)
}

// Invalid returns an *InvalidError.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TransitionError is an illegal state transition of a reservation, such as
// refunding a committed one.
type TransitionError struct {
	ReservationID string
	From          State
	To            State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("quota: reservation %s is %s and cannot become %s", e.ReservationID, e.From, e.To)
}

// Denial reasons, in precedence order: ReasonNoSeat,
// ReasonPoolCapReached, ReasonProgrammaticCapReached,
// ReasonCreditsExhausted; a child reservation or an Extend in a run may
// also meet ReasonRunCapReached and ReasonParentHoldExhausted (run.go).
// They are the ErrorInfo reasons on the wire.
const (
	// ReasonNoSeat: the member has no seat and no credits.
	ReasonNoSeat = "NO_SEAT"
	// ReasonCreditsExhausted: every source open to the member is spent.
	ReasonCreditsExhausted = "CREDITS_EXHAUSTED"
)

// DeniedError is a refused hold: the member could not hold Requested (at
// least Minimum); Available is what every open source had together.
type DeniedError struct {
	Reason    string
	MemberID  string
	SpenderID string
	Requested int64
	Minimum   int64
	Available int64
}

func (e *DeniedError) Error() string {
	who := "member " + e.MemberID
	if e.SpenderID != "" {
		who = "spender " + e.SpenderID
	}
	return fmt.Sprintf("quota: %s: %s asked for %d µcredits (at least %d), %d available",
		e.Reason, who, e.Requested, e.Minimum, e.Available)
}
