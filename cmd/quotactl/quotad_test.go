package main

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/server"
	"github.com/quota-svc/quota/store"
)

// testNow is the time of the test quotad's clock: every time quotactl
// prints in the golden files derives from it.
var testNow = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// testQuotad is a quotad stack started by startQuotad.
type testQuotad struct {
	// Addr is its gRPC address.
	Addr string
	// Clock is its clock, at testNow to begin with.
	Clock *clock
	// Admin and Quota are clients of it, for a test's setup; they send
	// the admin token when the server has tokens.
	Admin quotav1.AdminServiceClient
	Quota quotav1.QuotaServiceClient
}

// quotadOptions are startQuotad's options.
type quotadOptions struct {
	// Tokens, when not nil, are the bearer tokens it accepts (token to
	// role); nil serves unauthenticated, as quotad on the embedded store.
	Tokens map[string]server.Role
	// TLS, when not nil, serves TLS with it.
	TLS *tls.Config
}

// adminToken is the token of role admin that startQuotad's clients send
// when the server has tokens.
const adminToken = "admin-token-0123456789"

// startQuotad serves quotad's gRPC API on 127.0.0.1 with the stack
// cmd/quotad builds (server, quota, store) on the embedded store, with
// its clock at testNow, and stops it when t ends.
func startQuotad(t *testing.T, o quotadOptions) *testQuotad {
	t.Helper()
	emb, err := store.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	rdb := emb.Client()
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := store.New(rdb, store.Options{CallTimeout: 20 * time.Second}) // the embedded store is slow under -race
	if err := st.Load(ctx); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: testNow}
	svc := quota.NewService(st, quota.Config{Now: clk.Now})
	if err := svc.RefreshPricing(ctx); err != nil {
		t.Fatal(err)
	}
	opts := server.Options{DefaultTimeout: 30 * time.Second}
	if o.Tokens != nil {
		var creds []server.Credential
		for tok, role := range o.Tokens {
			creds = append(creds, server.Credential{Name: string(role), SHA256: server.HashToken(tok), Role: role})
		}
		if opts.Auth, err = server.NewAuthenticator(creds, nil); err != nil {
			t.Fatal(err)
		}
	}
	if o.TLS != nil {
		opts.GRPCOptions = append(opts.GRPCOptions, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	srv := server.New(svc, opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Shutdown(0, 5*time.Second) })

	q := &testQuotad{Addr: lis.Addr().String(), Clock: clk}
	if o.TLS == nil {
		dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
		if o.Tokens != nil {
			dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer(adminToken)))
		}
		conn, err := grpc.NewClient(q.Addr, dialOpts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		q.Admin, q.Quota = quotav1.NewAdminServiceClient(conn), quotav1.NewQuotaServiceClient(conn)
	}
	return q
}
