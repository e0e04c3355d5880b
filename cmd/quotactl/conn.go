package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quota-svc/quota/internal/tlsfiles"
)

// tlsFlags are the flags of TLS to quotad (its -tls-cert, -tls-key and,
// for mutual TLS, -tls-client-ca).
type tlsFlags struct {
	enabled            bool
	caFile             string
	certFile, keyFile  string
	serverName         string
	insecureSkipVerify bool
}

// register adds the TLS flags to f.
func (t *tlsFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&t.enabled, "tls", false, "connect over TLS, checking quotad's certificate against the system CAs (implied by the other TLS flags)")
	f.StringVar(&t.caFile, "ca-file", "", "PEM file of the CAs of quotad's certificate, instead of the system CAs")
	f.StringVar(&t.certFile, "cert", "", "PEM client certificate, for a quotad that requires one (-tls-client-ca)")
	f.StringVar(&t.keyFile, "key", "", "PEM key of --cert")
	f.StringVar(&t.serverName, "server-name", "", "name expected in quotad's certificate (default: the host of --addr)")
	f.BoolVar(&t.insecureSkipVerify, "insecure-skip-verify", false, "TLS without checking quotad's certificate (testing only)")
}

// on reports whether TLS is asked for.
func (t *tlsFlags) on() bool {
	return t.enabled || t.caFile != "" || t.certFile != "" || t.keyFile != "" || t.serverName != "" || t.insecureSkipVerify
}

// config returns the client TLS configuration the flags ask for.
func (t *tlsFlags) config() (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.serverName,
		InsecureSkipVerify: t.insecureSkipVerify, //nolint:gosec // asked for with --insecure-skip-verify
	}
	if t.caFile != "" {
		pool, err := tlsfiles.LoadCAs("--ca-file", t.caFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if (t.certFile == "") != (t.keyFile == "") {
		return nil, fmt.Errorf("--cert and --key go together")
	}
	if t.certFile != "" {
		cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// dial returns a client connection to quotad as the global flags and the
// environment say. It does not connect: the first call does.
func (a *app) dial() (*grpc.ClientConn, error) {
	addr := a.addr
	if !a.flagChanged("addr") && a.getenv(envAddr) != "" {
		addr = a.getenv(envAddr)
	}
	token := a.token
	if !a.flagChanged("token") {
		token = a.getenv(envToken)
	}
	creds := insecure.NewCredentials()
	if a.tls.on() {
		cfg, err := a.tls.config()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	return conn, nil
}

// flagChanged reports whether the global flag name was given.
func (a *app) flagChanged(name string) bool { return a.globals.Changed(name) }

// bearer sends a bearer token with every call, as quotad expects it.
type bearer string

// GetRequestMetadata returns the authorization metadata.
func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false: quotad may be reached in plaintext
// (on localhost, or behind a proxy that terminates TLS), as it allows.
func (bearer) RequireTransportSecurity() bool { return false }

// lazyConn is a grpc.ClientConnInterface that dials on its first call, so
// that commands that call nothing (help, completion) never dial, and a
// dial error (a bad address or TLS file) is a usage error of the call.
type lazyConn struct {
	dial func() (*grpc.ClientConn, error)

	once sync.Once
	conn *grpc.ClientConn
	err  error
}

// get dials once.
func (l *lazyConn) get() (*grpc.ClientConn, error) {
	l.once.Do(func() {
		l.conn, l.err = l.dial()
		if l.err != nil {
			l.err = usageError{l.err}
		}
	})
	return l.conn, l.err
}

// Invoke performs a unary RPC.
func (l *lazyConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	conn, err := l.get()
	if err != nil {
		return err
	}
	return conn.Invoke(ctx, method, args, reply, opts...)
}

// NewStream begins a streaming RPC.
func (l *lazyConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	conn, err := l.get()
	if err != nil {
		return nil, err
	}
	return conn.NewStream(ctx, desc, method, opts...)
}

// close closes the connection if it was dialed.
func (l *lazyConn) close() {
	if l.conn != nil {
		l.conn.Close()
	}
}

// newRequestID returns the request id of a mutation: --request-id, or a
// new random one; it prints it on stderr either way, so that a retry can
// reuse it.
func (a *app) newRequestID() string {
	id := a.requestID
	if id == "" {
		b := make([]byte, 12)
		rand.Read(b) // never fails (crypto/rand)
		id = "qctl-" + hex.EncodeToString(b)
	}
	fmt.Fprintln(a.stderr, "request id:", id)
	return id
}
