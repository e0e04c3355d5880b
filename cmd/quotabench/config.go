package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Workloads, the values of -workload.
const (
	workloadReserve = "reserve" // Reserve only; the holds expire
	workloadCycle   = "cycle"   // Reserve then Commit of a run with a sub-agent
	workloadMix     = "mix"     // cycles, refunds, extends and denials
)

// Key orders, the values of -keys.
const (
	keysRandom     = "random"     // each op picks a workspace and a member uniformly at random
	keysRoundRobin = "roundrobin" // op i takes workspace i mod M, member (i div M) mod K
)

// Config is quotabench's configuration, one field per flag.
type Config struct {
	// Addr is quotad's gRPC address. -addr, default "127.0.0.1:7070".
	Addr string
	// Token, when set, is sent as "authorization: Bearer <token>" metadata
	// on every call. -token, default $QUOTA_TOKEN.
	Token string
	// RedisURL is a redis:// URL of the Redis quotad uses, for -raw,
	// -profile and the Redis statistics. -redis, default none.
	RedisURL string
	// Workload is reserve, cycle or mix. -workload, default cycle.
	Workload string
	// Workers is how many calls run at once. -workers, default 50.
	Workers int
	// Workspaces and Members are the key space: Members Max seats in each
	// of Workspaces workspaces (plus one Free seat each, for the
	// denials of mix). -workspaces, default 10; -members, default 1000.
	Workspaces, Members int
	// Keys is how ops pick their workspace and member: random or
	// roundrobin. -keys, default random.
	Keys string
	// Seed seeds the random key picks (0: a random seed). -seed.
	Seed uint64
	// Duration bounds the run's time; Count, when not 0, its ops. The run
	// stops at whichever comes first. -duration, default 10s (1h when
	// -count is set and -duration is not); -count, default 0.
	Duration time.Duration
	Count    int64
	// Rate, when not 0, is an open loop at this many ops per second (ops
	// are due at fixed intervals and their latency counts from when they
	// were due); 0 is a closed loop: each worker starts its next op when
	// the last ends. -rate, default 0.
	Rate float64
	// Timeout bounds each call. -timeout, default 5s.
	Timeout time.Duration
	// Setup creates the workspaces and seats first (idempotent: fixed
	// request ids). -setup, default true.
	Setup bool
	// Prefix starts every workspace id: <prefix>-0 ... -prefix, default
	// "bench".
	Prefix string
	// Raw also runs the Reserve workload straight on Redis through the
	// store package, and compares. Needs RedisURL. -raw, default false.
	Raw bool
	// Reference also runs the Reserve workload as reference.lua, the
	// minimal Reserve script of issue 7, with the same workers and keys,
	// and compares its Redis µs per call with quota's Reserve in the same
	// run. Needs RedisURL. -reference, default false.
	Reference bool
	// Profile runs Reserve, Commit, Extend and Refund in separate phases
	// of ProfileN calls each and reports Redis µs per script call of
	// each. Needs RedisURL. -profile, default false; -profile-n, default
	// 1000.
	Profile  bool
	ProfileN int
	// Samples is how many keys of each record kind are sized with MEMORY
	// USAGE. -samples, default 200.
	Samples int
	// CPUProfile, when set, is a file quotabench writes its own Go CPU
	// profile to (runtime/pprof), for the whole run, set-up included: how
	// much of the load generator's core it spends itself. -cpuprofile,
	// default none.
	CPUProfile string
}

// defaultDuration is -duration's default; countDuration bounds a -count
// run when -duration is not given.
const (
	defaultDuration = 10 * time.Second
	countDuration   = time.Hour
)

// defaultConfig returns the defaults.
func defaultConfig() Config {
	return Config{
		Addr:       "127.0.0.1:7070",
		Workload:   workloadCycle,
		Workers:    50,
		Workspaces: 10,
		Members:    1000,
		Keys:       keysRandom,
		Duration:   defaultDuration,
		Timeout:    5 * time.Second,
		Setup:      true,
		Prefix:     "bench",
		ProfileN:   1000,
		Samples:    200,
	}
}

