//go:build unix

package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/store/redistest"
)

// outageSlack is what a failing call or a health flip may take beyond its
// configured bound on a loaded 2-core machine.
const outageSlack = 1500 * time.Millisecond

// TestRedisPausedAndKilled runs quotad on a redis-server that is paused
// (SIGSTOP: connections open, nothing answered), resumed, killed and
// restarted, without restarting quotad. While Redis is away, calls fail
// UNAVAILABLE / STORE_UNAVAILABLE within the store timeout and health
// turns NOT_SERVING; once it is back, both recover. The measured times
// are logged.
func TestRedisPausedAndKilled(t *testing.T) {
	srv := redistest.StartTestServer(t)
	t.Cleanup(func() { srv.Resume() }) // never leave a stopped process behind
	cfg := testConfig(t, "embedded")
	cfg.RedisURL = "redis://" + srv.Addr() + "/0"
	cfg.AllowUnauthenticated = true
	cfg.StoreTimeout, cfg.CallTimeout = defaultConfig().StoreTimeout, defaultConfig().CallTimeout
	q := startConfig(t, cfg)
	c, hc := connect(t, q.Addrs.GRPC)
	bound := cfg.StoreTimeout + outageSlack
	healthBound := time.Duration(cfg.HealthFailures)*cfg.HealthInterval + cfg.HealthTimeout + outageSlack

	setUp := func(ws string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{
			WorkspaceId: ws, RequestId: "ws-" + ws, SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
		})
		return err
	}
	n := 0
	reserve := func() (time.Duration, error) {
		n++
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.quota.Reserve(ctx, &quotav1.ReserveRequest{
			WorkspaceId: "acme", MemberId: "alice", RequestId: fmt.Sprintf("r-%d", n),
			Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		})
		return time.Since(start), err
	}
	if err := setUp("acme"); err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
	if _, err := c.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{
		WorkspaceId: "acme", MemberId: "alice", RequestId: "seat", Seat: quotav1.Seat_SEAT_PRO,
	}); err != nil {
		t.Fatalf("SetSeat: %v", err)
	}
	if _, err := reserve(); err != nil {
		t.Fatalf("Reserve with Redis up: %v", err)
	}

	// failsFast checks that a Reserve fails UNAVAILABLE within bound.
	failsFast := func(what string) {
		t.Helper()
		for i := range 3 {
			took, err := reserve()
			checkStatus(t, err, codes.Unavailable, "STORE_UNAVAILABLE")
			if took > bound {
				t.Errorf("%s: Reserve %d failed after %v, want within %v", what, i, took, bound)
			}
			t.Logf("%s: Reserve %d failed %v after %v", what, i, status.Code(err), took.Round(time.Millisecond))
		}
	}

	// Paused.
	paused := time.Now()
	flipped := watchHealth(hc, healthpb.HealthCheckResponse_NOT_SERVING, healthBound+10*time.Second)
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	failsFast("Redis paused")
	took := flipTime(t, <-flipped, paused, healthBound)
	t.Logf("Redis paused: health NOT_SERVING %v after the pause", took.Round(time.Millisecond))

	resumed := time.Now()
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	took = waitHealth(t, hc, healthpb.HealthCheckResponse_SERVING, resumed, healthBound)
	t.Logf("Redis resumed: health SERVING %v after", took.Round(time.Millisecond))
	if _, err := reserve(); err != nil {
		t.Errorf("Reserve after Redis resumed: %v", err)
	}

	// Killed.
	killed := time.Now()
	flipped = watchHealth(hc, healthpb.HealthCheckResponse_NOT_SERVING, healthBound+10*time.Second)
	srv.Kill()
	failsFast("Redis killed")
	took = flipTime(t, <-flipped, killed, healthBound)
	t.Logf("Redis killed: health NOT_SERVING %v after the kill", took.Round(time.Millisecond))

	restarted := time.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	took = waitHealth(t, hc, healthpb.HealthCheckResponse_SERVING, restarted, healthBound)
	t.Logf("Redis restarted (empty): health SERVING %v after", took.Round(time.Millisecond))
	// The new Redis is empty, and knows none of the scripts: a mutation
	// loads them again and succeeds.
	if err := setUp("beta"); err != nil {
		t.Errorf("SetWorkspace after Redis restarted: %v", err)
	}
}

// client and a health client on a plaintext connection to addr.
func connect(t *testing.T, addr string) (*client, healthpb.HealthClient) {
	t.Helper()
	conn := dial(t, addr)
	return &client{quota: quotav1.NewQuotaServiceClient(conn), admin: quotav1.NewAdminServiceClient(conn)}, healthpb.NewHealthClient(conn)
}

// watchHealth polls health from now on, every 50ms, and sends the time it
// first reports want, or the zero time if it does not within limit.
func watchHealth(hc healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus, limit time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		end := time.Now().Add(limit)
		for time.Now().Before(end) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "quota.v1.QuotaService"})
			cancel()
			if err == nil && resp.GetStatus() == want {
				out <- time.Now()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		out <- time.Time{}
	}()
	return out
}

// flipTime returns how long after since health flipped at at, failing t
// when it did not or not within bound.
func flipTime(t *testing.T, at, since time.Time, bound time.Duration) time.Duration {
	t.Helper()
	if at.IsZero() {
		t.Fatalf("health did not flip within %v", bound)
	}
	took := at.Sub(since)
	if took > bound {
		t.Errorf("health flipped after %v, want within %v", took, bound)
	}
	return took
}

// waitHealth polls health until it reports want, failing t if that takes
// longer than bound after since; it returns the time since since.
func waitHealth(t *testing.T, hc healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus, since time.Time, bound time.Duration) time.Duration {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "quota.v1.QuotaService"})
		cancel()
		took := time.Since(since)
		if err == nil && resp.GetStatus() == want {
			if took > bound {
				t.Errorf("health turned %v after %v, want within %v", want, took, bound)
			}
			return took
		}
		if took > bound+10*time.Second {
			t.Fatalf("health still %v (%v) after %v, want %v", resp.GetStatus(), err, took, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
