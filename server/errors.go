package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/quota-svc/quota/quota"
)

// errorDomain is the ErrorInfo domain of every error this server returns:
// per AIP-193, the name of the service, in the form of a DNS name.
const errorDomain = "quota.dev"

// ErrorInfo reasons of errors that are not denials (a denial's reason is
// its quota.DeniedError.Reason).
const (
	reasonInvalidField        = "INVALID_FIELD"
	reasonMemberRequired      = "MEMBER_REQUIRED"
	reasonMemberOrSpender     = "MEMBER_OR_SPENDER"
	reasonRequestIDReused     = "REQUEST_ID_REUSED"
	reasonWorkspaceNotFound   = "WORKSPACE_NOT_FOUND"
	reasonReservationNotFound = "RESERVATION_NOT_FOUND"
	reasonParentNotFound      = "PARENT_NOT_FOUND"
	reasonParentNotHeld       = "PARENT_NOT_HELD"
	reasonGrantNotFound       = "GRANT_NOT_FOUND"
	reasonGrantEnded          = "GRANT_ENDED"
	reasonIllegalTransition   = "ILLEGAL_TRANSITION"
	reasonCanceled            = "CANCELED"
	reasonDeadlineExceeded    = "DEADLINE_EXCEEDED"
	reasonInternal            = "INTERNAL"
	reasonStoreUnavailable    = "STORE_UNAVAILABLE"
)

// toStatus maps err to a gRPC status error. Every status carries an
// ErrorInfo (domain errorDomain, an UPPER_SNAKE reason, lowerCamelCase
// metadata keys); bad input adds a
// BadRequest, a denied hold a QuotaFailure, an illegal transition, an
// ended pool grant or a parent reservation no longer held a
// PreconditionFailure. A status error passes through
// (given an ErrorInfo if it has none). Any other error is logged once on
// log, which should name the method, and answered INTERNAL "internal
// error": its message never reaches the caller.
func toStatus(err error, log *slog.Logger) error {
	if err == nil {
		return nil
	}
	var (
		invalid    *quota.InvalidError
		denied     *quota.DeniedError
		transition *quota.TransitionError
	)
	switch {
	case errors.As(err, &invalid):
		return newStatus(codes.InvalidArgument, "invalid "+invalid.Field+": "+invalid.Reason, reasonInvalidField,
			map[string]string{"field": invalid.Field},
			badRequest(invalid.Field, invalid.Reason))
	case errors.Is(err, quota.ErrNoMember):
		why := "member_id is required"
		if errors.Is(err, errNoMemberOrSpender) {
			why = "member_id or spender_id is required: a run is charged to a member, or, for programmatic usage, to an API key or trigger id"
		}
		return newStatus(codes.InvalidArgument, why, reasonMemberRequired,
			map[string]string{"field": "member_id"},
			badRequest("member_id", why))
	case errors.Is(err, quota.ErrMemberAndSpender):
		const why = "member_id and spender_id are both set: a run is charged to a member or to a programmatic spender, not both"
		return newStatus(codes.InvalidArgument, why, reasonMemberOrSpender,
			map[string]string{"field": "member_id"},
			badRequest("member_id", why))
	case errors.Is(err, quota.ErrRequestIDReused):
		const why = "this request_id was already used for a different request; choose a new one for each distinct request"
		return newStatus(codes.InvalidArgument, "request_id: "+why, reasonRequestIDReused,
			map[string]string{"field": "request_id"},
			badRequest("request_id", why))
	case errors.Is(err, quota.ErrWorkspaceNotFound):
		return newStatus(codes.NotFound, "workspace not found", reasonWorkspaceNotFound, nil)
	case errors.Is(err, quota.ErrReservationNotFound):
		return newStatus(codes.NotFound, "reservation not found", reasonReservationNotFound, nil)
	case errors.Is(err, quota.ErrParentNotFound):
		return newStatus(codes.NotFound, "parent reservation not found", reasonParentNotFound, nil)
	case errors.Is(err, quota.ErrParentNotHeld):
		const desc = "the parent reservation is no longer held: it was committed, refunded or expired"
		return newStatus(codes.FailedPrecondition, desc, reasonParentNotHeld, nil,
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
				Type: "STATE", Subject: "reservation", Description: desc,
			}}})
	case errors.Is(err, quota.ErrGrantNotFound):
		return newStatus(codes.NotFound, "pool grant not found", reasonGrantNotFound, nil)
	case errors.Is(err, quota.ErrGrantEnded):
		const desc = "the pool grant has already expired or been voided"
		return newStatus(codes.FailedPrecondition, desc, reasonGrantEnded, nil,
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
				Type: "STATE", Subject: "grant", Description: desc,
			}}})
	case errors.As(err, &transition):
		desc := fmt.Sprintf("the reservation is %s and cannot become %s", transition.From, transition.To)
		return newStatus(codes.FailedPrecondition, desc, reasonIllegalTransition,
			map[string]string{
				"reservationId": transition.ReservationID,
				"from":          transition.From.String(),
				"to":            transition.To.String(),
			},
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
				Type:        "STATE",
				Subject:     "reservation:" + transition.ReservationID,
				Description: desc,
			}}})
	case errors.As(err, &denied):
		return deniedStatus(denied)
	case errors.Is(err, quota.ErrUnavailable):
		return newStatus(codes.Unavailable, "the store is unavailable: the call may or may not have been applied; "+
			"retrying with the same request_id is safe", reasonStoreUnavailable, nil)
	case errors.Is(err, context.Canceled):
		return newStatus(codes.Canceled, "the call was canceled", reasonCanceled, nil)
	case errors.Is(err, context.DeadlineExceeded):
		return newStatus(codes.DeadlineExceeded, "the deadline was exceeded", reasonDeadlineExceeded, nil)
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return withErrorInfo(st)
	}
	log.Error("internal error", "error", err)
	return internalStatus()
}

