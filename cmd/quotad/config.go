package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is quotad's configuration. Each field is set by its flag, else by
// its environment variable (the flag's name in upper case, "-" as "_",
// prefixed QUOTA_: -redis-url is QUOTA_REDIS_URL), else it is its default.
//
// At most one Redis is configured: a URL, a cluster, or a Sentinel master.
// With none, quotad runs on the embedded in-process store, which is not
// durable.
type Config struct {
	// Listen is the gRPC listen address. -listen, default "127.0.0.1:7070".
	Listen string
	// RedisURL is a redis:// or rediss:// URL of one Redis server, as
	// redis.ParseURL reads it (user, password, database, TLS). -redis-url,
	// default none.
	RedisURL string
	// RedisCluster lists seed addresses of a Redis Cluster (comma-separated
	// host:port). -redis-cluster, default none.
	RedisCluster []string
	// SentinelMaster is the master's name for Redis Sentinel, and
	// SentinelAddrs the sentinels' addresses (comma-separated host:port);
	// both or neither. -redis-sentinel-master, -redis-sentinel-addrs,
	// default none.
	SentinelMaster string
	SentinelAddrs  []string
	// DefaultTTL is a hold's lifetime when Reserve sets none. -default-ttl,
	// default 5m.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL bound a requested hold lifetime. -min-ttl, default
	// 1s; -max-ttl, default 24h.
	MinTTL, MaxTTL time.Duration
	// SweepInterval is how often the sweeper releases expired holds (up to
	// 1000 a tick). Any number of replicas may sweep. -sweep-interval,
	// default 1s.
	SweepInterval time.Duration
	// PricingRefresh is how often the price table is reloaded from Redis,
	// so that a table set through another replica is used here too.
	// -pricing-refresh, default 10s.
	PricingRefresh time.Duration
	// ShutdownTimeout bounds the drain of calls in flight at shutdown;
	// those still running then are cut. -shutdown-timeout, default 10s.
	ShutdownTimeout time.Duration
	// LogLevel is the least level logged: debug, info, warn or error.
	// -log-level, default info.
	LogLevel slog.Level
}

// defaultConfig returns the defaults.
func defaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:7070",
		DefaultTTL:      5 * time.Minute,
		MinTTL:          time.Second,
		MaxTTL:          24 * time.Hour,
		SweepInterval:   time.Second,
		PricingRefresh:  10 * time.Second,
		ShutdownTimeout: 10 * time.Second,
		LogLevel:        slog.LevelInfo,
	}
}

// envName returns the environment variable of a flag.
func envName(flagName string) string {
	return "QUOTA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads the configuration from args (without the program
// name), falling back to getenv for each flag not given. Usage and flag
// errors are printed on out; -h yields flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("quotad", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: quotad [flags]\n\nquotad serves the quota gRPC API. Each flag falls back to the environment variable shown.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "gRPC listen `address`")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "redis:// or rediss:// `URL` of Redis; with no Redis set, the embedded store is used: NOT durable")
	fs.Var((*listValue)(&cfg.RedisCluster), "redis-cluster", "comma-separated seed `addresses` of a Redis Cluster")
	fs.StringVar(&cfg.SentinelMaster, "redis-sentinel-master", "", "Redis Sentinel master `name`")
	fs.Var((*listValue)(&cfg.SentinelAddrs), "redis-sentinel-addrs", "comma-separated Redis Sentinel `addresses`")
	fs.DurationVar(&cfg.DefaultTTL, "default-ttl", cfg.DefaultTTL, "a hold's lifetime when Reserve sets none")
	fs.DurationVar(&cfg.MinTTL, "min-ttl", cfg.MinTTL, "the shortest hold lifetime a request may set")
	fs.DurationVar(&cfg.MaxTTL, "max-ttl", cfg.MaxTTL, "the longest hold lifetime a request may set")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", cfg.SweepInterval, "how often expired holds are released in the background")
	fs.DurationVar(&cfg.PricingRefresh, "pricing-refresh", cfg.PricingRefresh, "how often the price table is reloaded from Redis")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long calls in flight may drain at shutdown")
	fs.TextVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "least `level` logged: debug, info, warn or error")
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (env " + envName(f.Name) + ")" })

	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return Config{}, err
	} else if err != nil {
		return Config{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q for %s: %v", v, envName(f.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, cfg.validate()
}

// validate checks the settings together.
func (c Config) validate() error {
	redises := 0
	for _, set := range []bool{c.RedisURL != "", len(c.RedisCluster) > 0, c.SentinelMaster != "" || len(c.SentinelAddrs) > 0} {
		if set {
			redises++
		}
	}
	switch {
	case c.Listen == "":
		return errors.New("-listen is empty")
	case redises > 1:
		return errors.New("set at most one of -redis-url, -redis-cluster and -redis-sentinel-master/-redis-sentinel-addrs")
	case (c.SentinelMaster == "") != (len(c.SentinelAddrs) == 0):
		return errors.New("-redis-sentinel-master and -redis-sentinel-addrs go together")
	case c.MinTTL <= 0 || c.MinTTL > c.DefaultTTL || c.DefaultTTL > c.MaxTTL:
		return fmt.Errorf("want 0 < -min-ttl <= -default-ttl <= -max-ttl, got %s, %s, %s", c.MinTTL, c.DefaultTTL, c.MaxTTL)
	case c.SweepInterval <= 0:
		return fmt.Errorf("-sweep-interval must be positive, got %s", c.SweepInterval)
	case c.PricingRefresh <= 0:
		return fmt.Errorf("-pricing-refresh must be positive, got %s", c.PricingRefresh)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("-shutdown-timeout must be positive, got %s", c.ShutdownTimeout)
	}
	if c.RedisURL != "" {
		if _, err := parseRedisURL(c.RedisURL); err != nil {
			return err
		}
	}
	return nil
}

// parseRedisURL parses a -redis-url. Its error never quotes the URL, which
// may hold a password.
func parseRedisURL(s string) (*redis.Options, error) {
	opt, err := redis.ParseURL(s)
	if err != nil {
		// A *url.Error quotes the URL: keep only its reason.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("-redis-url: %w", err)
	}
	return opt, nil
}

// usageError is a flag error that the flag package has printed already,
// with the usage.
type usageError struct{ err error }

// Error returns the flag error.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the flag error.
func (e usageError) Unwrap() error { return e.err }

// listValue is a flag of comma-separated values; empty items are dropped.
type listValue []string

// String returns the values, comma-separated.
func (l *listValue) String() string { return strings.Join(*l, ",") }

// Set replaces the values with those of s.
func (l *listValue) Set(s string) error {
	*l = nil
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
