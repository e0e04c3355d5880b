package main

import (
	"context"
	"testing"
	"time"

	"github.com/quota-svc/quota/store/redistest"
)

// redisDown is how long Redis stays dead before its restart: longer than
// the store timeout (2 s), so that calls fail UNAVAILABLE and the clients
// retry them, besides go-redis's own retries of the commands in flight.
const redisDown = 2500 * time.Millisecond

// everysecWindow is what appendfsync everysec may lose: the writes of the
// last 2 s (Redis postpones a write while an fsync is slow, 2 s at most).
const everysecWindow = 2 * time.Second

// TestRedisKilledRestartsFromAOF kills Redis (SIGKILL) under a load of
// Reserve→Commit cycles and restarts it from its AOF, quotad running on.
// With appendfsync always, every acknowledged write was on disk before
// its answer: none may be lost. With everysec, Redis may answer before
// the write reaches the kernel (when an fsync is slow it postpones the
// write, up to 2 s): a write acknowledged in the 2 s before the kill may
// be lost, no older one. Either way the books must be exact for what
// survived. (SIGKILL loses nothing the kernel has; an OS crash or a power
// cut, which lose what is not yet fsynced, up to about 1 s of writes,
// cannot be made here.)
func TestRedisKilledRestartsFromAOF(t *testing.T) {
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			srv, err := redistest.StartServerWith(redistest.ServerOptions{AppendOnly: true, AppendFsync: fsync})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			q := startQuotad(t, "embedded", onRedis(func(c *Config) { c.RedisURL = "redis://" + srv.Addr() + "/0" }))
			c := q.client()
			accts := []account{{"aof-1", "ann"}, {"aof-1", "bob"}, {"aof-2", "cid"}, {"aof-2", "dee"}}
			var replayed time.Duration
			l, f := underLoad(t, c, accts, func(account) bool { return true }, srv.Kill, func(context.Context) error {
				time.Sleep(redisDown)
				start := time.Now()
				err := srv.Restart()
				replayed = time.Since(start)
				return err
			})
			t.Logf("appendfsync %s: Redis SIGKILLed under load and restarted %v later, answering %v after (its AOF replayed); %d Commits acknowledged in the second before the kill",
				fsync, redisDown, replayed.Round(time.Millisecond), f.lastSecond)
			lost := settleAndCheck(t, l, accts, srv.Client(), f.at)
			if fsync == "always" {
				noneLost(t, lost, f.at)
			} else {
				lostWithin(t, lost, f, everysecWindow)
			}
		})
	}
}
