package server

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/quota-svc/quota/quota"
)

// handler is what the services' handlers share.
type handler struct {
	svc *quota.Service
	log *slog.Logger
}

// fail maps err to a gRPC status with toStatus, logging unknown errors
// with the method of the call.
func (h *handler) fail(ctx context.Context, err error) error {
	method, _ := grpc.Method(ctx)
	return toStatus(err, h.log.With("method", method))
}

// actorOf names who makes the call, for the records that keep it (a price
// version's created_by): the authenticated caller, once there is one.
func actorOf(ctx context.Context) string { return "" }
