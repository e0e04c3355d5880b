package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Call logging: one line per call when it ends, with the method, the
// code, the ErrorInfo reason, the latency, the workspace and request id
// of the request, the caller's token name and the peer's address. Never a
// token, a password or a request body. Health calls that succeed are
// logged at debug level, so that probes do not flood the log.

// maxLoggedID bounds an id copied from a request into the log.
const maxLoggedID = 128

// callInfo is what inner interceptors and handlers tell the call log:
// the caller's token name, set by the authenticator, and the cause of a
// store failure, set by handler.fail (the caller is told only that the
// store is unavailable; the operator reads why here).
type callInfo struct {
	caller string
	cause  string
}

// callInfoKey keys a call's *callInfo in its context.
type callInfoKey struct{}

// setCaller records the caller's token name for the call log.
func setCaller(ctx context.Context, name string) {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		ci.caller = name
	}
}

// setCause records the cause of a store failure for the call log.
func setCause(ctx context.Context, err error) {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		ci.cause = err.Error()
	}
}

// unaryLogger logs every unary call when it ends.
func unaryLogger(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		ci := &callInfo{}
		resp, err := handler(context.WithValue(ctx, callInfoKey{}, ci), req)
		logCall(ctx, log, info.FullMethod, req, ci, start, err)
		return resp, err
	}
}

// streamLogger logs every stream when it ends.
func streamLogger(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		ci := &callInfo{}
		err := handler(srv, &contextStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), callInfoKey{}, ci)})
		logCall(ss.Context(), log, info.FullMethod, nil, ci, start, err)
		return err
	}
}

// logCall writes the line of one call.
func logCall(ctx context.Context, log *slog.Logger, method string, req any, ci *callInfo, start time.Time, err error) {
	st := status.Convert(err)
	code := st.Code()
	level := levelOf(method, code)
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
	)
	if r, ok := req.(workspaceRequest); ok && r.GetWorkspaceId() != "" {
		attrs = append(attrs, slog.String("workspace", clip(r.GetWorkspaceId())))
	}
	if id := requestID(ctx, req); id != "" {
		attrs = append(attrs, slog.String("request_id", clip(id)))
	}
	if ci.caller != "" {
		attrs = append(attrs, slog.String("caller", ci.caller))
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	if err != nil {
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				attrs = append(attrs, slog.String("reason", info.GetReason()))
			}
		}
		attrs = append(attrs, slog.String("error", st.Message()))
		if ci.cause != "" {
			attrs = append(attrs, slog.String("cause", ci.cause))
		}
	}
	log.LogAttrs(ctx, level, "call", attrs...)
}

// levelOf is the level of a call's line: errors that are the server's
// (INTERNAL, UNKNOWN, DATA_LOSS) at error, a store or time failure
// (UNAVAILABLE, DEADLINE_EXCEEDED) at warn, the rest at info, and health
// calls that succeed at debug.
func levelOf(method string, code codes.Code) slog.Level {
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded:
		return slog.LevelWarn
	case codes.OK:
		if openMethod(method) {
			return slog.LevelDebug
		}
	}
	return slog.LevelInfo
}

// requestID is the request's request_id, else the x-request-id metadata.
func requestID(ctx context.Context, req any) string {
	if r, ok := req.(interface{ GetRequestId() string }); ok && r.GetRequestId() != "" {
		return r.GetRequestId()
	}
	if v := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// clip bounds a client-chosen string before it is logged.
func clip(s string) string {
	if len(s) > maxLoggedID {
		return s[:maxLoggedID] + "…"
	}
	return s
}

// contextStream is a grpc.ServerStream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context.
func (s *contextStream) Context() context.Context { return s.ctx }
