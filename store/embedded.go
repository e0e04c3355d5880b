package store

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis-protocol server (miniredis) listening on
// a loopback port. It is NOT durable: every key lives in this process's
// memory and is lost when it stops. It exists for development and tests;
// the very same store code and Lua scripts run against it as against Redis.
type Embedded struct {
	m *miniredis.Miniredis
}

// StartEmbedded starts an Embedded server on 127.0.0.1 at a free port.
// Its key TTLs run with the wall clock, as on Redis (nothing in the store
// relies on key expiry for correctness; expiry only frees memory).
// Close it when done.
func StartEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("store: start the embedded server: %w", err)
	}
	return &Embedded{m: m}, nil
}

// Addr returns the server's host:port, for redis.Options.Addr.
func (e *Embedded) Addr() string { return e.m.Addr() }

// Close stops the server and drops all its data. It is safe to call more
// than once.
func (e *Embedded) Close() { e.m.Close() }
