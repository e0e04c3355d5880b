package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/redistest"
)

// quotadUnderTest is a quotad started by startQuotad.
type quotadUnderTest struct {
	// Config is the configuration it runs with.
	Config Config
	// Addrs are its listeners' addresses.
	Addrs addrs
	// Conn is a client connection to it.
	Conn *grpc.ClientConn
	// Stop cancels run's context and returns what run returned, or an
	// error if it did not return within the drain timeout and 5 s; later
	// calls return the same.
	Stop func() error
}

// TestMain starts the package's redis-server (and, when a test asks for
// it, its Redis Cluster: see redistest.Main). With QUOTAD_TEST_MAIN=1 in
// its environment the test binary is quotad itself, its arguments
// quotad's flags: see startQuotadProcess.
func TestMain(m *testing.M) {
	if os.Getenv(quotadMainEnv) == "1" {
		main()
		return
	}
	redistest.Main(m)
}

// quotadMainEnv, set to 1 in the test binary's environment, makes it run
// quotad's main (see TestMain).
const quotadMainEnv = "QUOTAD_TEST_MAIN"

// backends are the stores the end-to-end suites run on: the embedded
// store, a redis-server, and the package's Redis Cluster.
var backends = []string{"embedded", "redis", "Cluster"}

// startQuotad runs quotad with run on 127.0.0.1:0 (metrics too), on the
// embedded store (backend "embedded"), on a redis-server of its own
// (backend "redis") or on the package's Redis Cluster, emptied and held
// by t (backend "Cluster", see redistest.ClusterBackend); unauthenticated
// on Redis unless an edit sets tokens, with no shutdown grace, each edit
// applied to its Config. It returns quotad once it serves, with a
// plaintext client connection to it. The connection is closed and quotad
// stopped when t ends.
func startQuotad(t *testing.T, backend string, edits ...func(*Config)) *quotadUnderTest {
	t.Helper()
	cfg := testConfig(t, backend)
	for _, e := range edits {
		e(&cfg)
	}
	q := startConfig(t, cfg)
	conn, err := grpc.NewClient(q.Addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	q.Conn = conn
	return q
}

// testConfig is the configuration of startQuotad before its edits.
func testConfig(t *testing.T, backend string) Config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.MetricsListen = "127.0.0.1:0"
	cfg.ShutdownGrace = 0
	switch backend {
	case "embedded":
		// The embedded store is about 20 times slower than Redis, and more
		// under the race detector: the concurrency tests would meet the
		// store timeout on a loaded machine.
		cfg.StoreTimeout, cfg.CallTimeout = 20*time.Second, 30*time.Second
	case "redis":
		srv := redistest.StartTestServer(t)
		cfg.RedisURL = "redis://" + srv.Addr() + "/3"
		cfg.AllowUnauthenticated = true
	case "Cluster":
		redistest.ClusterBackend().New(t) // holds the cluster for t, emptied
		cfg.RedisCluster = redistest.SharedCluster(t).Addrs()
		cfg.AllowUnauthenticated = true
	default:
		t.Fatalf("startQuotad: unknown backend %q", backend)
	}
	return cfg
}

// startConfig runs quotad with cfg and returns it once it serves, without
// a connection; it is stopped when t ends.
func startConfig(t *testing.T, cfg Config) *quotadUnderTest {
	t.Helper()
	return startClock(t, cfg, nil, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// startClock is startConfig with the service's clock now (nil:
// time.Now), logging on log.
func startClock(t *testing.T, cfg Config, now func() time.Time, log *slog.Logger) *quotadUnderTest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan addrs)
	done := make(chan error, 1)
	go func() { done <- runClock(ctx, cfg, now, log, ready) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(cfg.ShutdownGrace + cfg.ShutdownTimeout + 5*time.Second):
			return errors.New("run did not return after cancel")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping quotad: %v", err)
		}
	})
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("run returned before serving: %v", err)
	}
	return &quotadUnderTest{Config: cfg, Addrs: a, Stop: stop}
}

// TestServeAndShutdown runs quotad on the embedded store and on a real
// redis-server, calls it with the generated client, and stops it.
func TestServeAndShutdown(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			q := startQuotad(t, backend)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			health, err := healthpb.NewHealthClient(q.Conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("health Check: %v", err)
			}
			if got := health.GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health status = %v, want SERVING", got)
			}
			pricing, err := quotav1.NewAdminServiceClient(q.Conn).GetPricing(ctx, &quotav1.GetPricingRequest{})
			if err != nil {
				t.Fatalf("GetPricing: %v", err)
			}
			if got, want := pricing.GetPricing().GetFallbackModel(), quota.DefaultPriceTable().FallbackModel; got != want {
				t.Errorf("GetPricing fallback model = %q, want %q", got, want)
			}

			if err := q.Stop(); err != nil {
				t.Errorf("run after cancel = %v, want nil", err)
			}
		})
	}
}

// TestRedisDown checks that quotad refuses to start without its Redis.
func TestRedisDown(t *testing.T) {
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.RedisURL = "redis://127.0.0.1:1"
	cfg.AllowUnauthenticated = true
	err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "PING") {
		t.Fatalf("run = %v, want an error about PING", err)
	}
}

// dial returns a plaintext client connection to addr, closed when t ends.
func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
