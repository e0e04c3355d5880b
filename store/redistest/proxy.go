package redistest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// maxProxyConns bounds a Proxy's connections, and so its goroutines
	// (two per connection): more are closed at once, as refused.
	maxProxyConns = 256
	// proxyBuf is the most one read forwards at once.
	proxyBuf = 32 << 10
	// proxyDialTimeout bounds the dial to the target.
	proxyDialTimeout = 2 * time.Second
	// proxyCloseTimeout bounds Close's wait for the goroutines.
	proxyCloseTimeout = 5 * time.Second
)

// Proxy is a byte-level TCP proxy on 127.0.0.1 in front of one loopback
// target, for fault injection in tests: RESP to redis-server and HTTP/2 to
// a gRPC server alike. Each accepted connection gets its own connection
// to the target and two goroutines, one forwarding requests (client to
// target) and one replies (target to client). The faults apply to
// connections open and to come, until turned off or Heal.
type Proxy struct {
	target string
	ln     net.Listener
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
	once   sync.Once

	mu          sync.Mutex
	conns       map[*proxyConn]struct{}
	paused      bool          // hold both ways
	repliesHeld bool          // hold target-to-client bytes
	resume      chan struct{} // closed and replaced by Resume and Heal
	refuse      bool
	latency     time.Duration
	dropReplies int
	closed      bool
	accepted    atomic.Int64
	refused     atomic.Int64
	bytesUp     atomic.Int64
	bytesDown   atomic.Int64
	dropped     atomic.Int64
	cut         atomic.Int64
}

// ProxyStats counts what a Proxy did since it started.
type ProxyStats struct {
	// Accepted is how many connections were accepted and forwarded.
	Accepted int64
	// Refused is how many were closed at once: by Refuse, past the limit
	// of 256 at a time, or because the target refused them.
	Refused int64
	// Active is how many are open now.
	Active int
	// Cut is how many were closed by CutAll or DropReplies.
	Cut int64
	// BytesUp and BytesDown are the bytes forwarded to the target and back
	// to clients.
	BytesUp, BytesDown int64
	// DroppedReplies is how many reads of reply bytes DropReplies dropped.
	DroppedReplies int64
}

// proxyConn is a client connection and its connection to the target.
type proxyConn struct {
	client, server net.Conn
	done           chan struct{} // closed by close
	once           sync.Once
}

// close closes both connections; the goroutines of the pair then end.
func (c *proxyConn) close() {
	c.once.Do(func() {
		c.client.Close()
		c.server.Close()
		close(c.done)
	})
}

// NewProxy starts a proxy to target, which must be a loopback address
// (127.0.0.0/8, ::1 or localhost), on a free 127.0.0.1 port; it is closed
// when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatalf("redistest: proxy target %q: %v", target, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("redistest: proxy target %q is not a loopback address", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{
		target: target,
		ln:     ln,
		done:   make(chan struct{}),
		conns:  make(map[*proxyConn]struct{}),
		resume: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's host:port, for clients to dial instead of the
// target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// accept accepts connections until Close.
func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond): // a passing error: go on
				continue
			}
		}
		p.mu.Lock()
		ok := !p.refuse && !p.closed && len(p.conns) < maxProxyConns
		if ok {
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if !ok {
			c.Close()
			p.refused.Add(1)
			continue
		}
		go p.serve(c)
	}
}

// serve dials the target for client and starts the pair's forwarding.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		client.Close()
		p.refused.Add(1)
		return
	}
	c := &proxyConn{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	p.accepted.Add(1)
	go p.forward(c, true)
	go p.forward(c, false)
}

