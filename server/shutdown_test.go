package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestSetServingFollowsTheStore(t *testing.T) {
	e := newEnv(t, nil)
	hc := healthpb.NewHealthClient(e.conn)
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, name := range serviceNames {
			resp, err := hc.Check(testCtx(t), &healthpb.HealthCheckRequest{Service: name})
			if err != nil || resp.GetStatus() != want {
				t.Errorf("Check(%q) = %v, %v; want %v", name, resp.GetStatus(), err, want)
			}
		}
	}
	check(healthpb.HealthCheckResponse_SERVING)
	e.srv.SetServing(false)
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	e.srv.SetServing(true)
	check(healthpb.HealthCheckResponse_SERVING)
	e.srv.Health.Shutdown()
	e.srv.SetServing(true) // ignored once shut down
	check(healthpb.HealthCheckResponse_NOT_SERVING)
}

func TestShutdownWithAnOpenWatchCompletesWithinGraceAndDrain(t *testing.T) {
	const grace, drain = 300 * time.Millisecond, 10 * time.Second
	release := make(chan struct{})
	e := newEnv(t, &fakeStore{getBalance: func(context.Context, string, string, time.Time) (quota.Balance, error) {
		<-release
		return quota.Balance{WorkspaceID: "ws-1", MemberID: "m-1"}, nil
	}})
	hc := healthpb.NewHealthClient(e.conn)
	watchCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch update = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	// A call in flight when shutdown starts.
	inflight := make(chan error, 1)
	go func() {
		_, err := e.quota.GetBalance(testCtx(t), &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
		inflight <- err
	}()
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	done := make(chan struct{})
	go func() {
		e.srv.Shutdown(grace, drain)
		close(done)
	}()

	// The watcher hears NOT_SERVING, and a new probe still gets an answer
	// during the grace period.
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Watch update after Shutdown = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	if resp, err := hc.Check(testCtx(t), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Check during the grace period = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	// Then the Watch stream ends, without holding the drain.
	_, err = watch.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Watch after the grace period: %v, want Unavailable", err)
	}
	close(release) // the call in flight finishes during the drain
	select {
	case <-done:
	case <-time.After(grace + drain):
		t.Fatalf("Shutdown did not return within grace + drain (%v)", grace+drain)
	}
	took := time.Since(start)
	if took < grace || took > grace+2*time.Second {
		t.Errorf("Shutdown took %v, want a little over the grace period %v", took, grace)
	}
	if err := <-inflight; err != nil {
		t.Errorf("the call in flight: %v, want it drained", err)
	}
}

func TestHealthServerAnswersAsTheMainOne(t *testing.T) {
	e := newAuthEnv(t, nil, Options{})
	hs := e.srv.HealthServer()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(lis)
	t.Cleanup(hs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	for _, want := range []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING} {
		e.srv.SetServing(want == healthpb.HealthCheckResponse_SERVING)
		resp, err := hc.Check(testCtx(t), &healthpb.HealthCheckRequest{Service: "quota.v1.QuotaService"})
		if err != nil || resp.GetStatus() != want {
			t.Errorf("health listener Check = %v, %v; want %v", resp.GetStatus(), err, want)
		}
	}
	// It serves nothing else.
	_, err = quotav1.NewAdminServiceClient(conn).GetPricing(testCtx(t), &quotav1.GetPricingRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("GetPricing on the health listener: %v, want Unimplemented", err)
	}
}
