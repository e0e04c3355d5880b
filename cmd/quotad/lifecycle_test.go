package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

func TestShutdownWithAnOpenWatchCompletesWithinGraceAndDrain(t *testing.T) {
	const grace = 700 * time.Millisecond
	q := startQuotad(t, "embedded", func(c *Config) {
		c.ShutdownGrace = grace
		c.ShutdownTimeout = 5 * time.Second
	})
	hc := healthpb.NewHealthClient(q.Conn)
	watch, err := hc.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch update: %v, %v; want SERVING", resp.GetStatus(), err)
	}

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- q.Stop() }()

	// The watcher hears NOT_SERVING; a new probe, on a new connection,
	// is answered NOT_SERVING during the grace period.
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Watch update after SIGTERM: %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	probe := healthpb.NewHealthClient(dial(t, q.Addrs.GRPC))
	ctx, cancel := context.WithTimeout(context.Background(), grace/2)
	resp, err := probe.Check(ctx, &healthpb.HealthCheckRequest{})
	cancel()
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("a new probe during the grace period: %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	// Then the Watch stream ends and quotad stops, well before the drain
	// timeout.
	if _, err := watch.Recv(); err == nil {
		t.Error("the Watch stream goes on after the grace period")
	}
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
	took := time.Since(start)
	t.Logf("quotad stopped %v after SIGTERM with an open Watch (grace %v, drain timeout %v)", took.Round(time.Millisecond), grace, q.Config.ShutdownTimeout)
	if took < grace || took > grace+2*time.Second {
		t.Errorf("shutdown took %v, want a little over the grace %v", took, grace)
	}
}

func TestTwoThousandIdleConnections(t *testing.T) {
	const idle = 2000
	if _, err := raiseFDLimit(); err != nil {
		t.Logf("raiseFDLimit: %v", err)
	}
	q := startQuotad(t, "redis")
	c, _ := connect(t, q.Addrs.GRPC)
	w := walkthrough(t, c, "ws-idle")

	conns := make([]net.Conn, 0, idle)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range idle {
		conn, err := net.DialTimeout("tcp", q.Addrs.GRPC, 5*time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		conns = append(conns, conn)
	}
	// Wait until quotad has accepted them all.
	deadline := time.Now().Add(10 * time.Second)
	for sum(scrape(t, q.Addrs.Metrics), "quota_grpc_connections_open") < idle && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	open := sum(scrape(t, q.Addrs.Metrics), "quota_grpc_connections_open")
	if open < idle {
		t.Errorf("quotad holds %v connections, want at least %d", open, idle)
	}

	// A new client still gets through, and its call reaches Redis.
	fresh, _ := connect(t, q.Addrs.GRPC)
	start := time.Now()
	res, err := fresh.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: w.ws, MemberId: w.member, RequestId: "with-idle", Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	})
	if err != nil {
		t.Fatalf("Reserve with %d idle connections open: %v", idle, err)
	}
	t.Logf("Reserve with %v connections open took %v", open, time.Since(start).Round(time.Microsecond))
	if res.GetReservation().GetHeld() != credit {
		t.Errorf("held %d, want %d", res.GetReservation().GetHeld(), credit)
	}
}

func TestConnectionCapRefusesAndRecovers(t *testing.T) {
	q := startQuotad(t, "embedded", func(c *Config) {
		c.MaxConnections = 20
		c.HandshakeTimeout = 500 * time.Millisecond
	})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 30 {
		conn, err := net.Dial("tcp", q.Addrs.GRPC)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sum(scrape(t, q.Addrs.Metrics), "quota_grpc_connections_rejected_total") < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := sum(scrape(t, q.Addrs.Metrics), "quota_grpc_connections_rejected_total"); got < 10 {
		t.Errorf("rejected %v connections, want at least 10", got)
	}
	// Connections that never complete their handshake are closed after
	// -handshake-timeout, and a real client gets in.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := healthpb.NewHealthClient(q.Conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Errorf("health with the cap reached by idle connections: %v", err)
	}
	t.Logf("a client got in %v after the cap was reached", time.Since(start).Round(time.Millisecond))
}

// tokensDoc is a tokens file of an orchestrator and an admin token.
func tokensDoc(orchestrator, admin string) string {
	return fmt.Sprintf(`tokens:
  - name: orch
    token: %s
    role: orchestrator
  - name: ops
    token: %s
    role: admin
`, orchestrator, admin)
}

