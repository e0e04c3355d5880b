package main

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// TestDescribeStatus checks the one-line error of statuses quotactl's
// commands cannot provoke today (denials of Reserve, field violations
// the message does not name, lines in a message) and the exit code of
// every gRPC code.
func TestDescribeStatus(t *testing.T) {
	withDetails := func(code codes.Code, msg string, details ...protoadapt.MessageV1) error {
		st, err := status.New(code, msg).WithDetails(details...)
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	info := func(reason string) *errdetails.ErrorInfo {
		return &errdetails.ErrorInfo{Domain: "quota.dev", Reason: reason}
	}
	for _, tc := range []struct {
		name string
		err  error
		line string
		code int
	}{
		{"denial", withDetails(codes.ResourceExhausted, "credits exhausted: asked for 5000000 µcredits (at least 5000000), 0 available",
			info("CREDITS_EXHAUSTED"), &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: "member:alice", Description: "asked for 5000000 µcredits (at least 5000000), 0 available"}}}),
			"RESOURCE_EXHAUSTED CREDITS_EXHAUSTED: credits exhausted: asked for 5000000 µcredits (at least 5000000), 0 available (member:alice)", exitDenied},
		{"transition", withDetails(codes.FailedPrecondition, "cannot refund a committed reservation", info("ILLEGAL_TRANSITION"),
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{Type: "STATE", Subject: "reservation:c_1", Description: "x"}}}),
			"FAILED_PRECONDITION ILLEGAL_TRANSITION: cannot refund a committed reservation (reservation:c_1)", exitDenied},
		{"field named in the message", withDetails(codes.InvalidArgument, "invalid amount: must be positive", info("INVALID_FIELD"),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "amount", Description: "must be positive"}}}),
			"INVALID_ARGUMENT INVALID_FIELD: invalid amount: must be positive", exitRejected},
		{"field not in the message", withDetails(codes.InvalidArgument, "bad request", info("INVALID_FIELD"),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "usage.models[0]", Description: "too many\nlines"}}}),
			"INVALID_ARGUMENT INVALID_FIELD: bad request (field usage.models[0]: too many lines)", exitRejected},
		{"no ErrorInfo, lines", status.Error(codes.Unavailable, "connection error:\n  refused"), "UNAVAILABLE: connection error: refused", exitFailure},
		{"reason equal to the code", withDetails(codes.DeadlineExceeded, "the deadline was exceeded", info("DEADLINE_EXCEEDED")),
			"DEADLINE_EXCEEDED: the deadline was exceeded", exitFailure},
		{"not a status", errors.New("boom"), "UNKNOWN: boom", exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, code := describeStatus(tc.err)
			if line != tc.line || code != tc.code {
				t.Errorf("describeStatus = %q, %d; want %q, %d", line, code, tc.line, tc.code)
			}
		})
	}
	want := map[codes.Code]int{codes.OK: exitOK, codes.ResourceExhausted: exitDenied, codes.FailedPrecondition: exitDenied,
		codes.InvalidArgument: exitRejected, codes.NotFound: exitRejected}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		w, ok := want[c]
		if !ok {
			w = exitFailure
		}
		if got := exitCode(c); got != w {
			t.Errorf("exitCode(%v) = %d, want %d", c, got, w)
		}
	}
}
