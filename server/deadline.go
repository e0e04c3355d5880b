package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// deadlineInterceptor bounds every unary call:
//   - a call that brings no deadline gets defaultTimeout (0: none), as if
//     the client had set it: when it passes, the call is
//     DEADLINE_EXCEEDED;
//   - then the call's work, which is the store's, is bounded by
//     storeTimeout (0: none), unless the caller's deadline comes first:
//     when it passes, the call is UNAVAILABLE / STORE_UNAVAILABLE (see
//     storeFailure), so that a hung or unreachable store fails calls
//     fast.
func deadlineInterceptor(defaultTimeout, storeTimeout time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, ok := ctx.Deadline(); !ok && defaultTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
			defer cancel()
		}
		if storeTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, storeTimeout, errStoreTimeout)
			defer cancel()
		}
		return handler(ctx, req)
	}
}