func TestTokensFileIsReloaded(t *testing.T) {
	const orch1, orch2, admin = "orchestrator-one-0123456789", "orchestrator-two-0123456789", "admin-token-0123456789abc"
	dir := t.TempDir()
	tokensFile := filepath.Join(dir, "tokens.yaml")
	writeFiles(t, dir, map[string][]byte{"tokens.yaml": []byte(tokensDoc(orch1, admin))})
	q := startQuotad(t, "redis", func(c *Config) {
		c.AllowUnauthenticated = false
		c.TokensFile = tokensFile
		c.ReloadInterval = 50 * time.Millisecond
	})
	c, hc := connect(t, q.Addrs.GRPC)
	as := func(token string) context.Context {
		return metadata.AppendToOutgoingContext(rpcCtx(t), "authorization", "Bearer "+token)
	}
	start := timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))

	if _, err := hc.Check(rpcCtx(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a token: %v", err)
	}
	_, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{WorkspaceId: "acme", RequestId: "ws-0", SubscriptionStart: start})
	checkStatus(t, err, codes.Unauthenticated, "TOKEN_MISSING")
	_, err = c.admin.SetWorkspace(as(orch1), &quotav1.SetWorkspaceRequest{WorkspaceId: "acme", RequestId: "ws-1", SubscriptionStart: start})
	checkStatus(t, err, codes.PermissionDenied, "ROLE_NOT_PERMITTED")
	if _, err := c.admin.SetWorkspace(as(admin), &quotav1.SetWorkspaceRequest{WorkspaceId: "acme", RequestId: "ws-2", SubscriptionStart: start}); err != nil {
		t.Fatalf("SetWorkspace as admin: %v", err)
	}
	getBalance := func(token string) error {
		_, err := c.quota.GetBalance(as(token), &quotav1.GetBalanceRequest{WorkspaceId: "acme", MemberId: "alice"})
		return err
	}
	if err := getBalance(orch1); err != nil {
		t.Fatalf("GetBalance as orchestrator: %v", err)
	}

	// Rotate: the file now holds the second orchestrator token only.
	writeFiles(t, dir, map[string][]byte{"tokens.yaml": []byte(tokensDoc(orch2, admin))})
	deadline := time.Now().Add(5 * time.Second)
	for getBalance(orch2) != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := getBalance(orch2); err != nil {
		t.Errorf("GetBalance with the new token: %v", err)
	}
	checkStatus(t, getBalance(orch1), codes.Unauthenticated, "TOKEN_INVALID")

	// A broken file keeps the tokens in force.
	writeFiles(t, dir, map[string][]byte{"tokens.yaml": []byte("tokens: [{name: x, token: short, role: admin}]")})
	deadline = time.Now().Add(5 * time.Second)
	for sum(scrape(t, q.Addrs.Metrics), "quota_config_reloads_total", "file", "tokens", "result", "error") < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := getBalance(orch2); err != nil {
		t.Errorf("after a broken tokens file, GetBalance with the token in force: %v", err)
	}
}

func TestSecureByDefault(t *testing.T) {
	cfg := testConfig(t, "redis")
	cfg.AllowUnauthenticated = false
	err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "no bearer tokens") {
		t.Errorf("run on Redis without tokens = %v, want a refusal naming the tokens", err)
	}
	// A tokens file that cannot be read stops quotad too.
	cfg.TokensFile = filepath.Join(t.TempDir(), "missing.yaml")
	if err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), "-tokens-file") {
		t.Errorf("run with a missing tokens file = %v, want an error naming -tokens-file", err)
	}
}

func TestHealthListenerNeedsNeitherTLSNorToken(t *testing.T) {
	ca := newTestCA(t, "test CA")
	dir := t.TempDir()
	cert, key := ca.issue(t, "quotad", 100)
	writeFiles(t, dir, map[string][]byte{"server.pem": cert, "server-key.pem": key})
	q := startQuotad(t, "redis", func(c *Config) {
		c.TLSCert, c.TLSKey = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
		c.Tokens = tokensDoc("orchestrator-0123456789", "admin-0123456789abcdef")
		c.AllowUnauthenticated = false
		c.HealthListen = "127.0.0.1:0"
	})
	hc := healthpb.NewHealthClient(dial(t, q.Addrs.Health))
	resp, err := hc.Check(rpcCtx(t), &healthpb.HealthCheckRequest{Service: "quota.v1.QuotaService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("plaintext Check on -health-listen = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	_, err = quotav1.NewAdminServiceClient(dial(t, q.Addrs.Health)).GetPricing(rpcCtx(t), &quotav1.GetPricingRequest{})
	checkStatus(t, err, codes.Unimplemented, "")
}
