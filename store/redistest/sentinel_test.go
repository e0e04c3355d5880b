package redistest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quota-svc/quota/store/redistest"
)

// startSentinel starts a sentinel setup with opts, closed when t ends.
func startSentinel(t *testing.T, opts redistest.SentinelOptions) *redistest.Sentinel {
	t.Helper()
	start := time.Now()
	s, err := redistest.StartSentinel(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	t.Logf("master, replica and 3 sentinels agreed %s after start", time.Since(start).Round(10*time.Millisecond))
	return s
}

// TestSentinelFailover kills the master and measures, from the kill, when
// the sentinels name the promoted replica and when a NewFailoverClient
// writes again; then the old master comes back as a replica.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, time.Minute)
	s := startSentinel(t, redistest.SentinelOptions{})
	if s.MasterName() != "mymaster" || len(s.SentinelAddrs()) != 3 {
		t.Fatalf("MasterName %q, SentinelAddrs %v", s.MasterName(), s.SentinelAddrs())
	}
	rdb := s.Client()
	if err := rdb.Set(ctx, "{ws:a}:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	nodes := s.Nodes()
	if m, err := s.Master(); err != nil || m != nodes[0] {
		t.Fatalf("Master() = %v, %v; want the first node", m, err)
	}
	// The replica has the key before the kill: the test is about
	// failover, not about asynchronous replication's window.
	if got, err := nodes[1].Client().Get(ctx, "{ws:a}:k").Result(); err != nil || got != "v" {
		t.Fatalf("GET on the replica = %q, %v", got, err)
	}

	old, err := s.KillMaster()
	if err != nil {
		t.Fatal(err)
	}
	kill := time.Now()
	wrote := make(chan time.Duration, 1)
	go func() {
		defer close(wrote)
		for time.Since(kill) < 30*time.Second {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := rdb.Incr(actx, "{ws:a}:n").Err()
			cancel()
			if err == nil {
				wrote <- time.Since(kill)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	addr, err := s.WaitFailover(fctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("down-after 1s: the sentinels named the promoted replica %s after SIGKILL", time.Since(kill).Round(10*time.Millisecond))
	if addr != nodes[1].Addr() {
		t.Fatalf("new master %s; want the replica %s", addr, nodes[1].Addr())
	}
	d, ok := <-wrote
	if !ok {
		t.Fatal("the failover client did not write within 30s of the kill")
	}
	t.Logf("NewFailoverClient (default options): first write %s after SIGKILL", d.Round(10*time.Millisecond))
	if got, err := rdb.Get(ctx, "{ws:a}:k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after failover = %q, %v; want v", got, err)
	}

	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Restart(rctx, old); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Master(); err != nil || m != nodes[1] {
		t.Fatalf("Master() after the old master's restart = %v, %v; want the promoted replica", m, err)
	}
}

// TestSentinelMinReplicas: with min-replicas-to-write 1, the master takes
// writes while its replica keeps up, refuses them (NOREPLICAS) once the
// replica lags (paused) and takes them again once it is back.
func TestSentinelMinReplicas(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, time.Minute)
	s := startSentinel(t, redistest.SentinelOptions{MinReplicasToWrite: 1, MinReplicasMaxLag: 1})
	nodes := s.Nodes()
	for _, n := range nodes { // the replica too, for after a failover
		got, err := n.Client().ConfigGet(ctx, "min-replicas-*").Result()
		if err != nil || got["min-replicas-to-write"] != "1" || got["min-replicas-max-lag"] != "1" {
			t.Fatalf("%s: min-replicas config %v, %v", n.Addr(), got, err)
		}
	}
	rdb := s.Client()
	if err := rdb.Incr(ctx, "{ws:a}:n").Err(); err != nil {
		t.Fatalf("INCR with the replica in sync: %v", err)
	}
	if err := nodes[1].Pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	var err error
	for time.Since(paused) < 10*time.Second {
		if err = rdb.Incr(ctx, "{ws:a}:n").Err(); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "NOREPLICAS") {
		t.Fatalf("INCR with the replica paused: %v; want NOREPLICAS", err)
	}
	t.Logf("writes refused %s after the replica was paused: %v", time.Since(paused).Round(10*time.Millisecond), err)
	if err := nodes[1].Resume(); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	for time.Since(resumed) < 10*time.Second {
		if err = rdb.Incr(ctx, "{ws:a}:n").Err(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("INCR after the replica resumed: %v", err)
	}
}
