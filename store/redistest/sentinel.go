package redistest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// sentinels is how many sentinel processes a Sentinel runs; the quorum
	// is 2.
	sentinels = 3
	// sentinelStartTimeout bounds the wait for the sentinels to agree.
	sentinelStartTimeout = 30 * time.Second
)

// SentinelOptions configure StartSentinel.
type SentinelOptions struct {
	// MasterName is the monitored master's name; "" means "mymaster".
	MasterName string
	// DownAfter is down-after-milliseconds; 0 means 1s.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout; 0 means 5s.
	FailoverTimeout time.Duration
	// MinReplicasToWrite, if above 0, is min-replicas-to-write on the
	// master and on the replicas (for after a failover): writes fail with
	// NOREPLICAS unless that many replicas lag at most MinReplicasMaxLag.
	MinReplicasToWrite int
	// MinReplicasMaxLag is min-replicas-max-lag in seconds; 0 keeps
	// Redis's default, 10.
	MinReplicasMaxLag int
	// Replicas is how many replicas the master has; 0 means 1. With
	// MinReplicasToWrite 1, a master needs two to stay writable after a
	// failover: the promoted replica's only replica would be the dead
	// master.
	Replicas int
	// Args are more redis-server arguments for the master and the
	// replicas.
	Args []string
}

// Sentinel is a master and its replicas (one unless
// SentinelOptions.Replicas says more), redis-server on 127.0.0.1 without
// persistence, monitored by three redis-server --sentinel processes with
// a quorum of 2. Close it when done.
type Sentinel struct {
	name      string
	nodes     []*Server // the master and the replicas, as started
	sentinels []*Server
	admins    []*redis.SentinelClient

	mu      sync.Mutex
	clients []*redis.Client
	closed  bool
}

