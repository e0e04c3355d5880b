// Package redistest runs store and service tests against Redis: a real
// redis-server, one per test package, with a fresh database per test, and
// the embedded in-process server that quotad uses without Redis. The same
// suite runs on both:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
//	func TestReserve(t *testing.T) {
//		for _, b := range redistest.Backends() {
//			t.Run(b.Name, func(t *testing.T) {
//				rdb := b.New(t)
//				st := store.New(rdb)
//				...
//			})
//		}
//	}
//
// A missing redis-server is a failure that says how to install it, never a
// skip. redistest imports store (for the embedded server), so store's own
// tests that use it are in package store_test.
//
// For failures (issue 10) it also has:
//
//   - StartServerWith: a redis-server with an AOF, a password or ACL user,
//     a fixed port or more arguments, which a test can Pause, Resume, Kill
//     and Restart on the same port and directory.
//   - StartCluster: a Redis Cluster of three masters and three replicas,
//     whose masters a test can kill and wait to fail over; SharedCluster
//     and ClusterBackend share one per test package (not in Backends).
//   - StartSentinel: a master, its replicas (one, or more) and three
//     sentinels.
//   - NewProxy: a TCP proxy that loses replies, holds, cuts, refuses or
//     delays traffic, for RESP and gRPC alike.
//
// Every process dies with the test binary (on Linux), and every wait is
// bounded.
package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/quota-svc/quota/store"
	"github.com/redis/go-redis/v9"
)

// server is the package's redis-server, started by Main.
var server *Server

// freeDBs holds the databases of server that no test is using.
var freeDBs = make(chan int, Databases-1)

func init() {
	for db := 1; db < Databases; db++ {
		freeDBs <- db
	}
}

// Main is the test package's TestMain: it starts one redis-server for the
// package (see StartServer), runs the tests, stops the server (and the
// shared cluster, if a test started it: see SharedCluster) and exits with
// the tests' code. If redis-server cannot start, it prints why (how to
// install it, when it is missing) and exits 1.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	s, err := StartServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	defer closeShared()
	server = s
	inMain = true
	return m.Run()
}

// Backend is a kind of Redis a suite runs against.
type Backend struct {
	// Name names the backend in a subtest: "redis" or "embedded".
	Name string
	// New returns a client on an empty keyspace of its own, closed (with
	// whatever it runs on) when t ends.
	New func(t testing.TB) redis.UniversalClient
}

// Backends returns the backends every store and service suite runs on:
// "redis", a fresh database of the package's redis-server (it needs Main),
// and "embedded", a fresh store.Embedded server per test.
func Backends() []Backend {
	return []Backend{
		{Name: "redis", New: newRedis},
		{Name: "embedded", New: newEmbedded},
	}
}

// dbWait bounds the wait for a free database when Databases-1 tests hold
// one each.
const dbWait = time.Minute

// newRedis returns a client on a free, flushed database of server.
func newRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	if server == nil {
		t.Fatal("redistest: the redis backend needs `func TestMain(m *testing.M) { redistest.Main(m) }` in the test package")
	}
	var db int
	select {
	case db = <-freeDBs:
	case <-time.After(dbWait):
		t.Fatalf("redistest: no free database in %s: %d tests hold one each", dbWait, Databases-1)
	}
	rdb := redis.NewClient(&redis.Options{Addr: server.Addr(), DB: db})
	t.Cleanup(func() {
		rdb.Close()
		freeDBs <- db
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redistest: FLUSHDB on database %d of %s: %v", db, server.Addr(), err)
	}
	return rdb
}

// newEmbedded returns a client on a fresh store.Embedded server.
func newEmbedded(t testing.TB) redis.UniversalClient {
	t.Helper()
	e, err := store.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	rdb := e.Client()
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
