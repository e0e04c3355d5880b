package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterMasters and clusterNodes are the shape of every Cluster: three
	// masters with one replica each.
	clusterMasters = 3
	clusterNodes   = 2 * clusterMasters
	// clusterSlots is how many hash slots Redis Cluster has.
	clusterSlots = 16384
	// clusterStartTimeout bounds redis-cli --cluster create and the wait
	// for the new cluster to be healthy.
	clusterStartTimeout = 60 * time.Second
	// queryTimeout bounds a Cluster's or Sentinel's own topology queries.
	queryTimeout = 5 * time.Second
	// pollInterval is how often the Wait methods look again.
	pollInterval = 100 * time.Millisecond
)

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica takes over. 0 means 1s, so that a
	// failover takes a few seconds.
	NodeTimeout time.Duration
	// Args are more redis-server arguments for every node.
	Args []string
}

// Cluster is a Redis Cluster of six redis-server processes on 127.0.0.1:
// three masters, each with one replica, no persistence. Roles change on
// failover: Masters and Replicas ask the cluster. Close it when done.
//
// A Cluster has only database 0. FUNCTION LOAD, SCRIPT LOAD and FLUSHALL
// act on one node: send them to every master with ForEachMaster.
type Cluster struct {
	nodes []*Server // in the order of creation; fixed

	mu      sync.Mutex
	clients []*redis.ClusterClient
}

// StartCluster starts six cluster-enabled redis-servers on free ports
// (each with a free cluster bus port, set with cluster-port), joins them
// with redis-cli --cluster create ... --cluster-replicas 1, and returns
// once every node reports cluster_state:ok with all 16384 slots, every
// node agrees on which master serves each slot and every master has its
// replica connected (within 60s).
func StartCluster(opts ClusterOptions) (*Cluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, errors.New("redis-cli not found: install it with `apt-get install redis-tools` (or run .ci/run)")
	}
	timeout := opts.NodeTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	c := &Cluster{}
	for i := 0; i < clusterNodes; i++ {
		s, err := startClusterNode(timeout, opts.Args)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startClusterNode starts one cluster node on a free port with a free bus
// port, trying other ports if one is taken meanwhile.
func startClusterNode(timeout time.Duration, extra []string) (*Server, error) {
	for attempt := 1; ; attempt++ {
		port, bus, err := freePortPair()
		if err != nil {
			return nil, err
		}
		args := []string{
			"--cluster-enabled", "yes",
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10),
			// A replica's first sync starts at once, not 5s later.
			"--repl-diskless-sync-delay", "0",
		}
		s, err := StartServerWith(ServerOptions{Port: port, Args: append(args, extra...)})
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			return nil, err
		}
	}
}

// freePortPair returns two distinct 127.0.0.1 ports that were free
// together, for a node and its cluster bus.
func freePortPair() (int, int, error) {
	a, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i < startAttempts; i++ {
		b, err := freePort()
		if err != nil {
			return 0, 0, err
		}
		if b != a {
			return a, b, nil
		}
	}
	return 0, 0, errors.New("redistest: no second free port")
}

// Addrs returns every node's host:port, in the order of creation: the
// seed addresses for redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Nodes returns the six nodes, in the order of creation, whatever their
// current role.
func (c *Cluster) Nodes() []*Server { return append([]*Server(nil), c.nodes...) }

// node returns the node at addr, or nil.
func (c *Cluster) node(addr string) *Server {
	for _, s := range c.nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// shard is one master's slots and replicas, as one node sees them.
type shard struct {
	slots    [][2]int // inclusive ranges, ascending
	master   string   // host:port
	replicas []string
}

// view returns the shards serving slots, ordered by first slot, as the
// node s sees them (CLUSTER SHARDS).
func (c *Cluster) view(ctx context.Context, s *Server) ([]shard, error) {
	shards, err := s.adminClient().ClusterShards(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("redistest: CLUSTER SHARDS on %s: %w", s.Addr(), err)
	}
	var out []shard
	for _, sh := range shards {
		if len(sh.Slots) == 0 {
			continue // a failed-over master, alone and slotless
		}
		var x shard
		for _, r := range sh.Slots {
			x.slots = append(x.slots, [2]int{int(r.Start), int(r.End)})
		}
		sort.Slice(x.slots, func(i, j int) bool { return x.slots[i][0] < x.slots[j][0] })
		for _, n := range sh.Nodes {
			addr := fmt.Sprintf("%s:%d", n.IP, n.Port)
			switch n.Role {
			case "master":
				x.master = addr
			default:
				x.replicas = append(x.replicas, addr)
			}
		}
		sort.Strings(x.replicas)
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].slots[0][0] < out[j].slots[0][0] })
	return out, nil
}