// StartSentinel starts the master, the replicas (replicaof the master)
// and the three sentinels, and returns once every replica is in sync and
// every sentinel names the master, sees a replica in sync and the two
// other sentinels (within 30s).
func StartSentinel(opts SentinelOptions) (*Sentinel, error) {
	if opts.MasterName == "" {
		opts.MasterName = "mymaster"
	}
	if opts.DownAfter <= 0 {
		opts.DownAfter = time.Second
	}
	if opts.FailoverTimeout <= 0 {
		opts.FailoverTimeout = 5 * time.Second
	}
	args := []string{"--repl-diskless-sync-delay", "0"}
	if opts.MinReplicasToWrite > 0 {
		args = append(args, "--min-replicas-to-write", strconv.Itoa(opts.MinReplicasToWrite))
		if opts.MinReplicasMaxLag > 0 {
			args = append(args, "--min-replicas-max-lag", strconv.Itoa(opts.MinReplicasMaxLag))
		}
	}
	args = append(args, opts.Args...)

	s := &Sentinel{name: opts.MasterName}
	master, err := StartServerWith(ServerOptions{Args: args})
	if err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, master)
	replicaArgs := append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(master.Port())}, args...)
	for range max(opts.Replicas, 1) {
		replica, err := StartServerWith(ServerOptions{Args: replicaArgs})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.nodes = append(s.nodes, replica)
	}

	conf := fmt.Sprintf(`sentinel monitor %[1]s 127.0.0.1 %[2]d 2
sentinel down-after-milliseconds %[1]s %[3]d
sentinel failover-timeout %[1]s %[4]d
sentinel parallel-syncs %[1]s 1
`, opts.MasterName, master.Port(), opts.DownAfter.Milliseconds(), opts.FailoverTimeout.Milliseconds())
	for i := 0; i < sentinels; i++ {
		sn, err := StartServerWith(ServerOptions{conf: conf, sentinel: true})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.sentinels = append(s.sentinels, sn)
		s.admins = append(s.admins, redis.NewSentinelClient(&redis.Options{
			Addr:        sn.Addr(),
			MaxRetries:  -1,
			DialTimeout: 500 * time.Millisecond,
			ReadTimeout: time.Second,
			PoolSize:    2,
		}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), sentinelStartTimeout)
	defer cancel()
	if err := s.wait(ctx, func(ctx context.Context) error {
		for _, replica := range s.nodes[1:] {
			if err := s.checkReplica(ctx, master, replica); err != nil {
				return err
			}
		}
		return s.checkSentinels(ctx, master.Addr(), true)
	}); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// wait calls check every pollInterval until it returns nil or ctx ends.
func (s *Sentinel) wait(ctx context.Context, check func(context.Context) error) error {
	for {
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		err := check(qctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: sentinel setup not ready: %w (%v)", ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}

// checkReplica returns nil if replica is master's replica with its link
// up and master sees it online.
func (s *Sentinel) checkReplica(ctx context.Context, master, replica *Server) error {
	info, err := replica.adminClient().Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("INFO on %s: %v", replica.Addr(), err)
	}
	if !strings.Contains(info, "role:slave\r\n") || !strings.Contains(info, "master_link_status:up\r\n") ||
		!strings.Contains(info, fmt.Sprintf("master_port:%d\r\n", master.Port())) {
		return fmt.Errorf("%s is not an in-sync replica of %s", replica.Addr(), master.Addr())
	}
	info, err = master.adminClient().Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("INFO on %s: %v", master.Addr(), err)
	}
	if !strings.Contains(info, "role:master\r\n") || !strings.Contains(info, fmt.Sprintf("port=%d,state=online", replica.Port())) {
		return fmt.Errorf("master %s does not see %s online", master.Addr(), replica.Addr())
	}
	return nil
}

// checkSentinels returns nil if every running sentinel names master as
// the master, with no failover under way, and, with full, also sees an
// in-sync replica and the other sentinels.
func (s *Sentinel) checkSentinels(ctx context.Context, master string, full bool) error {
	n := 0
	for i, sn := range s.sentinels {
		if !sn.Running() {
			continue
		}
		n++
		a := s.admins[i]
		addr, err := a.GetMasterAddrByName(ctx, s.name).Result()
		if err != nil {
			return fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME on %s: %v", sn.Addr(), err)
		}
		if len(addr) != 2 || addr[0]+":"+addr[1] != master {
			return fmt.Errorf("sentinel %s names %v as the master, not %s", sn.Addr(), addr, master)
		}
		m, err := a.Master(ctx, s.name).Result()
		if err != nil {
			return fmt.Errorf("SENTINEL MASTER on %s: %v", sn.Addr(), err)
		}
		if m["flags"] != "master" {
			return fmt.Errorf("sentinel %s: master flags %q", sn.Addr(), m["flags"])
		}
		if !full {
			continue
		}
		if m["num-other-sentinels"] != strconv.Itoa(sentinels-1) {
			return fmt.Errorf("sentinel %s sees %s other sentinels", sn.Addr(), m["num-other-sentinels"])
		}
		reps, err := a.Replicas(ctx, s.name).Result()
		if err != nil {
			return fmt.Errorf("SENTINEL REPLICAS on %s: %v", sn.Addr(), err)
		}
		ok := false
		for _, r := range reps {
			ok = ok || r["flags"] == "slave" && r["master-link-status"] == "ok"
		}
		if !ok {
			return fmt.Errorf("sentinel %s sees no replica in sync: %v", sn.Addr(), reps)
		}
	}
	if n == 0 {
		return errors.New("no sentinel is running")
	}
	return nil
}

// MasterName returns the monitored master's name, for
// redis.FailoverOptions.MasterName.
func (s *Sentinel) MasterName() string { return s.name }

// SentinelAddrs returns the sentinels' host:port, for
// redis.FailoverOptions.SentinelAddrs.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		addrs[i] = sn.Addr()
	}
	return addrs
}

// Sentinels returns the three sentinel processes, to pause or kill.
func (s *Sentinel) Sentinels() []*Server { return append([]*Server(nil), s.sentinels...) }

// Nodes returns the master and the replicas as started, whatever their
// roles now.
func (s *Sentinel) Nodes() []*Server { return append([]*Server(nil), s.nodes...) }

