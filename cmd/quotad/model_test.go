package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"
	"pgregory.net/rapid"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/quota/model"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/redistest"
)

// Model-based tests: random sequences of admin and orchestrator calls run
// through a real quotad and through the reference model (quota/model);
// after every step the replies, every member's balance, the workspace's
// pool, every grant, every reservation and the ledger's totals must equal
// the model's. The service's clock is the test's, so that a step can jump
// across deadlines, grant expiries and resets.
//
// rapid shrinks a failing sequence and prints how to replay it
// (-rapid.seed, or the fail file under testdata/rapid). By default the
// test runs modelChecks sequences on Redis and modelEmbeddedChecks on the
// embedded store; -rapid.checks (or RAPID_CHECKS) sets the number of
// sequences on Redis (the embedded store runs a twentieth), -rapid.steps
// their mean length:
//
//	go test -run 'TestModel/redis' -timeout 3h -v ./cmd/quotad/ -args -rapid.checks=5000

// Default sizes of a run, kept within the CI budget (under a minute with
// -race on two cores): sequences on Redis and on the embedded store (20
// times slower), and their mean length; with the race detector, which
// slows every call several times, fewer and shorter.
const (
	modelChecks             = 25
	modelEmbeddedChecks     = 3
	modelSteps              = 100
	modelRaceChecks         = 8
	modelRaceEmbeddedChecks = 1
	modelRaceSteps          = 40
)

// modelRetention keeps settled runs and ledger entries for the whole
// test, whatever the clock says: retention is not modelled.
const modelRetention = 50 * 365 * 24 * time.Hour

// modelPrices is the price table of the model tests, set through
// SetPricing and known to the model. Odd rates make the rounding show.
var modelPrices = model.Prices{
	Models: []model.Rates{
		{Model: "swift", Input: 150_000_003, Output: 600_000_011, CacheRead: 15_000_001, CacheWrite: 190_000_007},
		{Model: "deep", Input: 1_500_000_017, Output: 7_500_000_001, CacheRead: 150_000_013, CacheWrite: 1_875_000_003},
	},
	Fallback: "deep",
	Tools: []model.Tool{
		{Name: "router", Tier: quota.TierBasic, Platform: true},
		{Name: "memory", Tier: quota.TierBasic, Platform: true},
		{Name: "search", Tier: quota.TierBasic},
		{Name: "retrieve", Tier: quota.TierAdvanced},
		{Name: "think", Tier: quota.TierFree},
	},
}

// modelRig is a quotad under test with a clock the test moves.
type modelRig struct {
	c *client
	// rdb is a client of quotad's Redis and st a store on it (nil on the
	// embedded store, which no other client reaches): the ledger is read
	// and sweeps are run through them.
	rdb *redis.Client
	st  *store.Store
	// clock is the service's time, in Unix milliseconds.
	clock atomic.Int64
	// version is the price version of modelPrices.
	version int64
	// sequences counts the sequences run, to name their workspaces where
	// a workspace cannot be deleted; steps the steps, outcomes the
	// answers by RPC and reason (what the sequences covered).
	sequences atomic.Int64
	steps     int64
	outcomes  map[string]int
}

// TestModel runs the model-based tests on a real redis-server and on the
// embedded store.
func TestModel(t *testing.T) {
	defChecks, defEmbedded, defSteps := modelChecks, modelEmbeddedChecks, modelSteps
	if raceEnabled {
		defChecks, defEmbedded, defSteps = modelRaceChecks, modelRaceEmbeddedChecks, modelRaceSteps
	}
	steps := flagOr("rapid.steps", "RAPID_STEPS", defSteps)
	for _, backend := range []string{"redis", "embedded"} {
		t.Run(backend, func(t *testing.T) {
			checks := flagOr("rapid.checks", "RAPID_CHECKS", defChecks)
			if backend == "embedded" {
				checks = max(defEmbedded, checks/20) // about 20 times slower
			}
			setRapidFlag(t, "rapid.checks", checks)
			setRapidFlag(t, "rapid.steps", steps)
			rig := startModelRig(t, backend)
			start := time.Now()
			rapid.Check(t, rig.sequence)
			t.Logf("%d sequences, %d steps on %s in %s", rig.sequences.Load(), rig.steps, backend, time.Since(start).Round(time.Millisecond))
			t.Logf("answers: %s", outcomeSummary(rig.outcomes))
		})
	}
}

// flagOr is the value of a flag set on the command line, else of an
// environment variable, else def.
func flagOr(name, env string, def int) int {
	v := def
	if s, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(s); err == nil {
			v = n
		}
	}
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			if n, err := strconv.Atoi(f.Value.String()); err == nil {
				v = n
			}
		}
	})
	return v
}

