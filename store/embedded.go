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
//
// The connection's writes never wait for the server to read: a pipeline
// of many commands (a usage report sends two per day of its range) is
// written while the server answers the first ones. On a bare in-memory
// pipe, which has no buffer, the client would block writing the rest
// while the server blocks writing its first answer, which the client
// reads only after: neither would ever go on.
func (e *Embedded) Dial() (net.Conn, error) {
	c, err := e.m.Dial()
	if err != nil {
		return nil, err
	}
	return newPumpConn(c), nil
}

// pumpConn is a connection whose Write queues the bytes for a goroutine
// that writes them on, in order, as the other end reads them.
type pumpConn struct {
	net.Conn
	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	closed bool
	err    error // the error the pump met, returned by later writes
}

func newPumpConn(c net.Conn) *pumpConn {
	p := &pumpConn{Conn: c}
	p.cond = sync.NewCond(&p.mu)
	go p.pump()
	return p
}

// Write queues a copy of b; it fails once the connection is closed or
// the pump failed.
func (p *pumpConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return 0, net.ErrClosed
	case p.err != nil:
		return 0, p.err
	}
	p.queue = append(p.queue, append([]byte(nil), b...))
	p.cond.Signal()
	return len(b), nil
}

// pump writes the queued bytes until the connection is closed.
func (p *pumpConn) pump() {
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		b := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if _, err := p.Conn.Write(b); err != nil {
			p.mu.Lock()
			p.err, p.queue = err, nil
			p.mu.Unlock()
			return
		}
	}
}

// Close closes the connection and stops the pump.
func (p *pumpConn) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	return p.Conn.Close()
}

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
