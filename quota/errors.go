package quota

import (
	"errors"
	"fmt"
)

// Errors. Every error the domain and its Store return is an *Error: a Code
// that says what went wrong, a message, and the details of its kind (the
// offending field, a denial's numbers, an illegal transition). Each Code
// has one ErrorInfo reason and one Kind in codeTable, so the store (which
// turns a script's error code into an *Error) and the server (which turns
// an *Error into a gRPC status) both read the same table and neither has a
// switch of its own. Callers check errors with errors.Is against the
// sentinels below (any *Error with the same Code matches) or read the
// details with errors.As.

// Code says what went wrong. The numbers are part of the Lua constants
// generated from Go (store/lua/gen_const.lua): never reuse one.
type Code int

// Codes.
const (
	// CodeInternal is a bug or an error the domain does not know.
	CodeInternal Code = 0
	// CodeInvalidField: bad input; Field names it with the API's spelling.
	CodeInvalidField Code = 1
	// CodeMemberRequired: the request names no member (for Reserve: no
	// member, spender or parent either).
	CodeMemberRequired Code = 2
	// CodeMemberOrSpender: a Reserve names both a member and a spender.
	CodeMemberOrSpender Code = 3
	// CodeRequestIDReused: the request_id was used for a different request.
	CodeRequestIDReused Code = 4
	// CodeWorkspaceNotFound: the workspace was never set up.
	CodeWorkspaceNotFound Code = 5
	// CodeReservationNotFound: no such reservation in the workspace (never
	// made, or deleted after its retention once settled).
	CodeReservationNotFound Code = 6
	// CodeGrantNotFound: no such pool grant in the workspace.
	CodeGrantNotFound Code = 7
	// CodeParentNotFound: a child Reserve names a parent that does not
	// exist in the workspace.
	CodeParentNotFound Code = 8
	// CodeParentNotHeld: a child Reserve names a parent that is no longer
	// held.
	CodeParentNotHeld Code = 9
	// CodeGrantEnded: the grant has already expired or been voided.
	CodeGrantEnded Code = 10
	// CodeIllegalTransition: a reservation cannot make that transition;
	// Transition says which.
	CodeIllegalTransition Code = 11
	// CodeDenied: a hold was refused; Denial says why.
	CodeDenied Code = 12
	// CodeUnavailable: the store cannot be reached or did not answer in
	// time. The call may or may not have been applied; a retry with the
	// same request_id is always safe.
	CodeUnavailable Code = 13
	// CodeLimitExceeded: a request would pass one of the service's limits
	// (Limit says which); nothing was changed.
	CodeLimitExceeded Code = 14
	// CodePricingVersionNotFound: no such price table version.
	CodePricingVersionNotFound Code = 15
	// CodeMemberNotFound: the member has no account in the workspace
	// (never given a seat).
	CodeMemberNotFound Code = 16
	// CodeAdjustmentExceedsAvailable: a debit asks for more than is
	// available to take (Available says how much was).
	CodeAdjustmentExceedsAvailable Code = 17
)

// Kind groups codes by what the caller can do about them; the server maps
// each Kind to one gRPC status code.
type Kind int

// Kinds.
const (
	// KindInternal: a bug; nothing the caller can do.
	KindInternal Kind = iota
	// KindInvalid: fix the request.
	KindInvalid
	// KindNotFound: the thing named does not exist.
	KindNotFound
	// KindFailedPrecondition: the thing is not in a state that allows it.
	KindFailedPrecondition
	// KindExhausted: not enough credits (or a cap); try later or less.
	KindExhausted
	// KindUnavailable: retry with the same request_id.
	KindUnavailable
)

// codeInfo is what a Code means on the wire.
type codeInfo struct {
	// reason is the ErrorInfo reason (a denial's is its Denial.Reason).
	reason string
	kind   Kind
	// subject, for KindFailedPrecondition, names what is in the wrong state
	// ("reservation", "grant").
	subject string
}

