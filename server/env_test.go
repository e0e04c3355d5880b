package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// testNow is the fixed clock of every test service.
var testNow = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// testResID is a reservation id in the form the service issues (origin
// letter "c": a conversation).
const testResID = "c_0123456789abcdef0123456789abcdef_0"

// env is a Server on a fake store, reached through the generated clients
// over an in-memory connection.
type env struct {
	store *fakeStore
	srv   *Server
	auth  *Authenticator
	conn  *grpc.ClientConn
	quota quotav1.QuotaServiceClient
	admin quotav1.AdminServiceClient
	logs  *syncBuffer
}

// newEnv starts a Server on st and connects the clients to it; both are
// closed when the test ends.
func newEnv(t *testing.T, st *fakeStore) *env {
	t.Helper()
	return newEnvWith(t, st, Options{})
}

// newEnvWith is newEnv with the Server's options o; their Log is the
// env's (logs) unless o sets one.
func newEnvWith(t testing.TB, st *fakeStore, o Options) *env {
	t.Helper()
	if st == nil {
		st = &fakeStore{}
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := quota.NewService(st, quota.Config{Now: func() time.Time { return testNow }})
	if o.Log == nil {
		o.Log = log
	}
	srv := New(svc, o)

	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.GRPC.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &env{
		store: st, srv: srv, auth: o.Auth, conn: conn, logs: logs,
		quota: quotav1.NewQuotaServiceClient(conn),
		admin: quotav1.NewAdminServiceClient(conn),
	}
}

// ctx returns a context for one call, canceled when the test ends.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Lines returns the lines written that contain every one of subs.
func (b *syncBuffer) Lines(subs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for _, l := range strings.Split(b.buf.String(), "\n") {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// wantStatus is an expected error: its code, ErrorInfo reason and, for bad
// input, the field of its BadRequest violation.
type wantStatus struct {
	code   codes.Code
	reason string
	field  string
}

// invalid is the expected error for a bad field.
func invalid(field string) wantStatus {
	return wantStatus{codes.InvalidArgument, "INVALID_FIELD", field}
}

// statusDetails are the details of a status error, by type.
type statusDetails struct {
	info  *errdetails.ErrorInfo
	bad   *errdetails.BadRequest
	quota *errdetails.QuotaFailure
	pre   *errdetails.PreconditionFailure
}

// detailsOf returns err's status and its details.
func detailsOf(t *testing.T, err error) (*status.Status, statusDetails) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a gRPC status", err, err)
	}
	var d statusDetails
	for _, x := range st.Details() {
		switch x := x.(type) {
		case *errdetails.ErrorInfo:
			d.info = x
		case *errdetails.BadRequest:
			d.bad = x
		case *errdetails.QuotaFailure:
			d.quota = x
		case *errdetails.PreconditionFailure:
			d.pre = x
		case error:
			t.Errorf("undecodable detail: %v", x)
		}
	}
	return st, d
}

// checkStatus fails the test unless err matches want: the code, an
// ErrorInfo in the errorDomain domain with the reason and, when want names a
// field, a BadRequest with exactly that field.
func checkStatus(t *testing.T, err error, want wantStatus) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %s", want.code, want.reason)
	}
	st, d := detailsOf(t, err)
	if st.Code() != want.code {
		t.Errorf("code = %v, want %v (message %q)", st.Code(), want.code, st.Message())
	}
	switch {
	case d.info == nil:
		t.Errorf("no ErrorInfo in %v", st.Proto())
	case d.info.GetDomain() != errorDomain || d.info.GetReason() != want.reason:
		t.Errorf("ErrorInfo = %s/%s, want %s/%s (message %q)", d.info.GetDomain(), d.info.GetReason(), errorDomain, want.reason, st.Message())
	}
	if want.field == "" {
		return
	}
	if vs := d.bad.GetFieldViolations(); len(vs) != 1 || vs[0].GetField() != want.field {
		t.Errorf("BadRequest violations = %v, want one on %q (message %q)", vs, want.field, st.Message())
	}
}
