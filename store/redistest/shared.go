package redistest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// inMain is set by Main before the tests run.
var inMain bool

// shared is the package's cluster: started by the first SharedCluster,
// closed by Main after the tests.
var shared struct {
	mu      sync.Mutex
	started bool
	c       *Cluster
	err     error
}

// SharedCluster returns the test package's Redis Cluster (see
// StartCluster), started by the first call (a few seconds) and closed by
// Main when the tests are done. Its nodes run with
// cluster-require-full-coverage no, as the README recommends, so that
// while one shard fails over the others keep answering, and a
// cluster-node-timeout of 2s, so that a node slowed down by a loaded
// machine is not taken for dead. It needs
// `func TestMain(m *testing.M) { redistest.Main(m) }`. If the cluster
// cannot start, every call fails its test.
//
// Tests that kill nodes of the shared cluster must bring it back (see
// Cluster.Restart) or use a cluster of their own; ClusterBackend waits for
// it to be healthy.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	if !inMain {
		t.Fatal("redistest: the shared cluster needs `func TestMain(m *testing.M) { redistest.Main(m) }` in the test package")
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		shared.c, shared.err = StartCluster(ClusterOptions{
			NodeTimeout: 2 * time.Second,
			Args:        []string{"--cluster-require-full-coverage", "no"},
		})
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// closeShared closes the shared cluster if it was started.
func closeShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c != nil {
		shared.c.Close()
	}
}

// ClusterBackend returns the "cluster" backend: a cluster client of
// SharedCluster, emptied for the test. It is not in Backends.
//
// A cluster has only database 0, so New empties the whole cluster
// (FLUSHALL on every master) and the test holds the cluster until it
// ends: cluster-backend tests run one at a time even if they call
// t.Parallel, the others waiting (at most 2 minutes) in New. A test may
// call New again, and so may its subtests, while it holds the cluster;
// each New empties the keyspace for all of them. New also waits for the
// cluster to be healthy, in case a test before failed it over.
func ClusterBackend() Backend {
	return Backend{Name: "Cluster", New: newCluster}
}

// clusterWait bounds the wait for the shared cluster in New.
const clusterWait = 2 * time.Minute

// newCluster returns a client of the emptied shared cluster, held by t.
func newCluster(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := SharedCluster(t)
	holdCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.FlushAll(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClusterClient(c.ClientOptions())
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// held says which tests hold the shared cluster: one test and maybe some
// of its subtests, each name as often as it called New.
var held struct {
	mu      sync.Mutex
	names   []string
	changed chan struct{} // closed and replaced when names shrinks
}

// holdCluster waits until t may hold the shared cluster and holds it
// until t ends. t may if every holder is t or an ancestor of t.
func holdCluster(t testing.TB) {
	t.Helper()
	name := t.Name()
	deadline := time.NewTimer(clusterWait)
	defer deadline.Stop()
	for {
		held.mu.Lock()
		ok := true
		for _, h := range held.names {
			if h != name && !strings.HasPrefix(name, h+"/") {
				ok = false
				break
			}
		}
		if ok {
			held.names = append(held.names, name)
			held.mu.Unlock()
			t.Cleanup(func() { releaseCluster(name) })
			return
		}
		if held.changed == nil {
			held.changed = make(chan struct{})
		}
		changed := held.changed
		holders := strings.Join(held.names, ", ")
		held.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("redistest: waited %s for the shared cluster, held by %s", clusterWait, holders)
		}
	}
}

// releaseCluster drops one hold of name.
func releaseCluster(name string) {
	held.mu.Lock()
	defer held.mu.Unlock()
	for i := len(held.names) - 1; i >= 0; i-- {
		if held.names[i] == name {
			held.names = append(held.names[:i], held.names[i+1:]...)
			break
		}
	}
	if held.changed != nil {
		close(held.changed)
		held.changed = nil
	}
}
