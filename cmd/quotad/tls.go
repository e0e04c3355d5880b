package main

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"

	"github.com/quota-svc/quota/internal/tlsfiles"
)

// serverTLS serves the gRPC listener's TLS from certificate files that
// may change: load reads them, and every handshake uses what was last
// loaded, so that a renewed certificate (or client CA) is used without a
// restart.
type serverTLS struct {
	certFile, keyFile, clientCAFile string
	current                         atomic.Pointer[tls.Config]
}

// newServerTLS loads the files once; an error names the file.
func newServerTLS(certFile, keyFile, clientCAFile string) (*serverTLS, error) {
	s := &serverTLS{certFile: certFile, keyFile: keyFile, clientCAFile: clientCAFile}
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

// redisTLS returns the TLS configuration to Redis, or nil when cfg asks
// for none; base is the one a rediss:// URL brought, if any.
func redisTLS(cfg Config, base *tls.Config) (*tls.Config, error) {
	if !cfg.RedisTLS && cfg.RedisTLSCA == "" && cfg.RedisTLSCert == "" && base == nil {
		return nil, nil
	}
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
