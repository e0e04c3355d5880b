package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestStoreFailure(t *testing.T) {
	alive := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	callerDeadline, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	storeTimedOut, cancel3 := context.WithTimeoutCause(context.Background(), -time.Second, errStoreTimeout)
	defer cancel3()
	// What the store returns (store.classify): a Redis it cannot reach
	// is quota.ErrUnavailable; when the call's context ended, its error.
	refused := quota.Unavailable(fmt.Errorf("store: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}))

	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want error // errors.Is target
		not  error // errors.Is must be false
	}{
		{"a refused connection while the caller waits", alive, refused, quota.ErrUnavailable, nil},
		{"the Redis client's own deadline while the caller waits", alive, context.DeadlineExceeded, quota.ErrUnavailable, context.DeadlineExceeded},
		{"the server's store timeout", storeTimedOut, context.DeadlineExceeded, quota.ErrUnavailable, context.DeadlineExceeded},
		{"the server's store timeout, seen as a network timeout", storeTimedOut, quota.Unavailable(errors.New("i/o timeout")), quota.ErrUnavailable, nil},
		{"the caller's deadline", callerDeadline, context.DeadlineExceeded, context.DeadlineExceeded, quota.ErrUnavailable},
		{"the caller's deadline, seen as a network timeout", callerDeadline, refused, context.DeadlineExceeded, quota.ErrUnavailable},
		{"the caller canceled", canceled, context.Canceled, context.Canceled, quota.ErrUnavailable},
		{"a domain error is kept", alive, quota.ErrWorkspaceNotFound, quota.ErrWorkspaceNotFound, quota.ErrUnavailable},
		{"a domain error is kept after the caller left", canceled, quota.ErrWorkspaceNotFound, quota.ErrWorkspaceNotFound, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := storeFailure(tc.ctx, tc.err)
			if !errors.Is(got, tc.want) {
				t.Errorf("storeFailure = %v, want one that is %v", got, tc.want)
			}
			if tc.not != nil && errors.Is(got, tc.not) {
				t.Errorf("storeFailure = %v, which is %v; want it not to be", got, tc.not)
			}
		})
	}
}

// blockingStore is a fake store whose GetBalance waits for its context
// and returns what the store returns then: the context's error
// (store.classify).
func blockingStore() *fakeStore {
	return &fakeStore{getBalance: func(ctx context.Context, _, _ string, _ time.Time) (quota.Balance, error) {
		<-ctx.Done()
		return quota.Balance{}, ctx.Err()
	}}
}

func TestHungStoreFailsUnavailableWithinTheStoreTimeout(t *testing.T) {
	const storeTimeout = 200 * time.Millisecond
	e := newEnvWith(t, blockingStore(), Options{StoreTimeout: storeTimeout})
	start := time.Now()
	_, err := e.quota.GetBalance(testCtx(t), &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
	took := time.Since(start)
	checkStatus(t, err, wantStatus{codes.Unavailable, quota.CodeUnavailable.Reason(), ""})
	if took > storeTimeout+time.Second {
		t.Errorf("the call failed after %v, want about %v", took, storeTimeout)
	}
	st, _ := detailsOf(t, err)
	if want := "may or may not have been applied; retrying with the same request_id is safe"; !strings.Contains(st.Message(), want) {
		t.Errorf("message %q does not say %q", st.Message(), want)
	}
}

func TestCallsWithoutDeadlineGetTheDefault(t *testing.T) {
	e := newEnvWith(t, blockingStore(), Options{DefaultTimeout: 100 * time.Millisecond})
	_, err := e.quota.GetBalance(context.Background(), &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
	checkStatus(t, err, wantStatus{codes.DeadlineExceeded, reasonDeadlineExceeded, ""})
}

func TestAShorterClientDeadlineWins(t *testing.T) {
	e := newEnvWith(t, blockingStore(), Options{StoreTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
	if code := status.Code(err); code != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Errorf("GetBalance = %v after %v, want DeadlineExceeded after about 100ms", err, time.Since(start))
	}
	// The server saw the caller leave (its deadline, or the cancellation
	// the client sends when it passes), not a store failure.
	deadline := time.Now().Add(5 * time.Second)
	for len(e.logs.Lines("GetBalance", "msg=call")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := e.logs.Lines("GetBalance", "msg=call")
	if len(got) != 1 || !(strings.Contains(got[0], "code=DeadlineExceeded") || strings.Contains(got[0], "code=Canceled")) {
		t.Errorf("call lines: %q, want 1 with DeadlineExceeded or Canceled", got)
	}
}
