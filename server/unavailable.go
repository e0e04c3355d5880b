package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
)

// isStoreUnavailable tells whether err means that the store could not be
// reached, did not answer in time, or refused to write for now: a network
// error, a lost or refused connection, the Redis client's pool timeout or
// closed client, or a Redis error reply of a server that is loading,
// read-only, without its master or replicas, out of memory or failing
// over. Such a call may or may not have been applied.
//
// It stands until the store wraps these errors in quota.ErrUnavailable
// itself.
func isStoreUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// A context error is a net.Error too; whose it is, only the
		// caller's context tells (storeFailure).
		return false
	case errors.Is(err, quota.ErrUnavailable),
		errors.As(err, &netErr), errors.As(err, &opErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed),
		redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsNoReplicasError(err),
		redis.IsMaxClientsError(err), redis.IsOOMError(err):
		return true
	}
	// The replies above may reach us as plain errors, reworded by a layer
	// between: match their text too.
	s := err.Error()
	for _, sub := range unavailableReplies {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// unavailableReplies are the texts of errors that mean the store is
// unavailable for now.
var unavailableReplies = []string{
	"redis: connection pool timeout",
	"redis: client is closed",
	"LOADING ", "READONLY ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ", "NOREPLICAS ",
	"MISCONF ", "OOM ", "ERR max number of clients reached",
	"connection refused", "connection reset by peer", "broken pipe", "i/o timeout",
}

// errStoreTimeout is the cause of a call's context when the server's
// store timeout ran out before the caller's own deadline (see
// deadlineInterceptor).
var errStoreTimeout = errors.New("server: the store did not answer within the store timeout")

// storeFailure returns err as the caller should see it, given ctx, the
// call's context:
//   - when the caller gave up (canceled, or its own deadline passed), the
//     caller's context error, whatever the store said;
//   - when the store could not be reached or did not answer in time
//     (isStoreUnavailable, the server's store timeout, or a deadline of
//     the Redis client's own while the caller still waits),
//     quota.ErrUnavailable wrapping err;
//   - else err.
func storeFailure(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, quota.ErrUnavailable) {
		return err
	}
	timeoutish := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isStoreUnavailable(err)
	if !timeoutish {
		return err
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStoreTimeout) {
		return fmt.Errorf("%w: %w", ctx.Err(), unwrapContextErrs(err))
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return err // not the caller's, not a timeout: a bug somewhere, reported as such
	}
	return fmt.Errorf("%w: %w", quota.ErrUnavailable, unwrapContextErrs(err))
}

// unwrapContextErrs hides the context errors err wraps, so that a wrapped
// store error is matched as what the wrapper says, not as a context
// error: it keeps only err's text.
func unwrapContextErrs(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errors.New(err.Error())
	}
	return err
}
