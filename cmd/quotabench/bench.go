package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
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
	// MainRedis is what the main phase cost Redis; nil without -redis.
	MainRedis *redisRun
	// Compare is the -raw comparison, nil without it.
	Compare *comparison
	// Reference is the -reference phase, nil without it.
	Reference *reference
	// Profile is the -profile phases.
	Profile []profilePhase
	// Records, RecordsComplete and Slow are the Redis reports after the
	// run, with -redis.
	Records         []recordSize
	RecordsComplete bool
	Slow            *slowReport
}

// run runs quotabench with cfg: setup, the main phase, then with -redis
// its statistics, the -raw comparison and the -profile phases. The report
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

	var rdb redis.UniversalClient
	// proc is Redis's process when it runs on this machine, and
	// preemptedBefore its preemptions when the slow log was emptied.
	var proc *redisProc
	var preemptedBefore int64
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("-redis: %w", err)
		}
		// Default pool settings, as quotad's client has.
		rdb = redis.NewClient(opt)
		defer rdb.Close()
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("-redis: PING: %w", err)
		}
		restore, err := prepareSlowlog(ctx, rdb)
		if err != nil {
			fmt.Fprintf(progress, "quotabench: no slow log report: %v\n", err)
		} else {
			defer restore(context.WithoutCancel(ctx))
			proc, preemptedBefore = watchRedis(ctx, rdb, opt.Addr, progress)
			if proc != nil {
				defer proc.Close()
			}
		}
	}

	mainPlan := plan{Workers: cfg.Workers, Count: cfg.Count, Duration: cfg.Duration, Rate: cfg.Rate, Grace: cfg.Timeout}
	kinds := []string{opKind(cfg.Workload, 0)}
	if cfg.Workload == workloadMix {
		kinds = allKinds
	}
	mainStats := newStats(allRPCs, kinds)
	load := newGRPCLoad(c, keys, cfg.Workload, cfg.Workers, seed, mainStats)
	sum.Main, sum.MainRedis = measured(ctx, rdb, progress, "gRPC "+cfg.Workload, mainPlan, mainStats, load.op)
	writePhase(out, sum.Main)
	if sum.MainRedis != nil {
		writeRedisRun(out, sum.Main, *sum.MainRedis)
	}

	if ctx.Err() != nil {
		fmt.Fprintln(out, "\ninterrupted: the later phases and reports are skipped")
		return sum, ctx.Err()
	}

	if cfg.Raw {
		closed := plan{Workers: cfg.Workers, Count: cfg.Count, Duration: cfg.Duration, Grace: cfg.Timeout}
		comp := &comparison{}
		if cfg.Workload == workloadReserve && cfg.Rate == 0 {
			comp.GRPC, comp.GRPCRedis, comp.Reused = sum.Main, sum.MainRedis, true
		} else {
			st := newStats([]string{rpcReserve}, []string{kindReserve})
			g := newGRPCLoad(c, keys, workloadReserve, cfg.Workers, seed, st)
			comp.GRPC, comp.GRPCRedis = measured(ctx, rdb, progress, "gRPC reserve", closed, st, g.op)
		}
		st := newStats([]string{rpcRawReserve}, []string{kindReserve})
		raw := newRawLoad(rdb, keys, cfg.Workers, seed, cfg.Timeout, st)
		comp.Raw, comp.RawRedis = measured(ctx, rdb, progress, "raw reserve", closed, st, raw.op)
		sum.Compare = comp
		writeComparison(out, *comp)
	}

	if cfg.Reference {
		closed := plan{Workers: cfg.Workers, Count: cfg.Count, Duration: cfg.Duration, Grace: cfg.Timeout}
		st := newStats([]string{rpcRefReserve}, []string{kindReserve})
		ref := newRefLoad(rdb, keys, cfg.Workers, seed, cfg.Timeout, st)
		res, rr := measured(ctx, rdb, progress, "reference reserve", closed, st, ref.op)
		sum.Reference = &reference{Phase: res, Redis: rr}
		if n, err := dropReference(context.WithoutCancel(ctx), rdb); err != nil {
			fmt.Fprintf(progress, "quotabench: deleting the reference keys (%d so far): %v\n", n, err)
		}
		writeReference(out, *sum.Reference, sum.ourReserve())
	}

	if cfg.Profile {
		fmt.Fprintf(progress, "quotabench: profile: 5 phases of %d calls\n", cfg.ProfileN)
		phases, err := runProfile(ctx, c, rdb, keys, cfg.Workers, cfg.ProfileN)
		sum.Profile = phases
		writeProfile(out, phases)
		if err != nil {
			return sum, err
		}
	}

	if rdb != nil {
		sizes, complete, err := sampleRecords(ctx, rdb, cfg.Prefix+"-*", cfg.Samples)
		if err != nil {
			fmt.Fprintf(out, "\nbytes per record: %v\n", err)
		} else {
			sum.Records, sum.RecordsComplete = sizes, complete
			writeRecords(out, sizes, complete)
		}
		slow, err := readSlowlog(ctx, rdb)
		if err != nil {
			fmt.Fprintf(out, "\nslow log: %v\n", err)
		} else {
			if proc != nil {
				n, err := proc.Preemptions()
				switch {
				case err != nil:
					fmt.Fprintf(progress, "quotabench: Redis's preemptions not read: %v\n", err)
				case n < preemptedBefore:
					fmt.Fprintf(progress, "quotabench: Redis's preemptions not read: the count went back from %d to %d\n", preemptedBefore, n)
				default:
					slow.Preempted = &preempted{Pid: proc.Pid, Times: n - preemptedBefore}
				}
			}
			sum.Slow = &slow
			writeSlow(out, slow)
		}
	}

	return sum, sum.failures()
}

