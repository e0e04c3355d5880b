package redistest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// twoKeys is a script in the shape of the store's: two keys of one
// workspace, both written.
var twoKeys = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('INCRBY', KEYS[2], ARGV[1])`)

// quotaLib is a Redis Functions library in the shape of the store's.
const quotaLib = `#!lua name=redistest
redis.register_function('rt_incr', function(keys, args)
  return redis.call('INCRBY', keys[1], args[1])
end)`

func TestClusterTopologyAndScripts(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	rdb := redistest.ClusterBackend().New(t).(*redis.ClusterClient)
	c := redistest.SharedCluster(t)

	if n := len(c.Addrs()); n != 6 {
		t.Fatalf("%d nodes; want 6", n)
	}
	masters, err := c.Masters()
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := c.Replicas()
	if err != nil {
		t.Fatal(err)
	}
	if len(masters) != 3 || len(replicas) != 3 {
		t.Fatalf("%d masters and %d replicas; want 3 and 3", len(masters), len(replicas))
	}
	for _, r := range replicas {
		if slices.Contains(masters, r) {
			t.Fatalf("%s is both master and replica", r.Addr())
		}
	}

	// Keys of one workspace share a slot, and so a master.
	keys := []string{"{ws:a}:balance", "{ws:a}:reservations", "{ws:a}:run:7"}
	var slots []int64
	for _, k := range keys {
		slot, err := rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, slot)
	}
	if slots[0] != slots[1] || slots[0] != slots[2] {
		t.Fatalf("slots of %v = %v; want one slot", keys, slots)
	}
	m, slot, err := c.MasterForKey(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if int64(slot) != slots[0] {
		t.Fatalf("MasterForKey slot %d; CLUSTER KEYSLOT says %d", slot, slots[0])
	}

	// A script on two keys of a workspace runs through the cluster client,
	// on the master MasterForKey names.
	for i, want := range []int64{3, 6} {
		got, err := twoKeys.Run(ctx, rdb, keys[:2], 3).Int64()
		if err != nil || got != want {
			t.Fatalf("script run %d = %d, %v; want %d", i, got, err, want)
		}
	}
	direct := redis.NewClient(m.ClientOptions())
	defer direct.Close()
	if got, err := direct.Get(ctx, keys[1]).Int(); err != nil || got != 6 {
		t.Fatalf("GET %s on its master %s = %d, %v; want 6", keys[1], m.Addr(), got, err)
	}
	// Keys of two workspaces in one script: CROSSSLOT, when their slots
	// differ.
	other := "{ws:b}:balance"
	if s, _ := rdb.ClusterKeySlot(ctx, other).Result(); s != slots[0] {
		err := twoKeys.Run(ctx, rdb, []string{keys[0], other}, 1).Err()
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Fatalf("script on %s and %s: %v; want CROSSSLOT", keys[0], other, err)
		}
	}

	// FUNCTION LOAD acts on one node: load on every master, then FCALL
	// works for a workspace on each.
	err = c.ForEachMaster(func(m *redis.Client) error {
		return m.FunctionLoadReplace(ctx, quotaLib).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.ForEachMaster(func(m *redis.Client) error { return m.FunctionDelete(context.Background(), "redistest").Err() })
	})
	seen := map[*redistest.Server]bool{}
	for i := 0; len(seen) < len(masters) && i < 1000; i++ {
		key := fmt.Sprintf("{ws:%d}:n", i)
		m, _, err := c.MasterForKey(key)
		if err != nil {
			t.Fatal(err)
		}
		if seen[m] {
			continue
		}
		seen[m] = true
		if got, err := rdb.FCall(ctx, "rt_incr", []string{key}, 2).Int64(); err != nil || got != 2 {
			t.Fatalf("FCALL rt_incr %s (master %s) = %d, %v; want 2", key, m.Addr(), got, err)
		}
	}
	if len(seen) != len(masters) {
		t.Fatalf("workspaces 0..999 reach %d masters of %d", len(seen), len(masters))
	}

	if err := c.FlushAll(); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = c.ForEachMaster(func(m *redis.Client) error {
		k, err := m.DBSize(ctx).Result()
		n += int(k)
		return err
	})
	if err != nil || n != 0 {
		t.Fatalf("keys on the masters after FlushAll: %d, %v; want 0", n, err)
	}
}

// TestClusterBackendOneAtATime: parallel tests on the cluster backend
// take turns, so that one's New does not flush another's keys.
func TestClusterBackendOneAtATime(t *testing.T) {
	var inside atomic.Int32
	for _, name := range []string{"a", "b", "c"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t, time.Minute)
			rdb := redistest.ClusterBackend().New(t)
			if n := inside.Add(1); n != 1 {
				t.Errorf("%d tests hold the cluster at once", n)
			}
			defer inside.Add(-1)
			key := "{ws:" + name + "}:k"
			if err := rdb.Set(ctx, key, name, 0).Err(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // room for another test's New
			if got, err := rdb.Get(ctx, key).Result(); err != nil || got != name {
				t.Fatalf("GET %s = %q, %v; want %q", key, got, err, name)
			}
		})
	}
}

// TestClusterFailover kills the master of a workspace's slot in a cluster
// of its own and measures, from the kill, when the cluster has promoted
// the replica and when a ClusterClient writes to the slot again: one with
// go-redis's default options and one with TuneClusterOptions. Then it
// restarts the old master, which comes back as a replica.
//
// The default client reloads its slot map only when the map is 60s old
// (ClusterStateReloadInterval), so it writes again 60s after it loaded
// the map: measured once at 60.05s from the kill (the map was loaded just
// before it). Waiting for that would double the package's test time, so
// the test gives it defaultClientWait, then reloads its map by hand
// (ReloadState) and checks that this alone is what it lacked.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 2*time.Minute)
	c, err := redistest.StartCluster(redistest.ClusterOptions{NodeTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	const key = "{ws:a}:n"
	clients := []struct {
		name string
		rdb  *redis.ClusterClient
		wait time.Duration // bound on the wait for its first write
	}{
		{"default", c.Client(), defaultClientWait},
		{"tuned", c.ClientWith(redistest.TuneClusterOptions(c.ClientOptions())), 30 * time.Second},
	}
	for _, cl := range clients {
		if err := cl.rdb.Incr(ctx, key).Err(); err != nil {
			t.Fatalf("%s client: INCR before the kill: %v", cl.name, err)
		}
	}
	masters, err := c.Masters()
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := c.MasterForKey(key)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(masters, m)

	killed, err := c.KillMaster(i)
	if err != nil {
		t.Fatal(err)
	}
	kill := time.Now()

	var wg sync.WaitGroup
	recovered := make([]time.Duration, len(clients))
	failures := make([]map[string]int, len(clients))
	for j, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failures[j] = map[string]int{}
			deadline := kill.Add(cl.wait)
			for time.Now().Before(deadline) {
				actx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := cl.rdb.Incr(actx, key).Err()
				cancel()
				if err == nil {
					recovered[j] = time.Since(kill)
					return
				}
				failures[j][errKind(err)]++
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = c.WaitFailover(fctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	failover := time.Since(kill)
	t.Logf("cluster-node-timeout 1s: the cluster served every slot from a live master %s after SIGKILL", failover.Round(10*time.Millisecond))
	wg.Wait()
	for j, cl := range clients {
		if recovered[j] == 0 {
			t.Logf("%s client: no write to the slot within %s of the kill; failures: %v", cl.name, cl.wait, failures[j])
			continue
		}
		t.Logf("%s client: first write to the slot %s after the kill; failures before: %v", cl.name, recovered[j].Round(10*time.Millisecond), failures[j])
	}
	if recovered[1] == 0 {
		t.Fatal("the tuned client did not write again")
	}
	if recovered[0] == 0 {
		def := clients[0].rdb
		def.ReloadState(ctx)
		start := time.Now()
		var err error
		for time.Since(start) < 5*time.Second {
			if err = def.Incr(ctx, key).Err(); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("default client: INCR after ReloadState: %v", err)
		}
		t.Logf("default client: first write %s after ReloadState", time.Since(start).Round(time.Millisecond))
	}

	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Restart(rctx, killed); err != nil {
		t.Fatal(err)
	}
	replicas, err := c.Replicas()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(replicas, killed) {
		t.Fatalf("the restarted old master %s is not a replica", killed.Addr())
	}
	if err := clients[1].rdb.Incr(ctx, key).Err(); err != nil {
		t.Fatalf("INCR after the old master's restart: %v", err)
	}
}

// defaultClientWait bounds the wait for the default client's first write
// after the kill: well past the failover, well short of its 60s.
const defaultClientWait = 15 * time.Second

// errKind shortens an error to its kind, for counting.
func errKind(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.HasPrefix(s, "CLUSTERDOWN"):
		return "CLUSTERDOWN"
	case strings.Contains(s, "i/o timeout"), strings.Contains(s, "deadline exceeded"):
		return "timeout"
	}
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}
