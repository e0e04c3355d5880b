package server

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthService is the standard health service (grpc/health), whose
// Watch streams end when the server starts draining, so that an open
// Watch never holds a graceful stop.
type healthService struct {
	*health.Server
	stop     chan struct{} // closed by endWatches
	stopOnce sync.Once
}

// newHealthService returns a health service reporting SERVING for every
// name in serviceNames.
func newHealthService() *healthService {
	h := &healthService{Server: health.NewServer(), stop: make(chan struct{})}
	for _, name := range serviceNames {
		h.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	return h
}

// Watch streams the serving status of a service until the client leaves
// or the server starts draining; then it ends with UNAVAILABLE, and the
// client watches another replica, or this one again once restarted.
func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx})
	select {
	case <-h.stop:
		return status.Error(codes.Unavailable, "the server is shutting down")
	default:
		return err
	}
}

// endWatches ends every Watch stream, open or to come.
func (h *healthService) endWatches() {
	h.stopOnce.Do(func() { close(h.stop) })
}

// watchStream is a Watch stream with another context.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

// Context returns the stream's context.
func (s *watchStream) Context() context.Context { return s.ctx }
