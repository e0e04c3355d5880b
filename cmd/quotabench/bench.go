package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// summary is everything a quotabench run measured; run prints it as it
// goes and returns it for tests.
type summary struct {
	// SetupCalls is how many setup calls were made (0: no setup).
	SetupCalls int
	Main       phaseResult
}

// run runs quotabench with cfg: setup, then the main phase. The report
// goes to out, progress lines to progress. It returns an error when
// something could not run or when ops failed unexpectedly.
func run(ctx context.Context, cfg Config, out, progress io.Writer) (*summary, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if cfg.Token != "" {
		opts = append(opts, grpc.WithUnaryInterceptor(bearer(cfg.Token)))
	}
	conn, err := grpc.NewClient(cfg.Addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.Addr, err)
	}
	defer conn.Close()
	c := client{q: quotav1.NewQuotaServiceClient(conn), timeout: cfg.Timeout}
	keys := keyspace{prefix: cfg.Prefix, workspaces: cfg.Workspaces, members: cfg.Members, roundRobin: cfg.Keys == keysRoundRobin}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	sum := &summary{}

	if cfg.Setup {
		t := time.Now()
		n, err := setup(ctx, quotav1.NewAdminServiceClient(conn), keys, cfg.Workers, cfg.Timeout)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		sum.SetupCalls = n
		fmt.Fprintf(progress, "quotabench: setup: %d workspaces, %d Max seats each and a Free one, in %s\n",
			cfg.Workspaces, cfg.Members, time.Since(t).Round(time.Millisecond))
	}

	mainPlan := plan{Workers: cfg.Workers, Count: cfg.Count, Duration: cfg.Duration, Rate: cfg.Rate, Grace: cfg.Timeout}
	kinds := []string{opKind(cfg.Workload, 0)}
	if cfg.Workload == workloadMix {
		kinds = allKinds
	}
	mainStats := newStats(allRPCs, kinds)
	load := newGRPCLoad(c, keys, cfg.Workload, cfg.Workers, seed, mainStats)
	sum.Main = measured(ctx, progress, "gRPC "+cfg.Workload, mainPlan, mainStats, load.op)
	writePhase(out, sum.Main)

	return sum, sum.failures()
}

// failures returns an error when an op failed unexpectedly.
func (s *summary) failures() error {
	if n := s.Main.Stats.failed.Load(); n > 0 {
		return fmt.Errorf("%d ops failed unexpectedly (see the errors above)", n)
	}
	return nil
}

// measured runs one load phase with progress lines.
func measured(ctx context.Context, progress io.Writer, name string, p plan, st *stats, op opFunc) phaseResult {
	fmt.Fprintf(progress, "quotabench: %s: %d workers, up to %s", name, p.Workers, p.Duration)
	if p.Count > 0 {
		fmt.Fprintf(progress, " or %d ops", p.Count)
	}
	fmt.Fprintln(progress)
	loop := runLoop(ctx, p, op, func(elapsed time.Duration) {
		fmt.Fprintf(progress, "quotabench: %s %3.0fs: %d ops, %.0f ops/s, %d errors, %d denials\n",
			name, elapsed.Seconds(), st.ops.Load(), rate(st.ops.Load(), elapsed), st.failed.Load(), st.denials.Load())
	})
	return phaseResult{Name: name, Plan: p, Loop: loop, Stats: st}
}

// bearer returns an interceptor that sends "authorization: Bearer <token>"
// with every call.
func bearer(token string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
