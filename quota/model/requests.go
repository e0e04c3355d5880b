package model

import (
	"reflect"
	"time"

	"github.com/quota-svc/quota/quota"
)

// Requests: each is what one RPC asks, in the model's terms. Fields keep
// what the caller sent (an unset origin stays OriginUnknown), so that two
// requests are the same exactly when the RPCs' messages are.

// SeatRequest is SetSeat (quota.SeatNone unassigns).
type SeatRequest struct {
	Member string
	Seat   quota.Seat
}

// PolicyRequest is SetWorkspacePolicy.
type PolicyRequest struct{ Policy quota.Policy }

// CapRequest is SetMemberPoolCap.
type CapRequest struct {
	Member string
	Cap    quota.MemberCap
}

// GrantRequest is AddPoolGrant; a zero Start means now, a zero Expiry a
// top-up's default lifetime.
type GrantRequest struct {
	Kind          quota.GrantKind
	Amount        int64
	Start, Expiry time.Time
	Priority      int64
}

// VoidRequest is VoidPoolGrant.
type VoidRequest struct{ Grant string }

// ReserveRequest is Reserve: a root for Owner, or with Parent (the
// parent's key) a child of the parent's run.
type ReserveRequest struct {
	Owner       Owner
	Parent      string
	Origin      quota.Origin
	Amount, Min int64
	// TTL 0 means the default.
	TTL         time.Duration
	AllowTopUp  bool
	HasTokenCap bool
	TokenCap    int64
}

// ExtendRequest is Extend of the reservation with key Reservation.
type ExtendRequest struct {
	Reservation string
	Add         int64
	TTL         time.Duration
}

// CommitRequest is Commit with a usage tree.
type CommitRequest struct {
	Reservation string
	Usage       Agent
}

// RefundRequest is Refund.
type RefundRequest struct{ Reservation string }

// Error is an error the service answers, by its ErrorInfo reason.
type Error struct {
	Reason string
	// Recorded errors are kept under the request id: a retry gets the
	// same answer (denials, illegal transitions, PARENT_NOT_HELD,
	// GRANT_ENDED).
	Recorded bool
	// A denial's numbers (RESOURCE_EXHAUSTED).
	Requested, Minimum, Available int64
	// An illegal transition's states.
	From, To quota.State
}

// Error returns the reason.
func (e *Error) Error() string { return e.Reason }

// Errors the model answers.
var (
	errReused           = &Error{Reason: "REQUEST_ID_REUSED"}
	errNotFound         = &Error{Reason: "RESERVATION_NOT_FOUND"}
	errGrantNotFound    = &Error{Reason: "GRANT_NOT_FOUND"}
	errParentNotHeld    = &Error{Reason: "PARENT_NOT_HELD", Recorded: true}
	errGrantEnded       = &Error{Reason: "GRANT_ENDED", Recorded: true}
	errParentNotFound   = &Error{Reason: "PARENT_NOT_FOUND"}
	errInvalid          = &Error{Reason: "INVALID_FIELD"}
	errOwnerNotParent   = errInvalid
	errOriginNotParents = errInvalid
)

// transition is an illegal transition from r's state to to.
func transition(r *Reservation, to quota.State) *Error {
	return &Error{Reason: "ILLEGAL_TRANSITION", Recorded: true, From: r.State, To: to}
}

// Result is what a request did: an error, or the objects it answers
// with (their state now: a retry is answered from the records as they
// stand).
type Result struct {
	Err         *Error
	Reservation *Reservation
	Grant       *Grant
	Member      string
}

// request is a request id's first request and its result.
type request struct {
	body   any
	result Result
}

// do runs a request under its request id: the same id with the same
// request answers the first result and changes nothing; with another
// request it is REQUEST_ID_REUSED. Only successes and recorded errors
// keep the id; after any other error the id is free.
func (m *Model) do(id string, body any, run func() Result) Result {
	if prev := m.requests[id]; prev != nil {
		if !reflect.DeepEqual(prev.body, body) {
			return Result{Err: errReused}
		}
		return prev.result
	}
	out := run()
	if out.Err == nil || out.Err.Recorded {
		m.requests[id] = &request{body: body, result: out}
	}
	return out
}
