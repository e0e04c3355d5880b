package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/quota-svc/quota/quota"
)

// errStoreTimeout is the cause of a call's context when the server's
// store timeout ran out before the caller's own deadline (see
// deadlineInterceptor).
var errStoreTimeout = errors.New("server: the store did not answer within the store timeout")

// storeFailure returns err as the caller should see it, given ctx, the
// call's context:
//   - when the caller gave up (canceled, or its own deadline passed), the
//     caller's context error, whatever the store said;
//   - when the store could not be reached or did not answer in time
//     (the store says so with quota.ErrUnavailable: store.classify is
//     the one place that tells Redis's failures apart; or the server's
//     store timeout ran out while the caller still waits),
//     quota.ErrUnavailable wrapping err;
//   - else err.
func storeFailure(ctx context.Context, err error) error {
	unavailable := errors.Is(err, quota.ErrUnavailable)
	if err == nil || !unavailable && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errStoreTimeout) {
		return fmt.Errorf("%w: %s", ctx.Err(), err) // the caller left: only the text of what the store said
	}
	if unavailable {
		return err
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return err // not the caller's, not a timeout: a bug somewhere, reported as such
	}
	return quota.Unavailable(unwrapContextErrs(err))
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
