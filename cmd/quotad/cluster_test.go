//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// clusterNodeTimeout is the test cluster's cluster-node-timeout: how long
// a master may be silent before its replica takes over.
const clusterNodeTimeout = 2 * time.Second

// followBound is how soon after a replica's promotion quotad must serve
// the shard again (issue 8: within 10 s).
const followBound = 10 * time.Second

// clusterNode is one redis-server of a test cluster.
type clusterNode struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startCluster starts 6 redis-servers in cluster mode on free loopback
// ports and joins them as 3 masters with a replica each.
func startCluster(t *testing.T) []*clusterNode {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: install it with `apt-get install redis-server`")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: install it with `apt-get install redis-tools`")
	}
	var nodes []*clusterNode
	for range 6 {
		nodes = append(nodes, startClusterNode(t, server))
	}
	args := []string{"--cluster", "create"}
	for _, n := range nodes {
		args = append(args, n.addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for clusterInfo(n.addr, "cluster_state") != "ok" {
			if time.Now().After(deadline) {
				t.Fatalf("the cluster is not ok on %s", n.addr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A replica that never synced with its master cannot take over.
	for _, n := range nodes {
		for {
			info := replicationInfo(n.addr)
			if strings.Contains(info, "role:master") || strings.Contains(info, "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s not in sync:\n%s", n.addr, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nodes
}

// replicationInfo returns INFO replication of addr, "" on error.
func replicationInfo(addr string) string {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, _ := c.Info(ctx, "replication").Result()
	return info
}

// startClusterNode starts one redis-server in cluster mode on a free
// port, trying another port when the one found is taken meanwhile.
func startClusterNode(t *testing.T, server string) *clusterNode {
	t.Helper()
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dir := t.TempDir()
		n := &clusterNode{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}
		n.cmd = exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", dir+"/nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout.Milliseconds())),
			// Other shards serve on while one has no master (the README's
			// Redis section recommends it).
			"--cluster-require-full-coverage", "no",
			"--repl-diskless-sync-delay", "0",
			"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
		n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { n.cmd.Wait(); close(n.done) }()
		if waitPing(n) {
			t.Cleanup(func() { n.kill() })
			return n
		}
		n.kill()
		if attempt == 3 {
			t.Fatalf("redis-server in cluster mode did not start on %s", n.addr)
		}
	}
}

// kill kills the node and waits for it.
func (n *clusterNode) kill() {
	n.cmd.Process.Kill()
	<-n.done
}

// waitPing waits until n answers PING, and tells whether it did before
// exiting or 10 s.
func waitPing(n *clusterNode) bool {
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		select {
		case <-n.done:
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// clusterInfo returns a field of CLUSTER INFO on addr, "" on error.
func clusterInfo(addr, field string) string {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// masterOf returns the address of the master serving slot, as addr sees
// the cluster, or "".
func masterOf(addr string, slot int) string {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return ""
	}
	for _, s := range slots {
		if s.Start <= slot && slot <= s.End && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr
		}
	}
	return ""
}

// TestClusterFailoverIsFollowed kills the master of a workspace's shard
// and measures how long after its replica's promotion quotad serves the
// workspace again, and that other shards are served all along.
func TestClusterFailoverIsFollowed(t *testing.T) {
	nodes := startCluster(t)
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.addr)
	}
	q := startQuotad(t, "embedded", func(c *Config) {
		c.RedisCluster = seeds
		c.AllowUnauthenticated = true
		c.StoreTimeout, c.CallTimeout = defaultConfig().StoreTimeout, defaultConfig().CallTimeout
	})
	c, _ := connect(t, q.Addrs.GRPC)
	start := timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))

	// Workspaces on every shard.
	probe := redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds})
	defer probe.Close()
	ctx := context.Background()
	byMaster := map[string]string{} // master address -> a workspace on it
	for i := 0; len(byMaster) < 3 && i < 100; i++ {
		ws := fmt.Sprintf("ws-%d", i)
		slot, err := probe.ClusterKeySlot(ctx, "{ws:"+ws+"}").Result()
		if err != nil {
			t.Fatal(err)
		}
		if m := masterOf(seeds[0], int(slot)); m != "" && byMaster[m] == "" {
			byMaster[m] = ws
		}
	}
	for _, ws := range byMaster {
		if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: "set", SubscriptionStart: start}); err != nil {
			t.Fatalf("SetWorkspace(%s): %v", ws, err)
		}
	}
	// Replication is asynchronous: wait until the replicas have the
	// workspaces, or the failover may lose them (see the README's Redis
	// section) and this test would measure that instead.
	if err := probe.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.Do(ctx, "WAIT", 1, 2000).Int()
		if err == nil && n < 1 {
			err = fmt.Errorf("WAIT on %s: no replica acknowledged", m.Options().Addr)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var victim *clusterNode
	var victimWS string
	var survivor string
	for _, n := range nodes {
		if ws, ok := byMaster[n.addr]; ok && victim == nil {
			victim, victimWS = n, ws
		} else if !ok {
			survivor = n.addr // a replica of another shard, or the victim's
		}
	}
	if victim == nil {
		t.Fatal("no master found")
	}
	get := func(ws string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := c.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: ws})
		return err
	}
	slot, _ := probe.ClusterKeySlot(ctx, "{ws:"+victimWS+"}").Result()

	killed := time.Now()
	victim.kill()
	t.Logf("killed master %s of %s (slot %d)", victim.addr, victimWS, slot)
	var promoted, served time.Time
	var lastErr error
	otherFailures := 0
	for time.Since(killed) < 60*time.Second {
		if promoted.IsZero() {
			if m := masterOf(survivor, int(slot)); m != "" && m != victim.addr {
				promoted = time.Now()
				t.Logf("replica %s promoted %v after the kill", m, promoted.Sub(killed).Round(time.Millisecond))
			}
		}
		// Any answer but UNAVAILABLE comes from the shard's new master.
		err := get(victimWS)
		if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
			if err != nil {
				t.Logf("the new master answers %v: the write replicated before the kill is missing", err)
			}
			served = time.Now()
			break
		}
		lastErr = err
		for m, ws := range byMaster {
			if m != victim.addr && get(ws) != nil {
				otherFailures++
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if served.IsZero() {
		t.Fatalf("quotad did not serve %s again within 60s of the kill; last error: %v", victimWS, lastErr)
	}
	if promoted.IsZero() {
		promoted = served // promotion seen only through quotad's success
	}
	follow := served.Sub(promoted)
	t.Logf("quotad served %s again %v after the kill, %v after the promotion", victimWS,
		served.Sub(killed).Round(time.Millisecond), follow.Round(time.Millisecond))
	if follow > followBound {
		t.Errorf("quotad followed the failover %v after the promotion, want within %v", follow, followBound)
	}
	if otherFailures > 0 {
		t.Errorf("calls to the other shards failed %d times during the failover", otherFailures)
	}
}