// forward copies one way, client to target if up, until either side
// closes, applying the faults to each read.
func (p *Proxy) forward(c *proxyConn, up bool) {
	defer p.wg.Done()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	src, dst, count := c.client, c.server, &p.bytesUp
	if !up {
		src, dst, count = c.server, c.client, &p.bytesDown
	}
	buf := make([]byte, proxyBuf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			latency, drop, ok := p.gate(c, up)
			if !ok {
				return
			}
			if drop {
				p.dropped.Add(1)
				p.cut.Add(1)
				return
			}
			if latency > 0 {
				select {
				case <-time.After(latency):
				case <-c.done:
					return
				case <-p.done:
					return
				}
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
			count.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}

// gate waits while the direction is held, then says how long to delay
// the bytes read and whether to drop them (and cut the connection). It
// returns ok false if the connection or the proxy closed meanwhile.
func (p *Proxy) gate(c *proxyConn, up bool) (latency time.Duration, drop, ok bool) {
	for {
		p.mu.Lock()
		held := p.paused || (!up && p.repliesHeld)
		if !held {
			latency = p.latency
			if !up && p.dropReplies > 0 {
				p.dropReplies--
				drop = true
			}
			p.mu.Unlock()
			return latency, drop, true
		}
		resume := p.resume
		p.mu.Unlock()
		select {
		case <-resume:
		case <-c.done:
			return 0, false, false
		case <-p.done:
			return 0, false, false
		}
	}
}

// DropReplies makes the proxy drop the next n reads of reply bytes
// (target to client) and cut each one's connection at once: the target
// got and applied the request, the client sees the connection close
// without an answer. A read is one reply of a request/response protocol
// such as RESP without pipelining. Open the client's connection first (a
// PING): its setup (go-redis sends HELLO and CLIENT SETINFO) has replies
// too. For HTTP/2 (gRPC), whose server also sends frames of its own, use
// PauseReplies then CutAll instead.
func (p *Proxy) DropReplies(n int) {
	p.mu.Lock()
	p.dropReplies = n
	p.mu.Unlock()
}

// Pause holds the bytes of every connection, both ways, until Resume or
// Heal: requests do not reach the target, replies do not come back.
// Bytes held when a client gives up are still delivered on Resume, as a
// slow network would: a request that timed out may yet be applied.
func (p *Proxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// PauseReplies holds only replies (target to client), until Resume or
// Heal: requests reach the target, which applies them, and their answers
// wait. CutAll then loses them.
func (p *Proxy) PauseReplies() {
	p.mu.Lock()
	p.repliesHeld = true
	p.mu.Unlock()
}

// Resume ends Pause and PauseReplies: the held bytes go on, in order.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.paused, p.repliesHeld = false, false
	p.wakeLocked()
	p.mu.Unlock()
}

func (p *Proxy) wakeLocked() {
	close(p.resume)
	p.resume = make(chan struct{})
}

// CutAll closes every open connection, both sides, losing the bytes held
// in them; new connections are still accepted.
func (p *Proxy) CutAll() {
	p.cut.Add(int64(p.closeAll()))
}

// closeAll closes every open connection and returns how many.
func (p *Proxy) closeAll() int {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
		delete(p.conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// Refuse makes the proxy close new connections as soon as it accepts
// them, until Heal; open ones go on.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	p.refuse = true
	p.mu.Unlock()
}

// Latency delays each read forwarded, each way, by d (so a round trip by
// 2d), until Latency(0) or Heal.
func (p *Proxy) Latency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// Heal turns every fault off: Resume, no Refuse, no Latency, no
// DropReplies. It does not reopen cut connections.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.paused, p.repliesHeld, p.refuse = false, false, false
	p.latency, p.dropReplies = 0, 0
	p.wakeLocked()
	p.mu.Unlock()
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	active := len(p.conns)
	p.mu.Unlock()
	return ProxyStats{
		Accepted:       p.accepted.Load(),
		Refused:        p.refused.Load(),
		Active:         active,
		Cut:            p.cut.Load(),
		BytesUp:        p.bytesUp.Load(),
		BytesDown:      p.bytesDown.Load(),
		DroppedReplies: p.dropped.Load(),
	}
}

// Close stops accepting, closes every connection and waits (at most 5s)
// for the proxy's goroutines. It is safe to call more than once.
func (p *Proxy) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.done)
		p.ln.Close()
		p.closeAll()
		waited := make(chan struct{})
		go func() {
			p.wg.Wait()
			close(waited)
		}()
		select {
		case <-waited:
		case <-time.After(proxyCloseTimeout):
		}
	})
}
