//go:build linux

package main

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quota-svc/quota/store/redistest"
)

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFloodUnderALowFileLimit is the scenario: quotad under
// `ulimit -n 1024` (hard and soft), on a real Redis, and 1,100 idle TCP
// connections against it. quotad caps its connections below the limit,
// so it keeps its Redis connections (health stays SERVING, which takes a
// PING) and never runs out of descriptors; connections that never finish
// their handshake are closed after -handshake-timeout, and a new client
// then gets in.
func TestFloodUnderALowFileLimit(t *testing.T) {
	const flood = 1100
	srv := redistest.StartTestServer(t)
	addr := freeAddr(t)
	cmd := quotadCommand(t, "-listen", addr, "-metrics-listen", "", "-redis-url", "redis://"+srv.Addr()+"/0",
		"-allow-unauthenticated", "-handshake-timeout", "2s", "-shutdown-grace", "0s", "-log-format", "text")
	cmd.Args = append([]string{"sh", "-c", `ulimit -Sn 1024 && ulimit -Hn 1024 && exec "$0" "$@"`}, cmd.Args...)
	var err error
	if cmd.Path, err = exec.LookPath("sh"); err != nil {
		t.Fatal(err)
	}
	logs := startProcess(t, cmd).logs
	if !strings.Contains(logs.String(), "max_connections=768") {
		t.Errorf("want a cap of 1024 - 256 = 768 connections; log:\n%s", logs.String())
	}

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health with %d idle connections: %v, %v; want SERVING", flood, resp.GetStatus(), err)
	}
	t.Logf("with %d idle connections against a 1024-descriptor quotad, a new client got SERVING after %v",
		flood, time.Since(start).Round(time.Millisecond))
	if strings.Contains(logs.String(), "too many open files") {
		t.Errorf("quotad ran out of descriptors")
	}
	if !strings.Contains(logs.String(), "gRPC connection refused") {
		t.Errorf("quotad did not log the connections it refused")
	}
}
