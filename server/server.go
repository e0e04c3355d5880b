package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Server is a gRPC server with the quota services registered, the standard
// health service and server reflection.
//
// A main program serves it and, on shutdown, calls Shutdown, which first
// reports NOT_SERVING through Health (so that load balancers and clients
// stop sending) and then drains the calls in flight:
//
//	srv := server.New(svc, log)
//	go func() { errc <- srv.Serve(lis) }()
//	<-ctx.Done()
//	srv.Shutdown(drainCtx) // NOT_SERVING, then GracefulStop, Stop at drainCtx's end
//
// GRPC and Health are exported for callers that need more, such as a
// delay between NOT_SERVING and the drain.
type Server struct {
	// GRPC is the underlying server; Serve and Shutdown wrap it.
	GRPC *grpc.Server
	// Health is the health service: SERVING for "" and both quota services
	// from New on, NOT_SERVING for all after Health.Shutdown (or Shutdown).
	Health *health.Server
}

// Service names reported by the health service.
var serviceNames = []string{
	"",
	quotav1.QuotaService_ServiceDesc.ServiceName,
	quotav1.AdminService_ServiceDesc.ServiceName,
}

// New returns a Server that serves svc. Every call is logged on log at
// debug level when it finishes; a panic in a handler is logged at error
// level with its stack and answered INTERNAL. opts are appended to the
// server's own options; interceptors they add run inside recovery and
// logging.
func New(svc *quota.Service, log *slog.Logger, opts ...grpc.ServerOption) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	callLog := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(func(codes.Code) logging.Level { return logging.LevelDebug }),
	}
	recOpts := []recovery.Option{
		recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
			method, _ := grpc.Method(ctx)
			log.ErrorContext(ctx, "panic in gRPC handler", "method", method, "panic", p, "stack", string(debug.Stack()))
			return internalStatus()
		}),
	}
	all := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(callLog, logOpts...),
			recovery.UnaryServerInterceptor(recOpts...),
		),
		grpc.ChainStreamInterceptor(
			logging.StreamServerInterceptor(callLog, logOpts...),
			recovery.StreamServerInterceptor(recOpts...),
		),
	}, opts...)

	gs := grpc.NewServer(all...)
	quotav1.RegisterQuotaServiceServer(gs, &quotaServer{handler: handler{svc: svc, log: log}})
	quotav1.RegisterAdminServiceServer(gs, &adminServer{handler: handler{svc: svc, log: log}})

	hs := health.NewServer()
	for _, name := range serviceNames {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return &Server{GRPC: gs, Health: hs}
}

// Serve accepts connections on lis until the server stops. It returns nil
// once Shutdown (or GRPC.Stop) is called, even before Serve was.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.GRPC.Serve(lis); !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Shutdown reports NOT_SERVING for every service, then stops accepting
// calls and waits for those in flight; when ctx ends first, it closes them
// all at once. It returns when the server has stopped.
func (s *Server) Shutdown(ctx context.Context) {
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.GRPC.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.GRPC.Stop()
		<-done
	}
}
