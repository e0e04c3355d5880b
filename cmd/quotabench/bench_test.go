package main

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/server"
	"github.com/quota-svc/quota/store"
)

// startQuotad serves the quota API on rdb at a 127.0.0.1 port, as quotad
// does (its run function is in package main of cmd/quotad, so it is
// rebuilt here from the same parts, without the sweeper), and returns the
// address. It stops when t ends.
func startQuotad(t *testing.T, rdb redis.UniversalClient, opts ...grpc.ServerOption) string {
	t.Helper()
	svc := quota.NewService(store.New(rdb), quota.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.RefreshPricing(ctx); err != nil {
		t.Fatalf("load the price table: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(svc, server.Options{GRPCOptions: opts})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Shutdown(0, 5*time.Second)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// embedded returns a client on a fresh embedded store, closed when t ends.
func embedded(t *testing.T) redis.UniversalClient {
	t.Helper()
	e, err := store.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	rdb := e.Client()
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testConfig is a small load of count ops on 4 workers over 2 workspaces
// of 5 members, bounded by a generous duration that it never reaches.
func testConfig(addr, workload string, count int64) Config {
	cfg := defaultConfig()
	cfg.Addr = addr
	cfg.Workload = workload
	cfg.Count = count
	cfg.Duration = 2 * time.Minute
	cfg.Workers = 4
	cfg.Workspaces = 2
	cfg.Members = 5
	cfg.Seed = 1
	cfg.Samples = 20
	cfg.Timeout = 30 * time.Second // the race detector slows the embedded store
	return cfg
}

// runBench runs quotabench and fails t if it returns an error. Its report
// is logged.
func runBench(t *testing.T, cfg Config) *summary {
	t.Helper()
	var out strings.Builder
	sum, err := run(context.Background(), cfg, &out, io.Discard)
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return sum
}

// counts are what a phase should have counted.
type counts struct {
	runs, denials int64
	rpcs          map[string]int64
	ops           map[string]int64
}

// checkCounts checks that every op ended as meant: ops = runs + expected
// denials, no failure, and the calls and op kinds add up.
func checkCounts(t *testing.T, st *stats, ops int64, want counts) {
	t.Helper()
	if got := st.ops.Load(); got != ops {
		t.Errorf("ops = %d, want %d", got, ops)
	}
	if got := st.runs.Load(); got != want.runs {
		t.Errorf("runs = %d, want %d", got, want.runs)
	}
	if got := st.denials.Load(); got != want.denials {
		t.Errorf("denials = %d, want %d", got, want.denials)
	}
	if got := st.failed.Load(); got != 0 {
		t.Errorf("failed = %d, want 0: %v", got, st.outcomeList())
	}
	var rpcs int64
	for _, n := range st.rpcNames {
		if got := st.rpc[n].Count(); got != want.rpcs[n] {
			t.Errorf("%s calls = %d, want %d", n, got, want.rpcs[n])
		}
		rpcs += want.rpcs[n]
	}
	if got := st.rpcs.Load(); got != rpcs {
		t.Errorf("calls = %d, want %d", got, rpcs)
	}
	for _, n := range st.opNames {
		if got := st.op[n].Count(); got != want.ops[n] {
			t.Errorf("%s ops = %d, want %d", n, got, want.ops[n])
		}
	}
	for _, o := range st.outcomeList() {
		if !o.Expected || o.Code != "RESOURCE_EXHAUSTED" || o.Reason != "CREDITS_EXHAUSTED" {
			t.Errorf("answer %+v ×%d, want only RESOURCE_EXHAUSTED/CREDITS_EXHAUSTED denials", o.outcome, o.N)
		}
	}
}

func TestWorkloads(t *testing.T) {
	tests := []struct {
		workload string
		want     counts
	}{
		{workloadReserve, counts{
			runs: 200,
			rpcs: map[string]int64{rpcReserve: 200},
			ops:  map[string]int64{kindReserve: 200},
		}},
		{workloadCycle, counts{
			runs: 200,
			rpcs: map[string]int64{rpcReserve: 200, rpcCommit: 200},
			ops:  map[string]int64{kindCycle: 200},
		}},
		{workloadMix, counts{
			runs: 180, denials: 20,
			rpcs: map[string]int64{rpcReserve: 200, rpcCommit: 150, rpcRefund: 30, rpcExtend: 30},
			ops:  map[string]int64{kindCycle: 120, kindRefund: 30, kindExtend: 30, kindDeny: 20},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.workload, func(t *testing.T) {
			addr := startQuotad(t, embedded(t))
			sum := runBench(t, testConfig(addr, tt.workload, 200))
			if got, want := sum.SetupCalls, 2+2*6; got != want {
				t.Errorf("setup calls = %d, want %d (2 workspaces, 5 Max and 1 Free seat each)", got, want)
			}
			if sum.Main.Loop.Started != 200 {
				t.Errorf("started %d ops, want 200", sum.Main.Loop.Started)
			}
			checkCounts(t, sum.Main.Stats, 200, tt.want)
		})
	}
}

// TestOpenLoopAgainstQuotad: an open loop issues its count of ops, each
// measured from when it was due.
func TestOpenLoopAgainstQuotad(t *testing.T) {
	addr := startQuotad(t, embedded(t))
	cfg := testConfig(addr, workloadMix, 100)
	cfg.Rate = 500
	cfg.Keys = keysRoundRobin
	sum := runBench(t, cfg)
	if l := sum.Main.Loop; l.Scheduled != 100 || l.Started != 100 || l.Missed != 0 {
		t.Errorf("loop = %+v, want 100 scheduled and started", l)
	}
	checkCounts(t, sum.Main.Stats, 100, counts{
		runs: 90, denials: 10,
		rpcs: map[string]int64{rpcReserve: 100, rpcCommit: 75, rpcRefund: 15, rpcExtend: 15},
		ops:  map[string]int64{kindCycle: 60, kindRefund: 15, kindExtend: 15, kindDeny: 10},
	})
}

// TestSetupIsIdempotent: a second run reuses the workspaces and seats (the
// setup calls replay) and its own request ids do not collide.
func TestSetupIsIdempotent(t *testing.T) {
	addr := startQuotad(t, embedded(t))
	for range 2 {
		sum := runBench(t, testConfig(addr, workloadCycle, 20))
		checkCounts(t, sum.Main.Stats, 20, counts{
			runs: 20,
			rpcs: map[string]int64{rpcReserve: 20, rpcCommit: 20},
			ops:  map[string]int64{kindCycle: 20},
		})
	}
}

// TestTokenIsSent: with -token, every call carries "authorization:
// Bearer <token>".
func TestTokenIsSent(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	check := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		seen[strings.Join(md.Get("authorization"), ",")]++
		mu.Unlock()
		return h(ctx, req)
	}
	addr := startQuotad(t, embedded(t), grpc.ChainUnaryInterceptor(check))
	cfg := testConfig(addr, workloadCycle, 10)
	cfg.Token = "s3cret"
	runBench(t, cfg)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen["Bearer s3cret"] != 2+2*6+20 {
		t.Errorf("authorization metadata seen: %v, want %q on all %d calls", seen, "Bearer s3cret", 2+2*6+20)
	}
}

// TestUnexpectedErrorsFail: ops that fail make run return an error, and
// are counted by code and reason. Here setup is off, so the workspaces do
// not exist.
func TestUnexpectedErrorsFail(t *testing.T) {
	addr := startQuotad(t, embedded(t))
	cfg := testConfig(addr, workloadCycle, 10)
	cfg.Setup = false
	var out strings.Builder
	sum, err := run(context.Background(), cfg, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "10 ops failed") {
		t.Errorf("run = %v, want an error about 10 failed ops", err)
	}
	if got := sum.Main.Stats.outcomeList(); len(got) != 1 || got[0].Code != "NOT_FOUND" || got[0].Reason != "WORKSPACE_NOT_FOUND" || got[0].N != 10 {
		t.Errorf("outcomes = %+v, want 10 NOT_FOUND/WORKSPACE_NOT_FOUND", got)
	}
	if !strings.Contains(out.String(), "NOT_FOUND  WORKSPACE_NOT_FOUND  10  UNEXPECTED") {
		t.Errorf("report does not list the errors:\n%s", out.String())
	}
}

func TestParseConfig(t *testing.T) {
	env := func(k string) string { return map[string]string{"QUOTA_TOKEN": "from-env"}[k] }
	cfg, err := parseConfig([]string{"-count", "5"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token != "from-env" || cfg.Duration != countDuration || cfg.Workers != 50 || cfg.Workspaces != 10 || cfg.Members != 1000 || !cfg.Setup {
		t.Errorf("parseConfig(-count 5) = %+v, want the defaults, the env token and a 1h bound", cfg)
	}
	cfg, err = parseConfig([]string{"-token", "flag", "-duration", "3s", "-count", "5"}, env, io.Discard)
	if err != nil || cfg.Token != "flag" || cfg.Duration != 3*time.Second {
		t.Errorf("parseConfig = %+v, %v; want the flag's token and duration", cfg, err)
	}
	for _, args := range [][]string{
		{"-raw"}, {"-profile"}, {"-workload", "burst"}, {"-keys", "zipf"}, {"-workers", "0"},
		{"-rate", "-1"}, {"-prefix", "a b"}, {"extra"},
	} {
		if _, err := parseConfig(args, env, io.Discard); err == nil {
			t.Errorf("parseConfig(%q) = nil error, want one", args)
		}
	}
}