// parseConfig reads the flags in args (without the program name); getenv
// supplies QUOTA_TOKEN. Usage and flag errors are printed on out; -h
// yields flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("quotabench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "quotad's gRPC `address`")
	fs.StringVar(&cfg.Token, "token", "", "bearer `token` sent as authorization metadata (default $QUOTA_TOKEN)")
	fs.StringVar(&cfg.RedisURL, "redis", "", "redis:// `URL` of the Redis quotad uses: enables -raw, -profile and the Redis statistics")
	fs.StringVar(&cfg.Workload, "workload", cfg.Workload, "what to run: reserve, cycle (Reserve→Commit) or mix (60% cycle, 15% refund, 15% extend, 10% denial)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent workers")
	fs.IntVar(&cfg.Workspaces, "workspaces", cfg.Workspaces, "workspaces")
	fs.IntVar(&cfg.Members, "members", cfg.Members, "members (Max seats) per workspace")
	fs.StringVar(&cfg.Keys, "keys", cfg.Keys, "how ops pick keys: random or roundrobin")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the random key picks (0: random)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to run; with -count and no -duration: at most 1h")
	fs.Int64Var(&cfg.Count, "count", 0, "how many ops to run (0: as many as -duration allows)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: ops per second, latency measured from each op's scheduled time (0: closed loop)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "timeout of each call")
	fs.BoolVar(&cfg.Setup, "setup", cfg.Setup, "create the workspaces and seats first (idempotent)")
	fs.StringVar(&cfg.Prefix, "prefix", cfg.Prefix, "workspace id `prefix`: workspaces are <prefix>-0, <prefix>-1, ...")
	fs.BoolVar(&cfg.Raw, "raw", false, "also run the Reserve workload straight on Redis (store package) and print the ratio gRPC/raw; needs -redis")
	fs.BoolVar(&cfg.Reference, "reference", false, "also run the Reserve workload as a minimal reference script (reference.lua) straight on Redis and compare Redis µs per call; needs -redis")
	fs.BoolVar(&cfg.Profile, "profile", false, "measure Redis µs per script call of Reserve, Commit, Extend and Refund in separate phases; needs -redis")
	fs.IntVar(&cfg.ProfileN, "profile-n", cfg.ProfileN, "calls per -profile phase")
	fs.IntVar(&cfg.Samples, "samples", cfg.Samples, "keys sized per record kind (MEMORY USAGE)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write quotabench's own Go CPU profile to `file` (go tool pprof reads it)")

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["token"] {
		cfg.Token = getenv("QUOTA_TOKEN") // not the flag's default: -h would print it
	}
	if cfg.Count > 0 && !given["duration"] {
		cfg.Duration = countDuration
	}
	return cfg, cfg.validate()
}

// validate checks the settings together.
func (c Config) validate() error {
	switch {
	case c.Workload != workloadReserve && c.Workload != workloadCycle && c.Workload != workloadMix:
		return fmt.Errorf("-workload: want reserve, cycle or mix, got %q", c.Workload)
	case c.Keys != keysRandom && c.Keys != keysRoundRobin:
		return fmt.Errorf("-keys: want random or roundrobin, got %q", c.Keys)
	case c.Workers < 1 || c.Workers > 10_000:
		return fmt.Errorf("-workers: want 1 to 10000, got %d", c.Workers)
	case c.Workspaces < 1 || c.Members < 1 || int64(c.Workspaces)*int64(c.Members) > 10_000_000:
		return fmt.Errorf("-workspaces and -members: want at least 1 each and 10^7 seats at most, got %d×%d", c.Workspaces, c.Members)
	case c.Duration <= 0:
		return fmt.Errorf("-duration must be positive, got %s", c.Duration)
	case c.Count < 0:
		return fmt.Errorf("-count must not be negative, got %d", c.Count)
	case c.Rate < 0 || c.Rate > 1e6:
		return fmt.Errorf("-rate: want 0 to 10^6 ops/s, got %g", c.Rate)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout must be positive, got %s", c.Timeout)
	case c.Prefix == "" || strings.ContainsFunc(c.Prefix, badIDRune):
		return fmt.Errorf("-prefix: want 1 or more of [A-Za-z0-9._:@-], got %q", c.Prefix)
	case c.ProfileN < 1 || c.ProfileN > 1_000_000:
		return fmt.Errorf("-profile-n: want 1 to 10^6, got %d", c.ProfileN)
	case c.Samples < 1 || c.Samples > 100_000:
		return fmt.Errorf("-samples: want 1 to 10^5, got %d", c.Samples)
	case (c.Raw || c.Reference || c.Profile) && c.RedisURL == "":
		return errors.New("-raw, -reference and -profile need -redis")
	}
	return nil
}

// badIDRune reports whether r may not appear in a workspace or member id.
func badIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:@-", r))
}

const usageText = `Usage: quotabench [flags]

quotabench loads quotad over gRPC and reports throughput, latency
percentiles per RPC and per op, and errors by gRPC code and reason. With
-redis it also reports Redis µs per script call, bytes per record, bytes
per run and the slow log; -raw compares with the same Reserve load sent
straight to Redis, -reference with a minimal Reserve script (the floor
the real one is compared with), -profile measures each script alone.

Examples:
  quotabench -workload cycle -duration 30s
  quotabench -workload mix -rate 2000 -duration 1m
  quotabench -redis redis://127.0.0.1:6379 -workload cycle -duration 10s -raw -profile
  quotabench -redis redis://127.0.0.1:6379 -workload reserve -duration 10s -raw -reference

Flags:
`
