package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/quota-svc/quota/quota"
)

// handler is what the services' handlers share.
type handler struct {
	svc     *quota.Service
	log     *slog.Logger
	metrics *Metrics
}

// fail maps err to a gRPC status with toStatus, logging unknown errors
// with the method of the call. A store that could not be reached or did
// not answer in time while the caller waited is quota.ErrUnavailable
// (storeFailure); denials and unavailability are counted.
func (h *handler) fail(ctx context.Context, err error) error {
	cause := err
	err = storeFailure(ctx, err)
	var e *quota.Error
	if _, ok := quota.AsDenial(err); ok && errors.As(err, &e) {
		h.metrics.denied(e.Reason())
	}
	if errors.Is(err, quota.ErrUnavailable) {
		h.metrics.storeUnavailable()
		setCause(ctx, cause)
	}
	method, _ := grpc.Method(ctx)
	return toStatus(err, h.log.With("method", method))
}

// actorOf names who makes the call, for the records that keep it (a price
// version's created_by): the name of the caller's token, or "" when
// quotad runs without authentication.
func actorOf(ctx context.Context) string { return CallerName(ctx) }