// codeTable holds every code's reason and kind.
var codeTable = map[Code]codeInfo{
	CodeInternal:                   {"INTERNAL", KindInternal, ""},
	CodeInvalidField:               {"INVALID_FIELD", KindInvalid, ""},
	CodeMemberRequired:             {"MEMBER_REQUIRED", KindInvalid, ""},
	CodeMemberOrSpender:            {"MEMBER_OR_SPENDER", KindInvalid, ""},
	CodeRequestIDReused:            {"REQUEST_ID_REUSED", KindInvalid, ""},
	CodeWorkspaceNotFound:          {"WORKSPACE_NOT_FOUND", KindNotFound, ""},
	CodeReservationNotFound:        {"RESERVATION_NOT_FOUND", KindNotFound, ""},
	CodeGrantNotFound:              {"GRANT_NOT_FOUND", KindNotFound, ""},
	CodeParentNotFound:             {"PARENT_NOT_FOUND", KindNotFound, ""},
	CodeParentNotHeld:              {"PARENT_NOT_HELD", KindFailedPrecondition, "reservation"},
	CodeGrantEnded:                 {"GRANT_ENDED", KindFailedPrecondition, "grant"},
	CodeIllegalTransition:          {"ILLEGAL_TRANSITION", KindFailedPrecondition, "reservation"},
	CodeDenied:                     {ReasonCreditsExhausted, KindExhausted, ""},
	CodeUnavailable:                {"STORE_UNAVAILABLE", KindUnavailable, ""},
	CodeLimitExceeded:              {"LIMIT_EXCEEDED", KindInvalid, ""},
	CodePricingVersionNotFound:     {"PRICING_VERSION_NOT_FOUND", KindNotFound, ""},
	CodeMemberNotFound:             {"MEMBER_NOT_FOUND", KindNotFound, ""},
	CodeAdjustmentExceedsAvailable: {"ADJUSTMENT_EXCEEDS_AVAILABLE", KindFailedPrecondition, "balance"},
}

// Codes lists every code, for tables and generated constants.
func Codes() []Code {
	out := make([]Code, 0, len(codeTable))
	for c := range Code(len(codeTable)) {
		out = append(out, c)
	}
	return out
}

// Reason is the code's ErrorInfo reason.
func (c Code) Reason() string { return codeTable[c].reason }

// Kind is the code's kind.
func (c Code) Kind() Kind { return codeTable[c].kind }

// Error is every error of the domain and its Store.
type Error struct {
	Code Code
	// Message says what went wrong, for people.
	Message string
	// Field names the offending request field with the API's spelling
	// ("usage.sub_agents[2].models[0].input_tokens"), when there is one.
	Field string
	// Limit is the limit a CodeLimitExceeded request would pass.
	Limit *Limit
	// Denial details a CodeDenied error.
	Denial *Denial
	// Transition details a CodeIllegalTransition error.
	Transition *Transition
	// cause is the underlying error of a CodeUnavailable or CodeInternal
	// error: logged, never sent to a client.
	cause error
}

// Error returns the message, prefixed "quota: ".
func (e *Error) Error() string {
	msg := "quota: " + e.Message
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, quota.ErrReservationNotFound) matches every such error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Reason is the ErrorInfo reason: a denial's own reason, else the code's.
func (e *Error) Reason() string {
	if e.Code == CodeDenied && e.Denial != nil && e.Denial.Reason != "" {
		return e.Denial.Reason
	}
	return e.Code.Reason()
}

// Kind is the error's kind.
func (e *Error) Kind() Kind { return e.Code.Kind() }

// Subject names what is in the wrong state for a failed precondition
// ("reservation", "grant"), else "".
func (e *Error) Subject() string { return codeTable[e.Code].subject }

