package redistest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// proxied starts a server and a proxy in front of it, and returns the
// proxy, a client through it with no retries and a short read timeout,
// and a direct client.
func proxied(t *testing.T) (*redistest.Proxy, *redis.Client, *redis.Client) {
	t.Helper()
	s := startServer(t, redistest.ServerOptions{})
	p := redistest.NewProxy(t, s.Addr())
	opt := s.ClientOptions()
	opt.Addr, opt.MaxRetries, opt.ReadTimeout = p.Addr(), -1, 500*time.Millisecond
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return p, rdb, s.Client()
}

func TestProxyLostReply(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 20*time.Second)
	p, rdb, direct := proxied(t)

	// The server applies the INCR; its reply is dropped and the connection
	// cut: the client gets an error for a write that happened. (The PING
	// first opens the connection: its setup, HELLO and CLIENT SETINFO, has
	// replies too.)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.DropReplies(1)
	if err := rdb.Incr(ctx, "{ws:a}:n").Err(); err == nil {
		t.Fatal("INCR with its reply dropped succeeded")
	} else {
		t.Logf("INCR with its reply dropped: %v", err)
	}
	if n, err := direct.Get(ctx, "{ws:a}:n").Int(); err != nil || n != 1 {
		t.Fatalf("counter = %d, %v; want 1: the server applied the INCR", n, err)
	}
	if st := p.Stats(); st.DroppedReplies != 1 || st.Cut != 1 {
		t.Fatalf("stats %+v; want 1 dropped reply and 1 cut", st)
	}
	if n, err := rdb.Incr(ctx, "{ws:a}:n").Result(); err != nil || n != 2 {
		t.Fatalf("next INCR = %d, %v; want 2 on a new connection", n, err)
	}

	// go-redis's default client (3 retries) sends the INCR again on the
	// new connection: no error, applied twice.
	opt := rdb.Options()
	opt.MaxRetries = 0 // the default, 3
	retrying := redis.NewClient(opt)
	defer retrying.Close()
	if err := retrying.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.DropReplies(1)
	n, err := retrying.Incr(ctx, "{ws:a}:n").Result()
	if err != nil || n != 4 {
		t.Fatalf("INCR with default retries and its reply dropped = %d, %v; want 4 (applied twice)", n, err)
	}
	t.Logf("go-redis default retries: one INCR whose reply was lost was applied twice, no error (counter 2 -> 4)")
}

func TestProxyPauseCutRefuseLatency(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 20*time.Second)
	p, rdb, direct := proxied(t)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// Pause: the request is held; the client times out; on Resume the
	// held request still reaches the server.
	p.Pause()
	err := rdb.Incr(ctx, "{ws:a}:n").Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("INCR through a paused proxy: %v; want a timeout", err)
	}
	if n, _ := direct.Get(ctx, "{ws:a}:n").Int(); n != 0 {
		t.Fatalf("counter %d while paused; want 0", n)
	}
	p.Resume()
	if n := waitInt(t, direct, "{ws:a}:n", 1); n != 1 {
		t.Fatalf("counter %d after Resume; want 1 (the held INCR, delivered late)", n)
	}
	if n, err := rdb.Incr(ctx, "{ws:a}:n").Result(); err != nil || n != 2 {
		t.Fatalf("INCR after Resume = %d, %v; want 2", n, err)
	}

	// CutAll ends a command in flight.
	up := p.Stats().BytesUp
	done := make(chan error, 1)
	go func() {
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		done <- rdb.BLPop(bctx, 5*time.Second, "{ws:a}:q").Err()
	}()
	for i := 0; i < 200 && p.Stats().BytesUp == up; i++ { // until BLPOP went through
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and reached the server
	start := time.Now()
	p.CutAll()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, redis.Nil) {
			t.Fatalf("BLPOP across CutAll: %v; want a connection error", err)
		}
		t.Logf("CutAll ended a BLPOP in %s: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(3 * time.Second):
		t.Fatal("BLPOP still blocked 3s after CutAll")
	}
	if st := p.Stats(); st.Active != 0 {
		t.Fatalf("%d connections open after CutAll", st.Active)
	}

	// Refuse: new connections close at once.
	p.Refuse()
	fresh := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialerRetries: 1})
	defer fresh.Close()
	if err := fresh.Ping(ctx).Err(); err == nil {
		t.Fatal("PING through a refusing proxy succeeded")
	}
	if p.Stats().Refused == 0 {
		t.Fatal("no connection counted as refused")
	}
	p.Heal()
	if err := fresh.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Heal: %v", err)
	}

	// Latency: each way.
	p.Latency(50 * time.Millisecond)
	start = time.Now()
	if err := fresh.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("PING with 50ms latency each way took %s", d)
	}
	p.Latency(0)

	st := p.Stats()
	if st.Accepted < 3 || st.BytesUp == 0 || st.BytesDown == 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("stats %+v", st)
}

// waitInt polls key on rdb for up to 2s until it is want, and returns the
// last value.
func waitInt(t *testing.T, rdb *redis.Client, key string, want int) int {
	t.Helper()
	var n int
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(10 * time.Millisecond) {
		n, _ = rdb.Get(context.Background(), key).Int()
		if n == want {
			break
		}
	}
	return n
}

func TestProxyGRPC(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	p := redistest.NewProxy(t, ln.Addr().String())
	conn, err := grpc.NewClient("passthrough:///"+p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	hc := healthpb.NewHealthClient(conn)
	check := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(5 * time.Second); err != nil {
		t.Fatalf("Check through the proxy: %v", err)
	}

	p.Pause()
	if err := check(300 * time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Check through a paused proxy: %v; want DeadlineExceeded", err)
	}
	p.Resume()
	if err := check(5 * time.Second); err != nil {
		t.Fatalf("Check after Resume: %v", err)
	}

	// Replies held, then the connection cut: the RPC fails Unavailable.
	p.PauseReplies()
	errc := make(chan error, 1)
	go func() { errc <- check(5 * time.Second) }()
	time.Sleep(200 * time.Millisecond)
	p.CutAll()
	p.Heal()
	if err := <-errc; status.Code(err) != codes.Unavailable {
		t.Fatalf("Check across PauseReplies and CutAll: %v; want Unavailable", err)
	}
	if err := check(5 * time.Second); err != nil {
		t.Fatalf("Check after Heal: %v", err)
	}
	if st := p.Stats(); st.Accepted < 2 || st.Cut == 0 {
		t.Fatalf("stats %+v; want a second connection after the cut", st)
	}
}