// Master returns the node the first sentinel that answers names as the
// master.
func (s *Sentinel) Master() (*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	err := errors.New("redistest: no sentinel is running")
	for i, sn := range s.sentinels {
		if !sn.Running() {
			continue
		}
		var addr []string
		if addr, err = s.admins[i].GetMasterAddrByName(ctx, s.name).Result(); err != nil {
			continue
		}
		if len(addr) == 2 {
			if n := s.node(addr[0] + ":" + addr[1]); n != nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("redistest: sentinel %s names %v as the master", sn.Addr(), addr)
	}
	return nil, err
}

// node returns the master or a replica at addr, or nil.
func (s *Sentinel) node(addr string) *Server {
	for _, n := range s.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// KillMaster kills the current master (SIGKILL) and returns it, for
// Restart. The sentinels promote a replica after DownAfter and an
// election: see WaitFailover.
func (s *Sentinel) KillMaster() (*Server, error) {
	m, err := s.Master()
	if err != nil {
		return nil, err
	}
	return m, m.Kill()
}

// WaitFailover waits until every running sentinel names the same running
// node as the master, with no failover under way, and that node answers
// ROLE as a master; it returns its address. Right after KillMaster that
// is the promoted replica.
func (s *Sentinel) WaitFailover(ctx context.Context) (string, error) {
	var addr string
	err := s.wait(ctx, func(ctx context.Context) error {
		m, err := s.Master()
		if err != nil {
			return err
		}
		if !m.Running() {
			return fmt.Errorf("the sentinels name %s, which is not running", m.Addr())
		}
		if err := s.checkSentinels(ctx, m.Addr(), false); err != nil {
			return err
		}
		role, err := m.adminClient().Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("ROLE on %s: %v, %v", m.Addr(), role, err)
		}
		addr = m.Addr()
		return nil
	})
	return addr, err
}

// Restart restarts a node that is not the master (a killed old master, or
// a replica) on its port, and makes it the current master's replica at
// once (REPLICAOF), as a deployment that restarts nodes as replicas does:
// left alone, the sentinels would do it only after 10 to 20 seconds of
// seeing it as a master. Restart waits until it is in sync and every
// sentinel sees it so.
func (s *Sentinel) Restart(ctx context.Context, n *Server) error {
	if s.node(n.Addr()) != n {
		return fmt.Errorf("redistest: %s is not the master or a replica", n.Addr())
	}
	m, err := s.Master()
	if err != nil {
		return err
	}
	if m == n {
		return fmt.Errorf("redistest: the sentinels still name %s as the master: wait for the failover first", n.Addr())
	}
	if err := n.Restart(); err != nil {
		return err
	}
	return s.wait(ctx, func(ctx context.Context) error {
		role, err := n.adminClient().Do(ctx, "ROLE").Slice()
		if err != nil {
			return fmt.Errorf("ROLE on %s: %v", n.Addr(), err)
		}
		if len(role) < 3 || role[0] != "slave" || fmt.Sprint(role[2]) != strconv.Itoa(m.Port()) {
			if err := n.adminClient().SlaveOf(ctx, "127.0.0.1", strconv.Itoa(m.Port())).Err(); err != nil {
				return fmt.Errorf("REPLICAOF on %s: %v", n.Addr(), err)
			}
		}
		if err := s.checkReplica(ctx, m, n); err != nil {
			return err
		}
		return s.checkSentinels(ctx, m.Addr(), true)
	})
}

// ClientOptions returns new failover options naming the master and the
// sentinels, go-redis's defaults otherwise.
func (s *Sentinel) ClientOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{MasterName: s.name, SentinelAddrs: s.SentinelAddrs()}
}

// Client returns a new redis.NewFailoverClient of ClientOptions, which
// follows the sentinels to the master; Close closes it if not before.
func (s *Sentinel) Client() *redis.Client {
	rdb := redis.NewFailoverClient(s.ClientOptions())
	s.mu.Lock()
	s.clients = append(s.clients, rdb)
	s.mu.Unlock()
	return rdb
}

// Close closes the clients that Client returned, the sentinels, the
// master and the replicas. It is safe to call more than once.
func (s *Sentinel) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	clients := s.clients
	s.clients = nil
	s.mu.Unlock()
	for _, rdb := range clients {
		rdb.Close()
	}
	for _, a := range s.admins {
		a.Close()
	}
	var wg sync.WaitGroup
	for _, n := range append(s.Sentinels(), s.nodes...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.Close()
		}()
	}
	wg.Wait()
}