// deniedStatus is RESOURCE_EXHAUSTED for a refused hold, with the numbers
// in the ErrorInfo's metadata and a QuotaFailure whose subject is
// "member:<id>", or "spender:<id>" for programmatic usage.
func deniedStatus(e *quota.DeniedError) error {
	reason := e.Reason
	if reason == "" {
		reason = quota.ReasonCreditsExhausted
	}
	desc := fmt.Sprintf("asked for %d µcredits (at least %d), %d available", e.Requested, e.Minimum, e.Available)
	meta := map[string]string{
		"requested": strconv.FormatInt(e.Requested, 10),
		"minimum":   strconv.FormatInt(e.Minimum, 10),
		"available": strconv.FormatInt(e.Available, 10),
	}
	subject := "member:" + e.MemberID
	if e.SpenderID != "" {
		meta["spenderId"] = e.SpenderID
		subject = "spender:" + e.SpenderID
	} else {
		meta["memberId"] = e.MemberID
	}
	return newStatus(codes.ResourceExhausted, strings.ToLower(strings.ReplaceAll(reason, "_", " "))+": "+desc, reason, meta,
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     subject,
			Description: desc,
		}}})
}

// internalStatus is the INTERNAL error for every failure the caller cannot
// act on; it says nothing about the cause.
func internalStatus() error {
	return newStatus(codes.Internal, "internal error", reasonInternal, nil)
}

// badRequest is a BadRequest with one field violation.
func badRequest(field, desc string) *errdetails.BadRequest {
	return &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
		Field: field, Description: desc,
	}}}
}

// newStatus builds a status error with an ErrorInfo and further details.
func newStatus(code codes.Code, msg, reason string, meta map[string]string, details ...protoadapt.MessageV1) error {
	st := status.New(code, msg)
	all := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Domain: errorDomain, Reason: reason, Metadata: meta}}, details...)
	withDetails, err := st.WithDetails(all...)
	if err != nil { // only for a code OK, which is never built here
		return st.Err()
	}
	return withDetails.Err()
}

// withErrorInfo returns st's error, adding an ErrorInfo whose reason is the
// code's name when st has none.
func withErrorInfo(st *status.Status) error {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return st.Err()
		}
	}
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Domain: errorDomain, Reason: codeReason(st.Code())})
	if err != nil {
		return st.Err()
	}
	return withInfo.Err()
}

// codeReason spells a code's name in UPPER_SNAKE: DeadlineExceeded becomes
// DEADLINE_EXCEEDED.
func codeReason(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
