package main

// The reference path (-reference): the Reserve workload as the minimal
// script of reference.lua, sent straight to Redis with the same workers
// and keys as the raw path. Its Redis µs per call is the floor quota's
// Reserve script is compared with in the same run.

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
)

// rpcRefReserve names the reference call in the latency table.
const rpcRefReserve = "reference.lua"

//go:embed reference.lua
var referenceSource string

// referenceScript is reference.lua, sent with EVALSHA.
var referenceScript = redis.NewScript(referenceSource)

// refAlloc is the allocation of a reference account: a Max seat's.
var refAlloc = quota.SeatMax.Monthly()

// refLoad reserves holdAmount per op with reference.lua.
type refLoad struct {
	loadBase
	rdb     redis.UniversalClient
	timeout time.Duration
	stats   *stats
}

// newRefLoad returns the reference Reserve workload on rdb, picking keys
// as the gRPC and raw workloads do with the same seed.
func newRefLoad(rdb redis.UniversalClient, keys keyspace, workers int, seed uint64, timeout time.Duration, st *stats) *refLoad {
	return &refLoad{loadBase: newLoadBase(keys, workers, seed), rdb: rdb, timeout: timeout, stats: st}
}

// refPrefix starts every key of the reference script; refPattern matches
// them all.
const (
	refPrefix  = "qbref:"
	refPattern = refPrefix + "*"
)

// op takes one hold; it is an opFunc.
func (r *refLoad) op(ctx context.Context, w int, i int64, due time.Time) {
	ws, mem := r.pick(w, i)
	req := r.req(i, "ref")
	pre := refPrefix + "{ws:" + ws + "}:"
	keys := []string{pre + "acct:" + mem, pre + "res:" + req, pre + "deadlines", pre + "ledger", pre + "idem:" + req}
	var denied bool
	err := r.stats.call(ctx, r.timeout, rpcRefReserve, func(ctx context.Context) error {
		now := time.Now()
		res, err := referenceScript.Run(ctx, r.rdb, keys, now.UnixMilli(), holdAmount, now.Add(rawTTL).UnixMilli(),
			req, req, mem, refAlloc).Int64Slice()
		if err == nil && len(res) > 0 && res[0] == 0 {
			denied = true
		}
		return err
	})
	switch {
	case err != nil:
		r.stats.fail(err)
	case denied:
		r.stats.fail(fmt.Errorf("reference.lua: %s of %s has no credits left", mem, ws))
	default:
		r.stats.succeed(kindReserve, due)
	}
}

// dropReference deletes every key the reference script wrote.
func dropReference(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	n := 0
	iter := rdb.Scan(ctx, 0, refPattern, 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// reference is the -reference phase and what it cost Redis.
type reference struct {
	Phase phaseResult
	Redis *redisRun // nil without commandstats
}

// perCallOf returns the mean µs per successful call of the script
// commands in names, from u (0 with no call): the reference runs with
// EVALSHA (EVAL once, to load it), quota with FCALL, so that each is
// told apart from the other and from quotad's sweeper.
func perCallOf(u scriptUsage, names ...string) (float64, int64) {
	var calls, usec int64
	for _, n := range names {
		d := u.By[n]
		calls += d.Calls - d.Failed
		usec += d.Usec
	}
	if calls == 0 {
		return 0, 0
	}
	return float64(usec) / float64(calls), calls
}

// ourReserve returns quota's Reserve phase to compare the reference with:
// the raw phase (same workers, closed loop, straight on Redis) when it
// ran, else the main phase when it was Reserve only; nil otherwise.
func (s *summary) ourReserve() *redisRun {
	switch {
	case s.Compare != nil && s.Compare.RawRedis != nil:
		return s.Compare.RawRedis
	case s.Compare != nil && s.Compare.GRPCRedis != nil:
		return s.Compare.GRPCRedis
	case s.Main.Name == "gRPC "+workloadReserve && s.Main.Plan.Rate == 0:
		return s.MainRedis
	}
	return nil
}

// writeReference prints the reference phase and, when ours is not nil,
// Redis µs per call of quota's Reserve against the reference's.
func writeReference(w io.Writer, r reference, ours *redisRun) {
	fmt.Fprintf(w, "\n== reference: the minimal Reserve script (reference.lua), %d workers, closed loop, same keys\n", r.Phase.Plan.Workers)
	h := r.Phase.Stats.op[kindReserve]
	t := [][]string{{"script", "ops", "ops/s", "p50 ms", "p99 ms", "failed", "redis µs/call", "cpu µs/call"}}
	refUs, ourUs, refCPU, ourCPU := 0.0, 0.0, 0.0, 0.0
	refCol, ourCol, refCPUCol, ourCPUCol := "-", "-", "-", "-"
	if r.Redis != nil {
		refUs, _ = perCallOf(r.Redis.Scripts, "evalsha", "eval")
		refCPU = r.Redis.Scripts.CPUPerCall()
		refCol, refCPUCol = fmt.Sprintf("%.1f", refUs), fmt.Sprintf("%.1f", refCPU)
	}
	t = append(t, []string{"reference.lua", strconv.FormatInt(r.Phase.Stats.ops.Load(), 10), fmt.Sprintf("%.1f", r.Phase.OpsPerSec()),
		ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), strconv.FormatInt(r.Phase.Stats.failed.Load(), 10), refCol, refCPUCol})
	if ours != nil {
		ourUs, _ = perCallOf(ours.Scripts, "fcall", "evalsha", "eval")
		ourCPU = ours.Scripts.CPUPerCall()
		ourCol, ourCPUCol = fmt.Sprintf("%.1f", ourUs), fmt.Sprintf("%.1f", ourCPU)
		t = append(t, []string{"quota reserve (phase above)", "", "", "", "", "", ourCol, ourCPUCol})
	}
	writeTable(w, "", t)
	if refUs > 0 && ourUs > 0 {
		fmt.Fprintf(w, "ratio quota/reference  %.2f (Redis µs per Reserve call)\n", ourUs/refUs)
	}
	if refCPU > 0 && ourCPU > 0 {
		fmt.Fprintf(w, "ratio quota/reference  %.2f (Redis CPU µs per Reserve call)\n", ourCPU/refCPU)
	}
	writeOutcomes(w, r.Phase.Stats)
}
