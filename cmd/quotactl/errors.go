package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes (documented in rootHelp and the README).
const (
	exitOK       = 0
	exitFailure  = 1 // unreachable, unavailable, auth, internal, anything else
	exitUsage    = 2 // bad command line; nothing was sent
	exitDenied   = 3 // RESOURCE_EXHAUSTED, FAILED_PRECONDITION
	exitRejected = 4 // INVALID_ARGUMENT, NOT_FOUND
)

// usageError is a bad command line: a flag, an argument or a file named
// by one. Nothing was sent.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// rpcError is the error an RPC returned: a gRPC status.
type rpcError struct{ err error }

func (e rpcError) Error() string { return e.err.Error() }
func (e rpcError) Unwrap() error { return e.err }

// failure is any other error of a command (exit code 1).
type failure struct{ err error }

func (e failure) Error() string { return e.err.Error() }
func (e failure) Unwrap() error { return e.err }

// asRunError marks an error a command's RunE returns: a usage error stays
// one; an error of an RPC (a gRPC status) is an rpcError; anything else is
// a failure.
func asRunError(err error) error {
	var u usageError
	var r rpcError
	switch {
	case err == nil, errors.As(err, &u), errors.As(err, &r):
		return err
	}
	if _, ok := status.FromError(err); ok {
		return rpcError{err}
	}
	return failure{err}
}

// report prints err, if any, on stderr as one line and returns the exit
// code. Errors that are neither an RPC's nor a command's failure come from
// cobra: a bad command line (cmd is the command it concerns).
func report(stderr io.Writer, cmd *cobra.Command, err error) int {
	var r rpcError
	var f failure
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &r):
		line, code := describeStatus(r.err)
		fmt.Fprintln(stderr, "quotactl:", line)
		return code
	case errors.As(err, &f):
		fmt.Fprintln(stderr, "quotactl:", oneLine(f.Error()))
		return exitFailure
	}
	fmt.Fprintln(stderr, "quotactl:", oneLine(err.Error()))
	if cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return exitUsage
}

// describeStatus spells a gRPC error as "CODE REASON: message (details)"
// on one line, and returns the exit code of its gRPC code. The reason is
// the ErrorInfo's; details are what the BadRequest, QuotaFailure and
// PreconditionFailure add to the message (fields and subjects it does not
// already name).
func describeStatus(err error) (string, int) {
	st := status.Convert(err)
	msg := oneLine(st.Message())
	head := codeName(st.Code())
	var extra []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetReason() != "" && d.GetReason() != head {
				head += " " + d.GetReason()
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				if !strings.Contains(msg, v.GetField()) {
					extra = append(extra, "field "+v.GetField()+": "+oneLine(v.GetDescription()))
				}
			}
		case *errdetails.QuotaFailure:
			for _, v := range d.GetViolations() {
				if !strings.Contains(msg, v.GetSubject()) {
					extra = append(extra, v.GetSubject())
				}
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				if !strings.Contains(msg, v.GetSubject()) {
					extra = append(extra, v.GetSubject())
				}
			}
		}
	}
	line := head + ": " + msg
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, "; ") + ")"
	}
	return line, exitCode(st.Code())
}

// exitCode is the exit code of a gRPC code.
func exitCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return exitOK
	case codes.ResourceExhausted, codes.FailedPrecondition:
		return exitDenied
	case codes.InvalidArgument, codes.NotFound:
		return exitRejected
	}
	return exitFailure
}

// codeName spells a gRPC code in UPPER_SNAKE, as google.rpc.Code does:
// DeadlineExceeded is DEADLINE_EXCEEDED.
func codeName(c codes.Code) string { return code.Code(c).String() }

// oneLine joins the lines of s with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
