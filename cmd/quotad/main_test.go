package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	// Conn is a client connection to it.
	Conn *grpc.ClientConn
	// Stop cancels run's context and returns what run returned, or an
	// error if it did not return within the drain timeout and 5 s; later
	// calls return the same.
	Stop func() error
}

// startQuotad runs quotad with run on 127.0.0.1:0, on the embedded store
// (backend "embedded") or on a redis-server of its own (backend "redis"),
// and returns it once it serves, with a client connection to it. The
// connection is closed and quotad stopped when t ends.
func startQuotad(t *testing.T, backend string) *quotadUnderTest {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	switch backend {
	case "embedded":
	case "redis":
		srv, err := redistest.StartServer()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		cfg.RedisURL = "redis://" + srv.Addr() + "/3"
	default:
		t.Fatalf("startQuotad: unknown backend %q", backend)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	ready := make(chan string)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, log, ready) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(cfg.ShutdownTimeout + 5*time.Second):
			return errors.New("run did not return after cancel")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping quotad: %v", err)
		}
	})
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned before serving: %v", err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &quotadUnderTest{Config: cfg, Conn: conn, Stop: stop}
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
	err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "PING") {
		t.Fatalf("run = %v, want an error about PING", err)
	}
}

func TestParseConfig(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := defaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: defaultConfig()},
		{
			name: "env fills what flags leave",
			env: map[string]string{
				"QUOTA_LISTEN":          ":9000",
				"QUOTA_REDIS_CLUSTER":   "a:1, b:2,",
				"QUOTA_DEFAULT_TTL":     "1m",
				"QUOTA_SWEEP_INTERVAL":  "250ms",
				"QUOTA_LOG_LEVEL":       "debug",
				"QUOTA_PRICING_REFRESH": "1m",
			},
			want: with(func(c *Config) {
				c.Listen = ":9000"
				c.RedisCluster = []string{"a:1", "b:2"}
				c.DefaultTTL = time.Minute
				c.SweepInterval = 250 * time.Millisecond
				c.LogLevel = slog.LevelDebug
				c.PricingRefresh = time.Minute
			}),
		},
		{
			name: "flags override env",
			args: []string{"-listen", ":8000", "-redis-url", "redis://localhost:6379/2", "-max-ttl=1h"},
			env:  map[string]string{"QUOTA_LISTEN": ":9000", "QUOTA_REDIS_URL": "redis://elsewhere:6379", "QUOTA_MAX_TTL": "2h"},
			want: with(func(c *Config) {
				c.Listen = ":8000"
				c.RedisURL = "redis://localhost:6379/2"
				c.MaxTTL = time.Hour
			}),
		},
		{
			name: "sentinel",
			env:  map[string]string{"QUOTA_REDIS_SENTINEL_MASTER": "mymaster", "QUOTA_REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379"},
			want: with(func(c *Config) {
				c.SentinelMaster = "mymaster"
				c.SentinelAddrs = []string{"s1:26379", "s2:26379"}
			}),
		},
		{name: "bad duration flag", args: []string{"-default-ttl", "soon"}, wantErr: "-default-ttl"},
		{name: "bad duration env", env: map[string]string{"QUOTA_MIN_TTL": "soon"}, wantErr: "QUOTA_MIN_TTL"},
		{name: "bad log level", args: []string{"-log-level", "loud"}, wantErr: "-log-level"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "-nope"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "two Redis", args: []string{"-redis-url", "redis://a:1", "-redis-cluster", "b:2"}, wantErr: "at most one"},
		{name: "sentinel without addresses", args: []string{"-redis-sentinel-master", "m"}, wantErr: "go together"},
		{name: "default TTL above max", args: []string{"-default-ttl", "25h"}, wantErr: "-max-ttl"},
		{name: "zero sweep interval", env: map[string]string{"QUOTA_SWEEP_INTERVAL": "0s"}, wantErr: "-sweep-interval"},
		{name: "bad Redis URL", args: []string{"-redis-url", "http://u:secret@h"}, wantErr: "scheme"},
		{name: "bad Redis URL keeps its password", args: []string{"-redis-url", "redis://u:sec ret@h"}, wantErr: "invalid userinfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseConfig error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "sec ret") {
					t.Errorf("parseConfig error %q shows a password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseConfig mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