// watchRedis finds the redis-server rdb reaches at addr among this
// machine's processes and reads its preemptions so far. It returns nil,
// and says why on progress, when it cannot; silently when Redis is not on
// this machine.
func watchRedis(ctx context.Context, rdb redis.UniversalClient, addr string, progress io.Writer) (*redisProc, int64) {
	p, err := findRedisProc(ctx, rdb, addr, "/proc")
	if err == nil {
		var n int64
		if n, err = p.Preemptions(); err == nil {
			return p, n
		}
		p.Close()
	}
	if !errors.Is(err, errNotLocal) {
		fmt.Fprintf(progress, "quotabench: Redis's preemptions not read: %v\n", err)
	}
	return nil, 0
}

// failures returns an error when an op of any phase failed unexpectedly.
func (s *summary) failures() error {
	all := []*stats{s.Main.Stats}
	if s.Compare != nil {
		all = append(all, s.Compare.GRPC.Stats, s.Compare.Raw.Stats)
	}
	if s.Reference != nil {
		all = append(all, s.Reference.Phase.Stats)
	}
	for _, p := range s.Profile {
		all = append(all, p.Stats)
	}
	var n int64
	seen := map[*stats]bool{}
	for _, st := range all {
		if !seen[st] {
			seen[st] = true
			n += st.failed.Load()
		}
	}
	if n > 0 {
		return fmt.Errorf("%d ops failed unexpectedly (see the errors above)", n)
	}
	return nil
}

// measured runs one load phase with progress lines and, when rdb is not
// nil, reads what it cost Redis (nil when the statistics are unavailable).
func measured(ctx context.Context, rdb redis.UniversalClient, progress io.Writer, name string, p plan, st *stats, op opFunc) (phaseResult, *redisRun) {
	var before redisStats
	var mem0 int64
	var statErr error
	var lat0 map[string]latencyHist
	var latErr error
	if rdb != nil {
		before, statErr = readRedisStats(ctx, rdb)
		if statErr == nil {
			mem0, statErr = usedMemory(ctx, rdb)
		}
		// Optional: Redis 7 and later.
		lat0, latErr = readLatency(ctx, rdb)
	}
	fmt.Fprintf(progress, "quotabench: %s: %d workers, up to %s", name, p.Workers, p.Duration)
	if p.Count > 0 {
		fmt.Fprintf(progress, " or %d ops", p.Count)
	}
	fmt.Fprintln(progress)
	loop := runLoop(ctx, p, op, func(elapsed time.Duration) {
		fmt.Fprintf(progress, "quotabench: %s %3.0fs: %d ops, %.0f ops/s, %d errors, %d denials\n",
			name, elapsed.Seconds(), st.ops.Load(), rate(st.ops.Load(), elapsed), st.failed.Load(), st.denials.Load())
	})
	r := phaseResult{Name: name, Plan: p, Loop: loop, Stats: st}
	if rdb == nil {
		return r, nil
	}
	var after redisStats
	var mem1 int64
	if statErr == nil {
		after, statErr = readRedisStats(ctx, rdb)
	}
	if statErr == nil {
		mem1, statErr = usedMemory(ctx, rdb)
	}
	if statErr != nil {
		fmt.Fprintf(progress, "quotabench: no Redis statistics for %s: %v\n", name, statErr)
		return r, nil
	}
	rr := &redisRun{Scripts: scriptDelta(before, after), MemDelta: mem1 - mem0}
	if latErr == nil {
		var lat1 map[string]latencyHist
		if lat1, latErr = readLatency(ctx, rdb); latErr == nil {
			l := latencyDelta(lat0, lat1)
			rr.Latency = &l
		}
	}
	return r, rr
}

// bearer returns an interceptor that sends "authorization: Bearer <token>"
// with every call.
func bearer(token string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
