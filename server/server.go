package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Server is a gRPC server with the quota services registered, the standard
// health service and, when asked for, server reflection.
//
// A main program serves it, reports the store's health with SetServing
// and, on shutdown, calls Shutdown, which first reports NOT_SERVING
// through Health (so that load balancers and clients stop sending), keeps
// serving for a grace period so that probes see it, ends the health Watch
// streams, then drains the calls in flight:
//
//	srv := server.New(svc, server.Options{Log: log, Auth: auth, Metrics: m})
//	go func() { errc <- srv.Serve(lis) }()
//	<-ctx.Done()
//	srv.Shutdown(grace, drain) // NOT_SERVING, grace, GracefulStop, Stop after drain
type Server struct {
	// GRPC is the underlying server; Serve and Shutdown wrap it.
	GRPC *grpc.Server
	// Health is the health service: SERVING for "" and both quota services
	// from New on, as SetServing says then, NOT_SERVING for all after
	// Health.Shutdown (or Shutdown).
	Health *health.Server

	health *healthService
}

// Service names reported by the health service.
var serviceNames = []string{
	"",
	quotav1.QuotaService_ServiceDesc.ServiceName,
	quotav1.AdminService_ServiceDesc.ServiceName,
}

// Options are a Server's settings. The zero value serves every call
// unauthenticated, with no metrics, no reflection and no timeouts.
type Options struct {
	// Log receives one line per call (see logCall), the errors the server
	// does not know and recovered panics. Nil discards.
	Log *slog.Logger
	// Auth checks every call's bearer token, role and workspaces; nil
	// serves every call unauthenticated.
	Auth *Authenticator
	// Metrics records gRPC and domain metrics; nil records none.
	Metrics *Metrics
	// Reflection serves gRPC server reflection (to any valid token when
	// Auth is set).
	Reflection bool
	// DefaultTimeout is the deadline of a unary call that brings none
	// (0: none).
	DefaultTimeout time.Duration
	// StoreTimeout bounds each unary call's work, the store's, unless the
	// caller's deadline is sooner; past it the call is UNAVAILABLE /
	// STORE_UNAVAILABLE (0: no bound).
	StoreTimeout time.Duration
	// GRPCOptions are appended to the server's own options (credentials,
	// message and stream limits, keepalive). Interceptors they add run
	// innermost.
	GRPCOptions []grpc.ServerOption
}

// New returns a Server that serves svc with o.
//
// Every unary call goes through, outermost first: the gRPC metrics, the
// call log (one line when it ends), panic recovery (a panic is logged
// with its stack, counted and answered INTERNAL), authentication and
// authorization (when o.Auth is set), the check for undecodable requests
// (INVALID_ARGUMENT), then the deadlines. Streams (health, reflection)
// get the metrics, the log, recovery and authentication.
func New(svc *quota.Service, o Options) *Server {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	recOpts := []recovery.Option{
		recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
			method, _ := grpc.Method(ctx)
			o.Metrics.panicked()
			log.ErrorContext(ctx, "panic in gRPC handler", "method", method, "panic", p, "stack", string(debug.Stack()))
			return internalStatus()
		}),
	}
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if o.Metrics != nil {
		unary = append(unary, o.Metrics.unaryInterceptor())
		stream = append(stream, o.Metrics.streamInterceptor())
	}
	unary = append(unary, unaryLogger(log), recovery.UnaryServerInterceptor(recOpts...))
	stream = append(stream, streamLogger(log), recovery.StreamServerInterceptor(recOpts...))
	if o.Auth != nil {
		unary = append(unary, o.Auth.unaryInterceptors()...)
		stream = append(stream, o.Auth.streamInterceptor())
	}
	unary = append(unary, rejectMalformed, deadlineInterceptor(o.DefaultTimeout, o.StoreTimeout))

	all := append([]grpc.ServerOption{
		grpc.ForceServerCodecV2(newLenientCodec()),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}, o.GRPCOptions...)

	gs := grpc.NewServer(all...)
	h := handler{svc: svc, log: log, metrics: o.Metrics}
	quotav1.RegisterQuotaServiceServer(gs, &quotaServer{handler: h})
	quotav1.RegisterAdminServiceServer(gs, &adminServer{handler: h})

	hs := newHealthService()
	healthpb.RegisterHealthServer(gs, hs)
	if o.Reflection {
		reflection.Register(gs)
	}
	o.Metrics.initialize(gs)
	return &Server{GRPC: gs, Health: hs.Server, health: hs}
}

// HealthServer returns a gRPC server that serves only this server's
// health service, unauthenticated, for probes that cannot speak TLS or
// send tokens (Kubernetes' gRPC probes): it answers what Health says,
// and its Watch streams end with the main server's. Stop it after
// Shutdown.
func (s *Server) HealthServer(opts ...grpc.ServerOption) *grpc.Server {
	gs := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(gs, s.health)
	return gs
}

// SetServing reports every service SERVING or NOT_SERVING, as the store
// is reachable or not. It does nothing once Shutdown (or Health.Shutdown)
// was called: the server then stays NOT_SERVING.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for _, name := range serviceNames {
		s.Health.SetServingStatus(name, st)
	}
}

// Serve accepts connections on lis until the server stops. It returns nil
// once Shutdown (or GRPC.Stop) is called, even before Serve was.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.GRPC.Serve(lis); !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Shutdown stops the server in order:
//  1. every service reports NOT_SERVING;
//  2. for grace, the server goes on serving as before, new connections
//     included, so that probes and load balancers see NOT_SERVING and
//     send elsewhere;
//  3. health Watch streams end (UNAVAILABLE), so none holds the drain;
//  4. the server stops accepting and waits up to drain for the calls in
//     flight; those still running then are cut.
//
// It returns when the server has stopped.
func (s *Server) Shutdown(grace, drain time.Duration) {
	s.Health.Shutdown()
	if grace > 0 {
		time.Sleep(grace)
	}
	s.health.endWatches()
	done := make(chan struct{})
	go func() {
		s.GRPC.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.GRPC.Stop()
		<-done
	}
}
