package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quota-svc/quota/store/redistest"
)

// lossEnv turns on TestSentinelFailoverLossWithoutMinReplicas, which is
// not run by default (about 20 s a setting):
//
//	QUOTA_FAILOVER_LOSS=1 go test -run TestSentinelFailoverLoss -v ./cmd/quotad/
const lossEnv = "QUOTA_FAILOVER_LOSS"

// partition is how long the replica is cut off from the master before
// the master dies.
const partition = 3 * time.Second

// TestSentinelFailoverLossWithoutMinReplicas shows why the README asks
// for min-replicas-to-write: the replica replicates through a proxy that
// is then paused (a network partition between master and replica, the
// sentinels and quotad still reaching both), the load goes on for
// partition, the master is killed and the stale replica promoted. It
// counts the acknowledged Commits and Reserves lost, with Redis's default
// settings and with min-replicas-to-write 1 and a min-replicas-max-lag of
// 10 (the README's) and 1, and with quotad's -redis-wait-replicas 1,
// which must lose nothing acknowledged. In every case the books are exact for what
// survived: a failover loses whole writes, never part of one.
func TestSentinelFailoverLossWithoutMinReplicas(t *testing.T) {
	if os.Getenv(lossEnv) != "1" {
		t.Skipf("set %s=1 to run it (documented in RELIABILITY.md; about 20 s a setting)", lossEnv)
	}
	for _, tc := range []struct {
		name          string
		toWrite, lag  int
		lossUnbounded bool
		waitReplicas  int // quotad's -redis-wait-replicas: nothing acknowledged may be lost
	}{
		{"default", 0, 0, true, 0},
		{"min-replicas-max-lag-10", 1, 10, true, 0}, // a partition shorter than the lag is not noticed
		{"min-replicas-max-lag-1", 1, 1, false, 0},
		{"wait-replicas-1", 1, 10, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, during, touched := partitionedFailover(t, redistest.SentinelOptions{
				MinReplicasToWrite: tc.toWrite, MinReplicasMaxLag: tc.lag,
				// The sentinels would point the replica back at the master
				// after failover-timeout; the proxy must stay.
				FailoverTimeout: time.Minute,
			}, tc.waitReplicas)
			t.Logf("%s: %d cycles lost an acknowledged write (Commit, or Reserve); %d Commits were acknowledged during the %v partition",
				tc.name, lost, during, partition)
			if tc.waitReplicas > 0 && lost > 0 {
				t.Errorf("%d cycles lost an acknowledged write with -redis-wait-replicas %d, want none", lost, tc.waitReplicas)
			}
			if !tc.lossUnbounded && lost > touched {
				t.Errorf("%d cycles lost a write, more than the %d with a write acknowledged during the partition", lost, touched)
			}
		})
	}
}

// partitionedFailover runs the scenario of
// TestSentinelFailoverLossWithoutMinReplicas with opts and returns how
// many cycles lost an acknowledged write (their Commit, or their Reserve,
// which their Commit then did not find), how many Commits were
// acknowledged during the partition, and how many cycles had a write
// acknowledged then.
func partitionedFailover(t *testing.T, opts redistest.SentinelOptions, waitReplicas int) (lost, during, touched int) {
	t.Helper()
	s, err := redistest.StartSentinel(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	master, replica := s.Nodes()[0], s.Nodes()[1]
	p := redistest.NewProxy(t, master.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, port, _ := strings.Cut(p.Addr(), ":")
	if err := replica.Client().SlaveOf(ctx, "127.0.0.1", port).Err(); err != nil {
		t.Fatal(err)
	}
	for {
		info, err := replica.Client().Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_port:"+port+"\r\n") && strings.Contains(info, "master_link_status:up\r\n") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the replica did not sync through the proxy: %v\n%s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}

	q := startQuotad(t, "embedded", onRedis(func(c *Config) {
		c.SentinelMaster, c.SentinelAddrs = s.MasterName(), s.SentinelAddrs()
		c.RedisWaitReplicas = waitReplicas
	}))
	c := q.client()
	accts := []account{{"loss-1", "ann"}, {"loss-1", "bob"}, {"loss-2", "cid"}, {"loss-2", "dee"}}
	var cut, killed time.Time
	l, f := underLoad(t, c, accts, func(account) bool { return true }, func() error {
		cut = time.Now()
		p.Pause()
		time.Sleep(partition)
		killed = time.Now()
		return master.Kill()
	}, func(ctx context.Context) error {
		if _, err := s.WaitFailover(ctx); err != nil {
			return err
		}
		if opts.MinReplicasToWrite == 0 {
			return nil
		}
		// The promoted replica has no replica of its own: it takes writes
		// once the old master is back as one.
		return s.Restart(ctx, master)
	})
	t.Logf("the replica cut off for %v, then the master killed: the clients were served again %v after the kill", partition, (f.served - partition).Round(time.Millisecond))
	refused := 0
	var firstRefusal time.Time
	for _, e := range l.events {
		if e.err != nil && e.end.After(cut) && e.end.Before(killed) {
			refused++
			if firstRefusal.IsZero() || e.end.Before(firstRefusal) {
				firstRefusal = e.end
			}
		}
	}
	if refused > 0 {
		t.Logf("calls failed during the partition from %v after the cut (NOREPLICAS with min-replicas-to-write, answered UNAVAILABLE)",
			firstRefusal.Sub(cut).Round(time.Millisecond))
	}
	_, during = l.acked(cut, killed)
	touched = l.touched(cut, killed)
	l.settle(t, faultWait)
	losses := l.losses(t)
	l.check(t, accts, s.Client(), losses)
	lost = len(losses)
	t.Logf("%s", describe(losses, killed))
	t.Logf("%d calls refused during the partition", refused)
	return lost, during, touched
}