// Sentinel errors callers check with errors.Is.
var (
	// ErrWorkspaceNotFound: the workspace was never set up.
	ErrWorkspaceNotFound = &Error{Code: CodeWorkspaceNotFound, Message: "workspace not found"}
	// ErrReservationNotFound: no such reservation in the workspace.
	ErrReservationNotFound = &Error{Code: CodeReservationNotFound, Message: "reservation not found"}
	// ErrRequestIDReused: the request_id was used before for a different
	// request.
	ErrRequestIDReused = &Error{Code: CodeRequestIDReused, Field: "request_id",
		Message: "this request_id was already used for a different request; choose a new one for each distinct request"}
	// ErrNoMember: the request names no member.
	ErrNoMember = &Error{Code: CodeMemberRequired, Field: "member_id", Message: "member_id is required"}
	// ErrNoMemberOrSpender: a Reserve names no member, spender or parent.
	ErrNoMemberOrSpender = &Error{Code: CodeMemberRequired, Field: "member_id",
		Message: "member_id or spender_id is required: a run is charged to a member, or, for programmatic usage, to an API key or trigger id"}
	// ErrMemberAndSpender: a Reserve names both a member and a spender.
	ErrMemberAndSpender = &Error{Code: CodeMemberOrSpender, Field: "member_id",
		Message: "member_id and spender_id are both set: a run is charged to a member or to a programmatic spender, not both"}
	// ErrGrantNotFound: no such pool grant in the workspace.
	ErrGrantNotFound = &Error{Code: CodeGrantNotFound, Message: "pool grant not found"}
	// ErrParentNotFound: a child Reserve names a parent that does not
	// exist in the workspace, or an id the service never issued.
	ErrParentNotFound = &Error{Code: CodeParentNotFound, Message: "parent reservation not found"}
	// ErrParentNotHeld: a child Reserve names a parent that is no longer
	// held (committed, refunded or expired).
	ErrParentNotHeld = &Error{Code: CodeParentNotHeld,
		Message: "the parent reservation is no longer held: it was committed, refunded or expired"}
	// ErrGrantEnded: the grant has already expired or been voided.
	ErrGrantEnded = &Error{Code: CodeGrantEnded, Message: "the pool grant has already expired or been voided"}
	// ErrUnavailable: the store cannot be reached or did not answer in
	// time; the call may or may not have been applied, and a retry with
	// the same request_id is safe.
	ErrUnavailable = &Error{Code: CodeUnavailable,
		Message: "the store is unavailable: the call may or may not have been applied; retrying with the same request_id is safe"}
	// ErrPricingVersionNotFound: no such price table version.
	ErrPricingVersionNotFound = &Error{Code: CodePricingVersionNotFound, Message: "price table version not found"}
	// ErrMemberNotFound: the member has no account in the workspace.
	ErrMemberNotFound = &Error{Code: CodeMemberNotFound,
		Message: "member not found in this workspace: give the member a seat first (AdminService.SetSeat)"}
)

// Invalid returns a CodeInvalidField error naming field.
func Invalid(field, format string, args ...any) error {
	return &Error{Code: CodeInvalidField, Field: field, Message: "invalid " + field + ": " + fmt.Sprintf(format, args...)}
}

// Unavailable wraps cause, a failure to reach the store, as a
// CodeUnavailable error.
func Unavailable(cause error) error {
	return &Error{Code: CodeUnavailable, Message: ErrUnavailable.Message, cause: cause}
}

// Internal wraps cause, a failure the domain does not know, as a
// CodeInternal error; its message never reaches a client.
func Internal(cause error) error {
	return &Error{Code: CodeInternal, Message: "internal error", cause: cause}
}

// AsError returns err as an *Error: itself if it is one (or wraps one),
// else a CodeInternal error wrapping it. nil stays nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err).(*Error)
}

// Transition is an illegal state transition of a reservation, such as
// refunding a committed one.
type Transition struct {
	ReservationID string
	From          State
	To            State
}

// TransitionError returns a CodeIllegalTransition error.
func TransitionError(reservationID string, from, to State) error {
	return &Error{Code: CodeIllegalTransition,
		Message:    fmt.Sprintf("the reservation is %s and cannot become %s", from, to),
		Transition: &Transition{ReservationID: reservationID, From: from, To: to}}
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

// Denial is a refused hold: the member (or spender) could not hold
// Requested (at least Minimum); Available is what the sources that decide
// the refusal had together.
type Denial struct {
	Reason    string
	MemberID  string
	SpenderID string
	Requested int64
	Minimum   int64
	Available int64
}

// DeniedError returns a CodeDenied error for d.
func DeniedError(d Denial) error {
	who := "member " + d.MemberID
	if d.SpenderID != "" {
		who = "spender " + d.SpenderID
	}
	return &Error{Code: CodeDenied, Denial: &d,
		Message: fmt.Sprintf("%s: %s asked for %d µcredits (at least %d), %d available", d.Reason, who, d.Requested, d.Minimum, d.Available)}
}

// AsDenial returns the Denial of a CodeDenied error.
func AsDenial(err error) (*Denial, bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == CodeDenied && e.Denial != nil {
		return e.Denial, true
	}
	return nil, false
}
