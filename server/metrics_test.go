package server

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestMetricsMoveWithTraffic(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	denied := false
	st := &fakeStore{
		reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
			if denied {
				return quota.Outcome{}, quota.DeniedError(quota.Denial{Reason: quota.ReasonPoolCapReached, MemberID: op.MemberID})
			}
			return quota.Outcome{Reservation: quota.Reservation{Origin: quota.OriginConversation, State: quota.StateHeld, Held: 10 * quota.Credit}}, nil
		},
		commit: func(context.Context, quota.CommitOp) (quota.Outcome, error) {
			return quota.Outcome{Reservation: quota.Reservation{
				Origin: quota.OriginConversation, State: quota.StateCommitted, Charged: 7 * quota.Credit, Released: 3 * quota.Credit, Shortfall: 2,
			}}, nil
		},
		refund: func(context.Context, quota.RefundOp) (quota.Outcome, error) {
			return quota.Outcome{Reservation: quota.Reservation{Origin: quota.OriginAutomation, State: quota.StateRefunded, Released: 5}}, nil
		},
		getWorkspace: func(context.Context, string) (quota.Workspace, error) { panic("boom") },
		getBalance: func(ctx context.Context, _, _ string, _ time.Time) (quota.Balance, error) {
			<-ctx.Done()
			return quota.Balance{}, ctx.Err()
		},
	}
	e := newAuthEnv(t, st, Options{Metrics: m, StoreTimeout: 50 * time.Millisecond})
	ctx := func() context.Context { return withToken(testCtx(t), adminToken) }
	if _, err := e.quota.Reserve(ctx(), okReserve()); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if _, err := e.quota.Commit(ctx(), okCommit()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	refund := okRefund()
	refund.ReservationId = "a" + testResID[1:]
	if _, err := e.quota.Refund(ctx(), refund); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	denied = true
	e.quota.Reserve(ctx(), okReserve())
	e.admin.GetWorkspace(ctx(), &quotav1.GetWorkspaceRequest{WorkspaceId: "ws-1"})
	e.quota.GetBalance(ctx(), &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
	e.admin.GetPricing(testCtx(t), &quotav1.GetPricingRequest{}) // no token

	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"reserved", m.reserved.WithLabelValues("conversation"), 10e6},
		{"committed", m.committed.WithLabelValues("conversation"), 7e6},
		{"released", m.released.WithLabelValues("conversation"), 3e6},
		{"shortfall", m.shortfall.WithLabelValues("conversation"), 2},
		{"shortfalls", m.shortfalls.WithLabelValues("conversation"), 1},
		{"refunded", m.refunded.WithLabelValues("automation"), 5},
		{"denials", m.denials.WithLabelValues(quota.ReasonPoolCapReached), 1},
		{"panics", m.panics, 1},
		{"unavailable", m.unavailable, 1},
		{"auth failures", m.authFailures.WithLabelValues(reasonTokenMissing), 1},
		{"tokens", m.credentialsSet, float64(len(testCredentials()))},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	n, err := testutil.GatherAndCount(reg, "grpc_server_handled_total", "grpc_server_handling_seconds")
	if err != nil || n == 0 {
		t.Errorf("gRPC server metrics: %d series, %v", n, err)
	}
}

func TestReplaysAreNotCountedAgain(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	replayed := false
	st := &fakeStore{
		reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
			return quota.Outcome{Reservation: quota.Reservation{Origin: quota.OriginConversation, State: quota.StateHeld,
				Held: 10 * quota.Credit}, Replayed: replayed}, nil
		},
		commit: func(context.Context, quota.CommitOp) (quota.Outcome, error) {
			return quota.Outcome{Reservation: quota.Reservation{Origin: quota.OriginConversation, State: quota.StateCommitted,
				Charged: 7 * quota.Credit}, Replayed: replayed}, nil
		},
	}
	e := newEnvWith(t, st, Options{Metrics: m})
	for _, r := range []bool{false, true, true} {
		replayed = r
		if _, err := e.quota.Reserve(testCtx(t), okReserve()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.quota.Commit(testCtx(t), okCommit()); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(m.reserved.WithLabelValues("conversation")); got != 10e6 {
		t.Errorf("reserved after a Reserve and two replays = %g, want 10e6", got)
	}
	if got := testutil.ToFloat64(m.committed.WithLabelValues("conversation")); got != 7e6 {
		t.Errorf("committed after a Commit and two replays = %g, want 7e6", got)
	}
}
