package main

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// noFDLimit is the connection cap where the file-descriptor limit is
// unknown or very high.
const noFDLimit = 1 << 20

// connectionCap returns the cap on open gRPC connections: max when set,
// else the file-descriptor limit fdLimit less reserve (the descriptors
// kept for Redis, the metrics listener and files). It fails when fewer
// than 16 descriptors would be left to clients.
func connectionCap(max int, fdLimit uint64, reserve int) (int, error) {
	avail := noFDLimit
	if fdLimit > 0 && fdLimit < noFDLimit {
		avail = int(fdLimit) - reserve
	}
	if max > 0 {
		if max > avail {
			return 0, fmt.Errorf("-max-connections %d exceeds the file-descriptor limit %d less -fd-reserve %d", max, fdLimit, reserve)
		}
		return max, nil
	}
	if avail < 16 {
		return 0, fmt.Errorf("the file-descriptor limit %d less -fd-reserve %d leaves %d connections: raise the limit (ulimit -n) or lower -fd-reserve", fdLimit, reserve, avail)
	}
	return avail, nil
}

// capListener accepts at most max connections at a time: one more is
// closed as soon as it is accepted, so that a flood of connections cannot
// take the descriptors that Redis needs, nor stop the accept loop.
type capListener struct {
	net.Listener
	max      int64
	open     atomic.Int64
	rejected func() // counts a closed connection; may be nil
	onReject func() // logs, at most every rejectLogEvery
}

// rejectLogEvery bounds how often a refused connection is logged.
const rejectLogEvery = 10 * time.Second

// newCapListener caps l at max connections.
func newCapListener(l net.Listener, max int, rejected func(), logReject func(open int64)) *capListener {
	c := &capListener{Listener: l, max: int64(max), rejected: rejected}
	var mu sync.Mutex
	var last time.Time
	c.onReject = func() {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) >= rejectLogEvery {
			last = time.Now()
			logReject(c.open.Load())
		}
	}
	return c
}

// Accept returns the next connection under the cap.
func (c *capListener) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c.open.Add(1) > c.max {
			c.open.Add(-1)
			conn.Close()
			if c.rejected != nil {
				c.rejected()
			}
			c.onReject()
			continue
		}
		return &cappedConn{Conn: conn, l: c}, nil
	}
}

// Open returns how many accepted connections are open.
func (c *capListener) Open() int64 { return c.open.Load() }

// cappedConn gives its place back when closed.
type cappedConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

// Close closes the connection and frees its place.
func (c *cappedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}
