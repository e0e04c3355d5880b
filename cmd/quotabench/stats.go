package main

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// stats collects what the ops of one phase did. It is safe for concurrent
// use; its histograms are fixed when it is made.
type stats struct {
	// ops counts the ops that ended; runs those that succeeded; denials
	// those that were denied as intended; failed those that went wrong;
	// rpcs the calls made.
	ops, runs, denials, failed, rpcs atomic.Int64

	rpcNames, opNames []string
	rpc, op           map[string]*hist

	mu       sync.Mutex
	outcomes map[outcome]int64
}

// outcome is a kind of answer other than success: a gRPC code and the
// ErrorInfo reason, and whether the op meant to get it (a deliberate
// denial).
type outcome struct {
	Code     string
	Reason   string
	Expected bool
}

// newStats returns stats with a latency histogram per RPC and per op kind,
// in the order given.
func newStats(rpcs, ops []string) *stats {
	s := &stats{rpcNames: rpcs, opNames: ops, rpc: map[string]*hist{}, op: map[string]*hist{}, outcomes: map[outcome]int64{}}
	for _, n := range rpcs {
		s.rpc[n] = new(hist)
	}
	for _, n := range ops {
		s.op[n] = new(hist)
	}
	return s
}

// call runs one RPC named name, records its latency (answered calls only,
// errors included) and returns its error.
func (s *stats) call(ctx context.Context, timeout time.Duration, name string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.Now()
	err := f(ctx)
	d := time.Since(t)
	s.rpcs.Add(1)
	s.rpc[name].Record(d)
	return err
}

// succeed ends an op that did what it meant, due at due.
func (s *stats) succeed(kind string, due time.Time) {
	s.op[kind].Record(time.Since(due))
	s.runs.Add(1)
	s.ops.Add(1)
}

// deny ends an op that was denied as it meant to be.
func (s *stats) deny(kind string, due time.Time, err error) {
	s.op[kind].Record(time.Since(due))
	s.count(classify(err), true)
	s.denials.Add(1)
	s.ops.Add(1)
}

// fail ends an op that went wrong.
func (s *stats) fail(err error) {
	s.count(classify(err), false)
	s.failed.Add(1)
	s.ops.Add(1)
}

func (s *stats) count(o outcome, expected bool) {
	o.Expected = expected
	s.mu.Lock()
	s.outcomes[o]++
	s.mu.Unlock()
}

// errUnexpectedOK is the error of an op that meant to be denied and was not.
var errUnexpectedOK = errors.New("not denied")

// classify names err by its gRPC code and ErrorInfo reason. An error that
// is no gRPC status (the raw store path) keeps its message as reason.
func classify(err error) outcome {
	if errors.Is(err, errUnexpectedOK) {
		return outcome{Code: "OK", Reason: "NOT_DENIED"}
	}
	st, ok := status.FromError(err)
	if !ok {
		msg := err.Error()
		if len(msg) > 60 {
			msg = msg[:60] + "…"
		}
		return outcome{Code: "ERROR", Reason: msg}
	}
	o := outcome{Code: codeName(st.Code())}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			o.Reason = info.GetReason()
			break
		}
	}
	return o
}

// codeName returns the UPPER_SNAKE name of a gRPC code.
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return c.String()
}

var codeNames = map[codes.Code]string{
	codes.Canceled: "CANCELED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// outcomeCount is one row of the error table.
type outcomeCount struct {
	outcome
	N int64
}

// outcomeList returns the outcomes, most frequent first.
func (s *stats) outcomeList() []outcomeCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []outcomeCount
	for o, n := range s.outcomes {
		l = append(l, outcomeCount{o, n})
	}
	slices.SortFunc(l, func(a, b outcomeCount) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Reason, b.Reason))
	})
	return l
}
