// Command quotabench is the load tool of quota (issue 7). It loads a
// running quotad over gRPC with one of three workloads and reports
// throughput, latency percentiles and errors:
//
//   - reserve: Reserve only (the holds expire);
//   - cycle: Reserve then Commit of a run whose usage has a main agent and
//     one sub-agent;
//   - mix: 60% cycles, 15% Reserve→Refund, 15% Reserve→Extend→Commit and
//     10% deliberate denials (a Reserve of more than a Free seat has).
//
// N workers (-workers) spread over M workspaces (-workspaces) of K Max
// seats each (-members), created first through the AdminService with fixed
// request ids (-setup), so that runs reuse them. A run is closed loop by
// default; -rate makes it open loop, each op due at a fixed interval and
// its latency counted from when it was due, so that queueing is not
// hidden (coordinated omission). It runs for -duration or -count ops,
// prints a progress line on stderr every second and, at the end, on
// stdout: ops/s and runs/s, latency p50, p99, p99.9 and max per RPC and
// per op (per cycle), and errors by gRPC code and ErrorInfo reason.
//
// Given the Redis quotad uses (-redis), it also reports Redis µs per
// script call (INFO commandstats: EVALSHA, EVAL or FCALL) and their p50,
// p99 and p99.9 (Redis 7's LATENCY HISTOGRAM), bytes of Redis
// per run (used_memory), bytes per record kind (SCAN and MEMORY USAGE) and
// the script calls of the slow log over 1 ms; -raw compares the Reserve
// workload over gRPC with the same load sent straight to Redis through the
// store package; -profile measures Reserve, Commit, Extend and Refund in
// separate phases, Redis µs per script call each.
//
// Run quotabench -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "quotabench:", err)
		os.Exit(1)
	}
}

// realMain reads the flags and runs quotabench until it is done or ctx
// ends (the first SIGINT stops the load and prints what was measured).
func realMain(ctx context.Context) error {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	_, err = run(ctx, cfg, os.Stdout, os.Stderr)
	return err
}

// startCPUProfile starts writing quotabench's Go CPU profile to path; stop
// ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "quotabench: -cpuprofile:", err)
		}
	}, nil
}