// setRapidFlag sets one of rapid's flags for the test, restoring it after.
func setRapidFlag(t *testing.T, name string, v int) {
	t.Helper()
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("rapid has no flag -%s", name)
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(v)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

// startModelRig starts quotad on backend with the rig's clock, and sets
// the price table.
func startModelRig(t *testing.T, backend string) *modelRig {
	t.Helper()
	rig := &modelRig{outcomes: map[string]int{}}
	rig.clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	cfg := defaultConfig()
	cfg.Listen, cfg.MetricsListen, cfg.ShutdownGrace = "127.0.0.1:0", "", 0
	cfg.SweepInterval = time.Hour // the test sweeps, at its own time
	cfg.RunRetention, cfg.LedgerRetention, cfg.EventsRetention = modelRetention, modelRetention, modelRetention
	// Long timeouts: a loaded machine must not fail a sequence (the
	// Redis client's read timeout of 1 s did, once, in a 26-minute run
	// on a machine with a load of 17).
	cfg.StoreTimeout, cfg.CallTimeout = 20*time.Second, 30*time.Second
	cfg.RedisReadTimeout, cfg.RedisWriteTimeout = 15*time.Second, 15*time.Second
	if backend != "embedded" {
		srv := redistest.StartTestServer(t)
		cfg.RedisURL = "redis://" + srv.Addr() + "/3"
		cfg.AllowUnauthenticated = true
		opt := srv.ClientOptions()
		opt.DB = 3
		rig.rdb = redis.NewClient(opt)
		t.Cleanup(func() { rig.rdb.Close() })
		rig.st = store.New(rig.rdb, store.Options{RunRetention: modelRetention,
			LedgerRetention: modelRetention, EventsRetention: modelRetention})
	}
	// Warnings only: the call log of every step would drown a failure.
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	q := startClock(t, cfg, func() time.Time { return time.UnixMilli(rig.clock.Load()).UTC() }, log)
	conn := dial(t, q.Addrs.GRPC)
	rig.c = &client{quota: quotav1.NewQuotaServiceClient(conn), admin: quotav1.NewAdminServiceClient(conn)}

	table := &quotav1.PriceTable{FallbackModel: modelPrices.Fallback}
	for _, m := range modelPrices.Models {
		table.Models = append(table.Models, &quotav1.ModelPrice{Model: m.Model, InputRate: m.Input,
			OutputRate: m.Output, CacheReadRate: m.CacheRead, CacheWriteRate: m.CacheWrite})
	}
	for _, tool := range modelPrices.Tools {
		table.Tools = append(table.Tools, &quotav1.ToolPrice{Tool: tool.Name, Tier: quotav1.ToolTier(tool.Tier), Platform: tool.Platform})
	}
	resp, err := rig.c.admin.SetPricing(rpcCtx(t), &quotav1.SetPricingRequest{RequestId: "model-pricing", Pricing: table})
	if err != nil {
		t.Fatalf("SetPricing: %v", err)
	}
	rig.version = resp.GetVersion().GetVersion()
	return rig
}

// modelWorkspace is the workspace of every sequence on Redis, deleted
// between sequences, so that a replayed sequence sees the same keys.
const modelWorkspace = "model"

// sequence is one rapid check: a new workspace, then random steps.
func (rig *modelRig) sequence(t *rapid.T) {
	n := rig.sequences.Add(1)
	ws := modelWorkspace
	if rig.rdb == nil {
		ws = fmt.Sprintf("model-%d", n)
	} else {
		rig.dropWorkspace(t, ws)
		t.Cleanup(func() { rig.dropWorkspace(t, ws) })
	}
	start := time.Date(2026, time.Month(rapid.IntRange(1, 12).Draw(t, "start month")), rapid.IntRange(1, 31).Draw(t, "start day"),
		rapid.IntRange(0, 23).Draw(t, "start hour"), 0, 0, rapid.IntRange(0, 999).Draw(t, "start ms")*int(time.Millisecond), time.UTC)
	anchor := time.Date(2025, time.Month(rapid.IntRange(1, 12).Draw(t, "anchor month")), rapid.SampledFrom([]int{1, 15, 28, 29, 30, 31}).Draw(t, "anchor day"),
		rapid.IntRange(0, 23).Draw(t, "anchor hour"), 30, 0, 0, time.UTC)
	rig.clock.Store(start.UnixMilli())
	s := &seq{rig: rig, t: t, ws: ws, m: model.New(ws, anchor, start, modelPrices, rig.version)}
	if _, err := rig.c.admin.SetWorkspace(s.ctx(), &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: "ws",
		SubscriptionStart: timestamppb.New(anchor)}); err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
	s.setup()
	t.Repeat(s.actions())
}

// dropWorkspace deletes every key of a workspace and its entries in the
// sweeper's index.
func (rig *modelRig) dropWorkspace(t *rapid.T, ws string) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	for _, pattern := range []string{"q:{ws:" + ws + "}:*", "q:{idx*}:workspaces"} {
		iter := rig.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			if pattern == "q:{idx*}:workspaces" {
				rig.rdb.SRem(ctx, key, ws)
			} else {
				rig.rdb.Del(ctx, key)
			}
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("drop workspace %s: %v", ws, err)
		}
	}
}

// outcomeSummary lists the answers counted, sorted.
func outcomeSummary(counts map[string]int) string {
	keys := slices.Sorted(maps.Keys(counts))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d; ", k, counts[k])
	}
	return b.String()
}
