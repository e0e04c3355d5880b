package redistest_test

import (
	"context"
	"net"
	"testing"

	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// allBackends is Backends and the cluster, which Backends leaves out.
func allBackends() []redistest.Backend {
	return append(redistest.Backends(), redistest.ClusterBackend())
}

// incrBy is a tiny script in the shape of the store's: KEYS and ARGV in,
// a number out.
var incrBy = redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)

func TestBackendsAnswer(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			rdb := b.New(t)
			if err := rdb.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING: %v", err)
			}
			if err := rdb.Set(ctx, "{ws:1}:k", "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if got, err := rdb.Get(ctx, "{ws:1}:k").Result(); err != nil || got != "v" {
				t.Fatalf("GET = %q, %v; want \"v\", nil", got, err)
			}
			for i, want := range []int64{5, 10} {
				got, err := incrBy.Run(ctx, rdb, []string{"{ws:1}:n"}, 5).Int64()
				if err != nil || got != want {
					t.Fatalf("script run %d = %d, %v; want %d, nil", i, got, err, want)
				}
			}
		})
	}
}

func TestBackendsStartEmpty(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			first := b.New(t)
			if err := first.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			second := b.New(t)
			if n, err := second.DBSize(ctx).Result(); err != nil || n != 0 {
				t.Fatalf("a second client's DBSIZE = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	s, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	s.Close()
	s.Close() // a second Close is a no-op
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Close", s.Addr())
	}
}
