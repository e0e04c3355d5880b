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

// ErrorInfo reasons of errors that are not quota errors.
const (
	reasonCanceled         = "CANCELED"
	reasonDeadlineExceeded = "DEADLINE_EXCEEDED"
)

// kindCodes maps each kind of quota error to its gRPC code: the one place
// where domain errors meet the wire (each quota.Code's reason and kind are
// in quota's code table).
var kindCodes = map[quota.Kind]codes.Code{
	quota.KindInternal:           codes.Internal,
	quota.KindInvalid:            codes.InvalidArgument,
	quota.KindNotFound:           codes.NotFound,
	quota.KindFailedPrecondition: codes.FailedPrecondition,
	quota.KindExhausted:          codes.ResourceExhausted,
	quota.KindUnavailable:        codes.Unavailable,
}

// toStatus maps err to a gRPC status error. Every status carries an
// ErrorInfo (domain errorDomain, an UPPER_SNAKE reason, lowerCamelCase
// metadata keys); an error naming a field adds a BadRequest, a denied hold
// a QuotaFailure, a failed precondition a PreconditionFailure. A status error passes through
// (given an ErrorInfo if it has none). An internal error is logged once on
// log, which should name the method, and answered INTERNAL "internal
// error": its cause never reaches the caller. A store that cannot be
// reached is logged at warning level and answered UNAVAILABLE.
func toStatus(err error, log *slog.Logger) error {
	if err == nil {
		return nil
	}
	var e *quota.Error
	switch {
	case errors.As(err, &e):
		return errorStatus(e, log)
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

// errorStatus maps a quota error.
func errorStatus(e *quota.Error, log *slog.Logger) error {
	code := kindCodes[e.Kind()]
	meta := map[string]string{}
	var details []protoadapt.MessageV1
	msg := e.Message
	switch e.Code {
	case quota.CodeInternal:
		log.Error("internal error", "error", e)
		return internalStatus()
	}
	if e.Field != "" {
		meta["field"] = e.Field
		details = append(details, badRequest(e.Field, strings.TrimPrefix(msg, "invalid "+e.Field+": ")))
	}
	if l := e.Limit; l != nil {
		meta["limit"] = l.Name
		meta["limitValue"] = strconv.FormatInt(l.Value, 10)
	}
	if d := e.Denial; d != nil {
		msg = strings.ToLower(strings.ReplaceAll(e.Reason(), "_", " ")) + ": " +
			fmt.Sprintf("asked for %d µcredits (at least %d), %d available", d.Requested, d.Minimum, d.Available)
		meta["requested"] = strconv.FormatInt(d.Requested, 10)
		meta["minimum"] = strconv.FormatInt(d.Minimum, 10)
		meta["available"] = strconv.FormatInt(d.Available, 10)
		subject := "member:" + d.MemberID
		if d.SpenderID != "" {
			meta["spenderId"] = d.SpenderID
			subject = "spender:" + d.SpenderID
		} else {
			meta["memberId"] = d.MemberID
		}
		details = append(details, &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     subject,
			Description: fmt.Sprintf("asked for %d µcredits (at least %d), %d available", d.Requested, d.Minimum, d.Available),
		}}})
	}
	if e.Kind() == quota.KindFailedPrecondition {
		subject := e.Subject()
		if t := e.Transition; t != nil {
			meta["reservationId"] = t.ReservationID
			meta["from"] = t.From.String()
			meta["to"] = t.To.String()
			subject = "reservation:" + t.ReservationID
		}
		details = append(details, &errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
			Type: "STATE", Subject: subject, Description: msg,
		}}})
	}
	if len(meta) == 0 {
		meta = nil
	}
	return newStatus(code, msg, e.Reason(), meta, details...)
}

// internalStatus is the INTERNAL error for every failure the caller cannot
// act on; it says nothing about the cause.
func internalStatus() error {
	return newStatus(codes.Internal, "internal error", quota.CodeInternal.Reason(), nil)
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
