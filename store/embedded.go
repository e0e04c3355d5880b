package store

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// ttlTick is how often the embedded server ages key TTLs.
const ttlTick = 10 * time.Second

// Embedded is an in-process Redis-protocol server (miniredis) listening on
// a loopback port. It is NOT durable: every key lives in this process's
// memory and is lost when it stops. It exists for development and tests;
// the very same store code and Lua scripts run against it as against Redis.
type Embedded struct {
	m    *miniredis.Miniredis
	stop chan struct{}
	once sync.Once
	done sync.WaitGroup
}

// StartEmbedded starts an Embedded server on 127.0.0.1 at a free port.
// Close it when done.
//
// Key TTLs age with the wall clock every ttlTick, so that idempotency
// records expire as on Redis (nothing in the store relies on key expiry
// for correctness; expiry only frees memory). miniredis's own ClockTTL
// would check every key on every command, which grows with the keyspace.
func StartEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("store: start the embedded server: %w", err)
	}
	e := &Embedded{m: m, stop: make(chan struct{})}
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

// Addr returns the server's host:port, for redis.Options.Addr.
func (e *Embedded) Addr() string { return e.m.Addr() }

// Close stops the server and drops all its data. It is safe to call more
// than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.stop)
		e.done.Wait()
		e.m.Close()
	})
}
