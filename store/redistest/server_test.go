package redistest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// startServer starts a server with opts, closed when t ends.
func startServer(t *testing.T, opts redistest.ServerOptions) *redistest.Server {
	t.Helper()
	s, err := redistest.StartServerWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// ctxFor returns a context that ends after d or with t.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestServerAuth(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	s := startServer(t, redistest.ServerOptions{Password: "secret", User: "agent", UserPassword: "pw"})
	if who, err := s.Client().Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "agent" {
		t.Fatalf("Client's ACL WHOAMI = %q, %v; want agent", who, err)
	}
	anon := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without a password: %v; want NOAUTH", err)
	}
	def := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: "secret"})
	defer def.Close()
	if err := def.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING as default with requirepass: %v", err)
	}
}

func TestServerPauseResume(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	s := startServer(t, redistest.ServerOptions{})
	opt := s.ClientOptions()
	opt.MaxRetries, opt.ReadTimeout = -1, 300*time.Millisecond
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := rdb.Get(ctx, "k").Err()
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("GET on a paused server: %v; want a timeout", err)
	}
	if !s.Running() {
		t.Fatal("a paused server is not Running")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after Resume = %q, %v; want v", got, err)
	}
	t.Logf("a paused server timed out a GET after %s", time.Since(start).Round(time.Millisecond))
}

// TestServerKillRestartAOF writes through an AOF, kills the server with
// SIGKILL (paused, for good measure) and restarts it on the same port: what
// was acknowledged is there. SIGKILL loses nothing the kernel has, so even
// everysec keeps everything here; only a machine crash tells them apart.
func TestServerKillRestartAOF(t *testing.T) {
	t.Parallel()
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			ctx := ctxFor(t, 30*time.Second)
			s := startServer(t, redistest.ServerOptions{AppendOnly: true, AppendFsync: fsync, Password: "pw"})
			rdb := s.Client()
			n := 200
			if testing.Short() {
				n = 50
			}
			for i := 0; i < n; i++ {
				if err := rdb.Incr(ctx, "{ws:a}:n").Err(); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Pause(); err != nil {
				t.Fatal(err)
			}
			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			if s.Running() {
				t.Fatal("Running after Kill")
			}
			opt := s.ClientOptions()
			opt.MaxRetries, opt.DialerRetries = -1, 1
			probe := redis.NewClient(opt)
			defer probe.Close()
			if err := probe.Ping(ctx).Err(); err == nil {
				t.Fatal("PING answered after Kill")
			}
			port := s.Port()
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			if s.Port() != port {
				t.Fatalf("port %d after Restart; want %d", s.Port(), port)
			}
			if got, err := rdb.Get(ctx, "{ws:a}:n").Int(); err != nil || got != n {
				t.Fatalf("after Kill and Restart, n = %d, %v; want %d", got, err, n)
			}
			if got, err := rdb.ConfigGet(ctx, "appendfsync").Result(); err != nil || got["appendfsync"] != fsync {
				t.Fatalf("appendfsync = %v, %v; want %s", got, err, fsync)
			}
		})
	}
}

func TestServerFixedPortAndArgs(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	first := startServer(t, redistest.ServerOptions{})
	port := first.Port()
	first.Close()
	s := startServer(t, redistest.ServerOptions{Port: port, Args: []string{"--maxmemory", "10mb"}})
	if s.Port() != port {
		t.Fatalf("port %d; want %d", s.Port(), port)
	}
	if got, err := s.Client().ConfigGet(ctx, "maxmemory").Result(); err != nil || got["maxmemory"] != "10485760" {
		t.Fatalf("maxmemory = %v, %v; want 10485760", got, err)
	}
	if err := s.Restart(); err != nil { // running: killed, then started
		t.Fatal(err)
	}
	s.Close()
	if err := s.Restart(); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}
