package store

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// ttlTick is how often the embedded server ages key TTLs.
const ttlTick = 10 * time.Second

// Embedded is an in-process Redis-protocol server (miniredis). It listens
// on no port: clients reach it through in-memory pipes (Dial, Options),
// so nothing outside the process can. It is NOT durable: every key lives
// in this process's memory and is lost when it stops. It exists for
// development and tests; the very same store code and Lua runs against it
// as against Redis (as scripts: see lua.go).
type Embedded struct {
	m    *miniredis.Miniredis
	stop chan struct{}
	once sync.Once
	done sync.WaitGroup
}

// StartEmbedded starts an Embedded server. Close it when done.
//
// Key TTLs age with the wall clock every ttlTick, so that idempotency
// records expire as on Redis (nothing in the store relies on key expiry
// for correctness; expiry only frees memory). miniredis's own ClockTTL
// would check every key on every command, which grows with the keyspace.
func StartEmbedded() (*Embedded, error) {
	e := &Embedded{m: miniredis.NewMiniRedis(), stop: make(chan struct{})}
	e.done.Add(1)
	go e.ageTTLs()
	return e, nil
}

// ageTTLs moves the server's TTL clock forward with the wall clock.
func (e *Embedded) ageTTLs() {
	defer e.done.Done()
	t := time.NewTicker(ttlTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Dial opens an in-memory connection to the server.
func (e *Embedded) Dial() (net.Conn, error) { return e.m.Dial() }

// Options are go-redis client options that reach the server through Dial;
// set pool sizes and timeouts on them as for any Redis.
func (e *Embedded) Options() *redis.Options {
	return &redis.Options{
		Addr:   "embedded",
		Dialer: func(context.Context, string, string) (net.Conn, error) { return e.Dial() },
	}
}

// Client returns a new client of the server; close it when done.
func (e *Embedded) Client() *redis.Client { return redis.NewClient(e.Options()) }

// Close stops the server and drops all its data. It is safe to call more
// than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.stop)
		e.done.Wait()
		e.m.Close()
	})
}