// anyView returns the view of the first running node that answers.
func (c *Cluster) anyView(ctx context.Context) ([]shard, error) {
	err := errors.New("redistest: no cluster node is running")
	for _, s := range c.nodes {
		if !s.Running() {
			continue
		}
		var v []shard
		if v, err = c.view(ctx, s); err == nil {
			return v, nil
		}
	}
	return nil, err
}

// Masters returns the nodes that serve slots, as a running node sees
// them, ordered by their first slot: Masters()[0] serves slot 0. Right
// after a kill that is still the dead master, until the cluster fails over.
func (c *Cluster) Masters() ([]*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	v, err := c.anyView(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Server
	for _, sh := range v {
		s := c.node(sh.master)
		if s == nil {
			return nil, fmt.Errorf("redistest: master %s is not a node of this cluster", sh.master)
		}
		out = append(out, s)
	}
	return out, nil
}

// Replicas returns the replicas of Masters(), in the same order (a master
// with none is skipped; a failed-over master that came back is one).
func (c *Cluster) Replicas() ([]*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	v, err := c.anyView(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Server
	for _, sh := range v {
		for _, r := range sh.replicas {
			if s := c.node(r); s != nil {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// MasterForKey returns the master that serves key's slot (CLUSTER KEYSLOT,
// then CLUSTER SHARDS), and the slot.
func (c *Cluster) MasterForKey(key string) (*Server, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var slot int64
	err := errors.New("redistest: no cluster node is running")
	for _, s := range c.nodes {
		if !s.Running() {
			continue
		}
		if slot, err = s.adminClient().ClusterKeySlot(ctx, key).Result(); err == nil {
			break
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("redistest: CLUSTER KEYSLOT %q: %w", key, err)
	}
	v, err := c.anyView(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, sh := range v {
		for _, r := range sh.slots {
			if int(slot) >= r[0] && int(slot) <= r[1] {
				if s := c.node(sh.master); s != nil {
					return s, int(slot), nil
				}
				return nil, 0, fmt.Errorf("redistest: master %s is not a node of this cluster", sh.master)
			}
		}
	}
	return nil, 0, fmt.Errorf("redistest: slot %d of %q is not served", slot, key)
}

// KillMaster kills Masters()[i] with SIGKILL (its directory and nodes.conf
// are kept) and returns it, for Restart. Its replica takes over after
// NodeTimeout and a short election: see WaitFailover.
func (c *Cluster) KillMaster(i int) (*Server, error) {
	masters, err := c.Masters()
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(masters) {
		return nil, fmt.Errorf("redistest: no master %d of %d", i, len(masters))
	}
	return masters[i], masters[i].Kill()
}

// WaitFailover waits until every slot is served again by a running
// master: every running node reports cluster_state:ok and all 16384
// slots, and they all agree on the masters, which are running and answer
// ROLE as masters. A promoted master has no replica until the old one is
// restarted, so WaitFailover does not ask for replicas. It returns ctx's
// error, with what is still wrong, if ctx ends first.
func (c *Cluster) WaitFailover(ctx context.Context) error {
	return c.wait(ctx, false)
}

// WaitHealthy is WaitFailover, and also every node running and every
// master with a replica whose link is up: the state after StartCluster
// and after Restart.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return c.wait(ctx, true)
}

func (c *Cluster) wait(ctx context.Context, full bool) error {
	for {
		err := c.check(ctx, full)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster not ready: %w (%v)", ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}

// check returns nil if the cluster is as wait wants it, else what is
// wrong.
func (c *Cluster) check(ctx context.Context, full bool) error {
	var want string
	var view []shard
	for _, s := range c.nodes {
		if !s.Running() {
			if full {
				return fmt.Errorf("%s is not running", s.Addr())
			}
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		info, err := s.adminClient().ClusterInfo(qctx).Result()
		if err != nil {
			cancel()
			return fmt.Errorf("CLUSTER INFO on %s: %v", s.Addr(), err)
		}
		for _, line := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384"} {
			if !strings.Contains(info, line+"\r\n") {
				cancel()
				return fmt.Errorf("%s has no %s", s.Addr(), line)
			}
		}
		v, err := c.view(qctx, s)
		cancel()
		if err != nil {
			return err
		}
		got := fmt.Sprint(v)
		if want == "" {
			want, view = got, v
		} else if got != want {
			return fmt.Errorf("nodes disagree: %s vs %s", want, got)
		}
	}
	if view == nil {
		return errors.New("no node is running")
	}
	covered := 0
	for _, sh := range view {
		for _, r := range sh.slots {
			covered += r[1] - r[0] + 1
		}
		m := c.node(sh.master)
		if m == nil || !m.Running() {
			return fmt.Errorf("master %s is not running", sh.master)
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		role, err := m.adminClient().Do(qctx, "ROLE").Slice()
		var repl string
		if err == nil && full {
			repl, err = m.adminClient().Info(qctx, "replication").Result()
		}
		cancel()
		if err != nil {
			return fmt.Errorf("ROLE on %s: %v", sh.master, err)
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s serves slots but its ROLE is %v", sh.master, role)
		}
		if full && (len(sh.replicas) == 0 || !strings.Contains(repl, "connected_slaves:1\r\n") ||
			!strings.Contains(repl, "state=online")) {
			return fmt.Errorf("master %s has no replica online", sh.master)
		}
	}
	if covered != clusterSlots {
		return fmt.Errorf("%d of %d slots served", covered, clusterSlots)
	}
	return nil
}

// Restart restarts a node (killed or not) on its port and directory, so
// that it rejoins with its identity from nodes.conf (a failed-over master
// comes back as its successor's replica, empty, and resyncs), and waits
// until the cluster is healthy again (see WaitHealthy).
func (c *Cluster) Restart(ctx context.Context, s *Server) error {
	if c.node(s.Addr()) != s {
		return fmt.Errorf("redistest: %s is not a node of this cluster", s.Addr())
	}
	if err := s.Restart(); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// ForEachMaster calls fn, one after the other, with a client of each
// master that Masters returns: for FUNCTION LOAD, SCRIPT LOAD and FLUSHALL,
// which act on one node only. The client is closed when fn returns. It
// returns the first error.
func (c *Cluster) ForEachMaster(fn func(*redis.Client) error) error {
	masters, err := c.Masters()
	if err != nil {
		return err
	}
	for _, m := range masters {
		rdb := redis.NewClient(m.ClientOptions())
		err := fn(rdb)
		rdb.Close()
		if err != nil {
			return fmt.Errorf("redistest: on master %s: %w", m.Addr(), err)
		}
	}
	return nil
}

// FlushAll empties every master (FLUSHALL, which their replicas follow).
// Loaded functions stay.
func (c *Cluster) FlushAll() error {
	return c.ForEachMaster(func(rdb *redis.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		return rdb.FlushAll(ctx).Err()
	})
}

// ClientOptions returns new go-redis default cluster options seeded with
// every node's address. See TuneClusterOptions for failover.
func (c *Cluster) ClientOptions() *redis.ClusterOptions {
	return &redis.ClusterOptions{Addrs: c.Addrs()}
}

// Client returns a new cluster client with ClientOptions, closed by Close
// if not before.
func (c *Cluster) Client() *redis.ClusterClient {
	return c.ClientWith(c.ClientOptions())
}

// ClientWith returns a new cluster client with opt, seeded with every
// node's address if opt.Addrs is empty, closed by Close if not before.
func (c *Cluster) ClientWith(opt *redis.ClusterOptions) *redis.ClusterClient {
	if len(opt.Addrs) == 0 {
		opt.Addrs = c.Addrs()
	}
	rdb := redis.NewClusterClient(opt)
	c.mu.Lock()
	c.clients = append(c.clients, rdb)
	c.mu.Unlock()
	return rdb
}

// TuneClusterOptions sets the options of go-redis v9.23 that decide how
// soon a ClusterClient writes again after a master dies, and returns opt.
//
// A dead master refuses connections; it sends no MOVED, and go-redis
// reloads the slot map on MOVED, ASK and READONLY errors or when its map
// is older than ClusterStateReloadInterval (default 60s), never on
// connection errors. So with default options, writes to the dead master's
// slots fail until the map is up to 60s old, long after the replica took
// over. ClusterStateReloadInterval of 1s bounds that to 1s (one CLUSTER
// SLOTS per second per client while commands flow), and more retries with
// a longer backoff let one command ride out the election instead of
// failing at once.
func TuneClusterOptions(opt *redis.ClusterOptions) *redis.ClusterOptions {
	opt.ClusterStateReloadInterval = time.Second
	opt.MaxRedirects = 8
	opt.MinRetryBackoff = 50 * time.Millisecond
	opt.MaxRetryBackoff = 500 * time.Millisecond
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	return opt
}

// Close closes the clients that Client and ClientWith returned and every
// node, removing their directories. It is safe to call more than once.
func (c *Cluster) Close() {
	c.mu.Lock()
	clients := c.clients
	c.clients = nil
	c.mu.Unlock()
	for _, rdb := range clients {
		rdb.Close()
	}
	var wg sync.WaitGroup
	for _, s := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Close()
		}()
	}
	wg.Wait()
}
