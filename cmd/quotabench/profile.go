package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// profilePhase is one phase of -profile: n calls of one RPC, and what the
// scripts cost Redis meanwhile.
type profilePhase struct {
	// Name is the RPC, with what it acts on.
	Name string
	RPC  string
	// Calls is how many calls were made, Failed how many of them failed.
	Calls, Failed int64
	// Scripts is the commandstats delta of the script commands over the
	// phase. Besides the phase's own calls it counts those of quotad's
	// background sweeper (one per workspace a second).
	Scripts scriptUsage
	Elapsed time.Duration
	Stats   *stats
}

// runProfile runs the profile phases, n calls each on workers workers,
// keys round-robin: Reserve n holds, Commit them (benchUsage), Reserve n
// more, Extend them, Refund them. Since INFO commandstats does not tell
// scripts apart, each phase runs alone and gets the delta of its own
// interval.
func runProfile(ctx context.Context, c client, rdb redis.UniversalClient, keys keyspace, workers, n int) ([]profilePhase, error) {
	keys.roundRobin = true
	run := newRunID()
	req := func(batch string, i int, step string) string {
		return "qb-" + run + "-" + batch + strconv.Itoa(i) + "-" + step
	}
	where := func(i int) (ws, mem string) { return keys.pick(nil, int64(i)) }
	var phases []profilePhase
	phase := func(name, rpc string, f func(ctx context.Context, st *stats, i int) error) error {
		st := newStats([]string{rpc}, nil)
		before, err := readRedisStats(ctx, rdb)
		if err != nil {
			return err
		}
		t := time.Now()
		err = parallel(ctx, workers, n, func(ctx context.Context, i int) error {
			if err := f(ctx, st, i); err != nil {
				st.fail(err)
			}
			return nil
		})
		elapsed := time.Since(t)
		if err != nil {
			return err
		}
		after, err := readRedisStats(ctx, rdb)
		if err != nil {
			return err
		}
		phases = append(phases, profilePhase{
			Name: name, RPC: rpc, Calls: st.rpcs.Load(), Failed: st.failed.Load(),
			Scripts: scriptDelta(before, after), Elapsed: elapsed, Stats: st,
		})
		return nil
	}
	reserveInto := func(batch string, ids []string) func(ctx context.Context, st *stats, i int) error {
		return func(ctx context.Context, st *stats, i int) error {
			ws, mem := where(i)
			id, err := c.reserve(ctx, st, ws, mem, req(batch, i, "r"), holdAmount)
			ids[i] = id
			return err
		}
	}
	on := func(batch string, ids []string, step string, call func(ctx context.Context, st *stats, ws, id, req string) error) func(ctx context.Context, st *stats, i int) error {
		return func(ctx context.Context, st *stats, i int) error {
			if ids[i] == "" {
				return nil // its Reserve failed, and was counted
			}
			ws, _ := where(i)
			return call(ctx, st, ws, ids[i], req(batch, i, step))
		}
	}
	a, b := make([]string, n), make([]string, n)
	steps := []struct {
		name, rpc string
		f         func(ctx context.Context, st *stats, i int) error
	}{
		{"Reserve", rpcReserve, reserveInto("a", a)},
		{"Commit (main + 1 sub-agent)", rpcCommit, on("a", a, "c", c.commit)},
		{"Reserve (2nd batch)", rpcReserve, reserveInto("b", b)},
		{"Extend (+1 credit)", rpcExtend, on("b", b, "x", c.extend)},
		{"Refund (extended holds)", rpcRefund, on("b", b, "f", c.refund)},
	}
	for _, s := range steps {
		if err := phase(s.name, s.rpc, s.f); err != nil {
			return phases, fmt.Errorf("profile %s: %w", s.name, err)
		}
	}
	return phases, nil
}
