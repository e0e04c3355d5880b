package redistest_test

import (
	"context"
	"net"
	"testing"
	"time"

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

// TestDigest checks that Digest sees every change of a value, whatever
// its type, and no change of a TTL's value.
func TestDigest(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			rdb := b.New(t)
			digest := func() string {
				t.Helper()
				d, err := redistest.Digest(ctx, rdb)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			empty := digest()
			for _, err := range []error{
				rdb.Set(ctx, "{a}:s", "v", time.Hour).Err(),
				rdb.ZAdd(ctx, "{a}:z", redis.Z{Score: 1, Member: "m"}).Err(),
				rdb.SAdd(ctx, "{b}:set", "x", "y").Err(),
				rdb.HSet(ctx, "{c}:h", "f", "1").Err(),
				rdb.XAdd(ctx, &redis.XAddArgs{Stream: "{d}:x", ID: "1-1", Values: []string{"k", "v"}}).Err(),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
			full := digest()
			if full == empty {
				t.Fatal("the digest did not change when keys were added")
			}
			if err := rdb.Expire(ctx, "{a}:s", 2*time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if d := digest(); d != full {
				t.Error("the digest changed with a TTL's value")
			}
			changes := []struct {
				name         string
				change, undo func() error
			}{
				{"string", func() error { return rdb.Set(ctx, "{a}:s", "w", redis.KeepTTL).Err() },
					func() error { return rdb.Set(ctx, "{a}:s", "v", redis.KeepTTL).Err() }},
				{"zset score", func() error { return rdb.ZAdd(ctx, "{a}:z", redis.Z{Score: 2, Member: "m"}).Err() },
					func() error { return rdb.ZAdd(ctx, "{a}:z", redis.Z{Score: 1, Member: "m"}).Err() }},
				{"set", func() error { return rdb.SRem(ctx, "{b}:set", "y").Err() }, func() error { return rdb.SAdd(ctx, "{b}:set", "y").Err() }},
				{"hash", func() error { return rdb.HSet(ctx, "{c}:h", "f", "2").Err() }, func() error { return rdb.HSet(ctx, "{c}:h", "f", "1").Err() }},
				{"new key", func() error { return rdb.Set(ctx, "{e}:new", "", 0).Err() }, func() error { return rdb.Del(ctx, "{e}:new").Err() }},
			}
			for _, c := range changes {
				if err := c.change(); err != nil {
					t.Fatal(err)
				}
				if digest() == full {
					t.Errorf("the digest did not see a change of a %s", c.name)
				}
				if err := c.undo(); err != nil {
					t.Fatal(err)
				}
				if digest() != full {
					t.Errorf("the digest differs after a %s change was undone", c.name)
				}
			}
		})
	}
}
