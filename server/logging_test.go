package server

import (
	"context"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestEveryCallIsLoggedOnceWithItsFields(t *testing.T) {
	e := newAuthEnv(t, &fakeStore{reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
		return quota.Outcome{}, quota.DeniedError(quota.Denial{Reason: quota.ReasonCreditsExhausted, MemberID: "user@example.com", Requested: 1, Minimum: 1})
	}}, Options{})
	req := okReserve()
	req.RequestId = "req-log-1"
	_, err := e.quota.Reserve(withToken(testCtx(t), orchestratorToken), req)
	if err == nil {
		t.Fatal("Reserve succeeded, want a denial")
	}
	lines := e.logs.Lines("msg=call", "Reserve")
	if len(lines) != 1 {
		t.Fatalf("got %d call lines for Reserve, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{
		"level=INFO", "method=/quota.v1.QuotaService/Reserve", "code=ResourceExhausted", "latency_ms=",
		"workspace=ws-1", "request_id=req-log-1", "caller=orch", "reason=CREDITS_EXHAUSTED",
	} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the call line lacks %q: %s", want, lines[0])
		}
	}
	for _, never := range []string{orchestratorToken, "user@example.com", "Bearer"} {
		if got := e.logs.Lines(never); len(got) != 0 {
			t.Errorf("the log shows %q:\n%s", never, strings.Join(got, "\n"))
		}
	}
}

func TestRequestIDFromMetadata(t *testing.T) {
	e := newEnv(t, nil)
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-request-id", "trace-42")
	if _, err := e.admin.GetPricing(ctx, &quotav1.GetPricingRequest{}); err != nil {
		t.Fatalf("GetPricing: %v", err)
	}
	if got := e.logs.Lines("msg=call", "GetPricing", "request_id=trace-42"); len(got) != 1 {
		t.Errorf("got %d call lines with the x-request-id, want 1", len(got))
	}
}

func TestHealthChecksAreLoggedAtDebug(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := healthpb.NewHealthClient(e.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := e.logs.Lines("level=DEBUG", "msg=call", "/grpc.health.v1.Health/Check"); len(got) != 1 {
		t.Errorf("got %d debug call lines for the health check, want 1", len(got))
	}
}

func TestLongIDsAreClipped(t *testing.T) {
	long := strings.Repeat("w", 5000)
	if got := clip(long); len(got) > maxLoggedID+len("…") {
		t.Errorf("clip kept %d bytes", len(got))
	}
}
