package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/quota-svc/quota/internal/tlsfiles"
)

// serverTLS serves the gRPC listener's TLS from certificate files that
// may change: load reads them, and every handshake uses what was last
// loaded, so that a renewed certificate (or client CA) is used without a
// restart.
type serverTLS struct {
	certFile, keyFile, clientCAFile string
	current                         atomic.Pointer[tls.Config]
	// since is the files' fingerprint taken before they were first
	// loaded (watchFiles).
	since [sha256.Size]byte
}

// newServerTLS loads the files once; an error names the file.
func newServerTLS(certFile, keyFile, clientCAFile string) (*serverTLS, error) {
	s := &serverTLS{certFile: certFile, keyFile: keyFile, clientCAFile: clientCAFile}
	s.since = fingerprint(s.files())
	return s, s.load()
}

// load reads the files and, if they are good, puts them in force.
func (s *serverTLS) load() error {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2"}, // gRPC needs ALPN h2
	}
	if s.clientCAFile != "" {
		pool, err := tlsfiles.LoadCAs("-tls-client-ca", s.clientCAFile)
		if err != nil {
			return err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	s.current.Store(cfg)
	return nil
}

// files are the files load reads.
func (s *serverTLS) files() []string {
	f := []string{s.certFile, s.keyFile}
	if s.clientCAFile != "" {
		f = append(f, s.clientCAFile)
	}
	return f
}

// config is the tls.Config of the listener: each handshake takes the
// configuration last loaded.
func (s *serverTLS) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current.Load(), nil
		},
	}
}

// redisTLSFiles is quotad's TLS to Redis, from files that may change
// (-redis-tls-ca, -redis-tls-cert, -redis-tls-key): load reads them, and
// every new connection is made with what was last loaded (dialer), so
// that a renewed client certificate or Redis's certificate from a new CA
// is used without a restart. Open connections keep the session they made.
type redisTLSFiles struct {
	cfg     Config
	base    *tls.Config
	current atomic.Pointer[tls.Config]
	// since is the files' fingerprint taken before they were first
	// loaded (watchFiles).
	since [sha256.Size]byte
}

// newRedisTLS returns quotad's TLS to Redis, or nil when cfg asks for
// none; base is the one a rediss:// URL brought, if any. It loads the
// files once; an error names the setting.
func newRedisTLS(cfg Config, base *tls.Config) (*redisTLSFiles, error) {
	if !cfg.RedisTLS && cfg.RedisTLSCA == "" && cfg.RedisTLSCert == "" && base == nil {
		return nil, nil
	}
	r := &redisTLSFiles{cfg: cfg, base: base}
	r.since = fingerprint(r.files())
	return r, r.load()
}

// load reads the files and, if they are good, puts them in force for the
// connections made from then on.
func (r *redisTLSFiles) load() error {
	t, err := redisTLS(r.cfg, r.base)
	if err != nil {
		return err
	}
	r.current.Store(t)
	return nil
}

// files are the files load reads (none: nothing to reload).
func (r *redisTLSFiles) files() []string {
	var f []string
	if r.cfg.RedisTLSCA != "" {
		f = append(f, r.cfg.RedisTLSCA)
	}
	if r.cfg.RedisTLSCert != "" {
		f = append(f, r.cfg.RedisTLSCert, r.cfg.RedisTLSKey)
	}
	return f
}

// config is the configuration last loaded (nil without TLS). go-redis is
// given it as its TLSConfig, which it only checks is set (to know the
// connections are TLS), and dialer, which makes every connection with
// the configuration in force: go-redis's own dialer would keep using the
// first one.
func (r *redisTLSFiles) config() *tls.Config {
	if r == nil {
		return nil
	}
	return r.current.Load()
}

// dialer dials Redis over TLS with the configuration last loaded, within
// timeout (-redis-dial-timeout), with the TCP keep-alives of go-redis's
// own dialer (probes after 30 s idle, 3 probes 5 s apart). Without TLS it
// is nil: go-redis's own.
func (r *redisTLSFiles) dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if r == nil {
		return nil
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &tls.Dialer{
			NetDialer: &net.Dialer{Timeout: timeout, KeepAliveConfig: net.KeepAliveConfig{
				Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3,
			}},
			Config: r.current.Load(),
		}
		return d.DialContext(ctx, network, addr)
	}
}

// redisTLS builds the TLS configuration to Redis from cfg's files; base
// is the one a rediss:// URL brought, if any.
func redisTLS(cfg Config, base *tls.Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		t = base.Clone()
		if t.MinVersion < tls.VersionTLS12 {
			t.MinVersion = tls.VersionTLS12
		}
	}
	if cfg.RedisTLSCA != "" {
		pool, err := tlsfiles.LoadCAs("-redis-tls-ca", cfg.RedisTLSCA)
		if err != nil {
			return nil, err
		}
		t.RootCAs = pool
	}
	if cfg.RedisTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.RedisTLSCert, cfg.RedisTLSKey)
		if err != nil {
			return nil, fmt.Errorf("-redis-tls-cert/-redis-tls-key: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	if cfg.RedisTLSServerName != "" {
		t.ServerName = cfg.RedisTLSServerName
	}
	return t, nil
}
