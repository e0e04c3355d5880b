package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// secretEnv are the settings read from the environment only, never from a
// flag or the config file: they hold secrets.
var secretEnv = []struct {
	name, usage string
	field       func(*Config) *string
}{
	{"QUOTA_TOKENS", "bearer tokens, in the -tokens-file format (YAML or JSON)", func(c *Config) *string { return &c.Tokens }},
	{"QUOTA_REDIS_PASSWORD", "password of -redis-username (or of the default user)", func(c *Config) *string { return &c.RedisPassword }},
	{"QUOTA_REDIS_SENTINEL_PASSWORD", "password of the sentinels themselves", func(c *Config) *string { return &c.SentinelPassword }},
}

// newFlagSet returns the flags of every setting, bound to cfg's fields.
func newFlagSet(cfg *Config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("quotad", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `Usage: quotad [flags]

quotad serves the quota gRPC API. Each flag falls back to the environment
variable shown, then to the key of its name in the YAML file of -config
(e.g. "redis-url: redis://h:6379/0"), then to its default.

Environment only (secrets are never flags):
`)
		for _, s := range secretEnv {
			fmt.Fprintf(out, "  %s\n    \t%s\n", s.name, s.usage)
		}
		fmt.Fprint(out, "\nFlags:\n")
		fs.PrintDefaults()
	}
	str := func(p *string, name, usage string) { fs.StringVar(p, name, *p, usage) }
	fs.StringVar(&cfg.ConfigFile, "config", "", "YAML config `file`: keys are flag names")

	str(&cfg.Listen, "listen", "gRPC listen `address`")
	str(&cfg.HealthListen, "health-listen", "`address` of a plaintext gRPC listener serving only health, for probes; empty turns it off")
	str(&cfg.MetricsListen, "metrics-listen", "HTTP `address` serving Prometheus /metrics; empty turns it off")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "also serve Go's profiles (/debug/pprof/) on -metrics-listen: keep that address private")

	str(&cfg.RedisURL, "redis-url", "redis:// or rediss:// `URL` of Redis; with no Redis set, the embedded store is used: NOT durable")
	fs.Var((*listValue)(&cfg.RedisCluster), "redis-cluster", "comma-separated seed `addresses` of a Redis Cluster")
	str(&cfg.SentinelMaster, "redis-sentinel-master", "Redis Sentinel master `name`")
	fs.Var((*listValue)(&cfg.SentinelAddrs), "redis-sentinel-addrs", "comma-separated Redis Sentinel `addresses`")
	str(&cfg.RedisUsername, "redis-username", "Redis ACL `user` (single, Sentinel-managed and Cluster alike)")
	str(&cfg.RedisPasswordFile, "redis-password-file", "`file` holding the Redis password (or set QUOTA_REDIS_PASSWORD)")
	str(&cfg.SentinelUsername, "redis-sentinel-username", "ACL `user` of the sentinels themselves, if they require one")
	str(&cfg.SentinelPasswordFile, "redis-sentinel-password-file", "`file` holding the sentinels' password (or set QUOTA_REDIS_SENTINEL_PASSWORD)")
	fs.BoolVar(&cfg.RedisTLS, "redis-tls", cfg.RedisTLS, "connect to Redis with TLS (implied by rediss://)")
	str(&cfg.RedisTLSCA, "redis-tls-ca", "PEM `file` of the CAs of Redis's certificate (default: the system's)")
	str(&cfg.RedisTLSCert, "redis-tls-cert", "PEM `file` of a client certificate for Redis")
	str(&cfg.RedisTLSKey, "redis-tls-key", "PEM `file` of the key of -redis-tls-cert")
	str(&cfg.RedisTLSServerName, "redis-tls-server-name", "`name` expected in Redis's certificate (default: the host dialed)")
	fs.DurationVar(&cfg.RedisDialTimeout, "redis-dial-timeout", cfg.RedisDialTimeout, "bound of one Redis connection attempt")
	fs.DurationVar(&cfg.RedisReadTimeout, "redis-read-timeout", cfg.RedisReadTimeout, "bound of one Redis reply")
	fs.DurationVar(&cfg.RedisWriteTimeout, "redis-write-timeout", cfg.RedisWriteTimeout, "bound of one Redis write")
	fs.IntVar(&cfg.RedisPoolSize, "redis-pool-size", cfg.RedisPoolSize, "Redis connections per node; 0: 10 per CPU")
	fs.DurationVar(&cfg.RedisPoolTimeout, "redis-pool-timeout", cfg.RedisPoolTimeout, "bound of the wait for a free Redis connection")
	fs.IntVar(&cfg.RedisMaxRetries, "redis-max-retries", cfg.RedisMaxRetries, "retries of a Redis command whose connection failed; 0: none")
	fs.IntVar(&cfg.RedisWaitReplicas, "redis-wait-replicas", cfg.RedisWaitReplicas, "replicas that must have a call's writes (WAIT) before it answers; 0: none (asynchronous replication)")
	fs.DurationVar(&cfg.RedisWaitTimeout, "redis-wait-timeout", cfg.RedisWaitTimeout, "bound of the wait for -redis-wait-replicas; past it the call is UNAVAILABLE")
	fs.DurationVar(&cfg.RedisClusterReload, "redis-cluster-reload", cfg.RedisClusterReload, "how often the Cluster slot map is reloaded (also at once when a node is unreachable)")

	fs.DurationVar(&cfg.StoreTimeout, "store-timeout", cfg.StoreTimeout, "bound of the store's work in one call; past it the call is UNAVAILABLE")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", cfg.CallTimeout, "deadline of a call that brings none")
	fs.DurationVar(&cfg.HealthInterval, "health-interval", cfg.HealthInterval, "how often Redis is PINGed for the health service")
	fs.DurationVar(&cfg.HealthTimeout, "health-timeout", cfg.HealthTimeout, "bound of one health PING")
	fs.IntVar(&cfg.HealthFailures, "health-failures", cfg.HealthFailures, "failed PINGs in a row that turn health NOT_SERVING")

	str(&cfg.TokensFile, "tokens-file", "YAML `file` of bearer tokens (name, token or sha256, role, workspaces), re-read on change")
	fs.BoolVar(&cfg.AllowUnauthenticated, "allow-unauthenticated", cfg.AllowUnauthenticated, "serve without tokens on a real Redis: anyone who reaches -listen can do anything")
	fs.BoolVar(&cfg.Reflection, "reflection", cfg.Reflection, "serve gRPC server reflection")
	str(&cfg.TLSCert, "tls-cert", "PEM `file` of the gRPC certificate (chain): TLS on; re-read on change")
	str(&cfg.TLSKey, "tls-key", "PEM `file` of the key of -tls-cert")
	str(&cfg.TLSClientCA, "tls-client-ca", "PEM `file` of CAs: require and verify client certificates (mutual TLS)")
	fs.DurationVar(&cfg.ReloadInterval, "reload-interval", cfg.ReloadInterval, "how often -tokens-file and the TLS files are checked for changes")

	fs.Var((*sizeValue)(&cfg.MaxRecvMsgSize), "max-recv-msg-size", "largest request, in `bytes` (KiB, MiB allowed)")
	fs.Var((*sizeValue)(&cfg.MaxSendMsgSize), "max-send-msg-size", "largest reply, in `bytes` (KiB, MiB allowed)")
	fs.IntVar(&cfg.MaxConcurrentStreams, "max-concurrent-streams", cfg.MaxConcurrentStreams, "calls in flight on one connection")
	fs.Var((*sizeValue)(&cfg.MaxHeaderListSize), "max-header-list-size", "largest call metadata, in `bytes`")
	fs.IntVar(&cfg.StreamWorkers, "stream-workers", cfg.StreamWorkers, "goroutines that serve calls one after the other; 0: a new goroutine per call")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "open gRPC connections; 0: the file-descriptor limit less -fd-reserve")
	fs.IntVar(&cfg.FDReserve, "fd-reserve", cfg.FDReserve, "file descriptors kept for Redis, metrics and files")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", cfg.HandshakeTimeout, "bound of a new connection's TLS and HTTP/2 handshake")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "a connection with no call for that long is closed")
	fs.DurationVar(&cfg.MaxConnectionAge, "max-connection-age", cfg.MaxConnectionAge, "connections older than that are closed gracefully; 0: never")
	fs.DurationVar(&cfg.KeepaliveTime, "keepalive-time", cfg.KeepaliveTime, "a silent connection is pinged after that long")
	fs.DurationVar(&cfg.KeepaliveTimeout, "keepalive-timeout", cfg.KeepaliveTimeout, "a ping unanswered for that long closes the connection")
	fs.DurationVar(&cfg.KeepaliveMinTime, "keepalive-min-time", cfg.KeepaliveMinTime, "a client pinging more often than that is disconnected")

	fs.DurationVar(&cfg.DefaultTTL, "default-ttl", cfg.DefaultTTL, "a hold's lifetime when Reserve sets none")
	fs.DurationVar(&cfg.MinTTL, "min-ttl", cfg.MinTTL, "the shortest hold lifetime a request may set")
	fs.DurationVar(&cfg.MaxTTL, "max-ttl", cfg.MaxTTL, "the longest hold lifetime a request may set")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", cfg.SweepInterval, "how often expired holds are released in the background")
	fs.DurationVar(&cfg.AuditInterval, "audit-interval", cfg.AuditInterval, "how often every workspace is audited (reads only; drift is logged and counted); 0: never")
	fs.DurationVar(&cfg.PricingRefresh, "pricing-refresh", cfg.PricingRefresh, "how often the current price version is read from Redis")
	fs.DurationVar(&cfg.RunRetention, "run-retention", cfg.RunRetention, "how long a settled run is kept after its root settled")
	fs.DurationVar(&cfg.LedgerRetention, "ledger-retention", cfg.LedgerRetention, "how long ledger entries are kept (never past what a consumer group has not acknowledged)")
	fs.DurationVar(&cfg.EventsRetention, "events-retention", cfg.EventsRetention, "how long event entries are kept (never past what a consumer group has not acknowledged)")
	fs.DurationVar(&cfg.UsageRetention, "usage-retention", cfg.UsageRetention, "how long the daily usage buckets of GetUsage are kept")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "after SIGTERM, how long quotad serves on while health says NOT_SERVING")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long calls in flight may drain after the grace")
	fs.TextVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "least `level` logged: debug, info, warn or error")
	str(&cfg.LogFormat, "log-format", "log `format`: json, text, or auto (text on a terminal, else JSON)")
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (env " + envName(f.Name) + ")" })
	return fs
}

// envName returns the environment variable of a flag.
func envName(flagName string) string {
	return "QUOTA_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads the configuration from args (without the program
// name), falling back to getenv, then to the config file, for each flag
// not given. Usage and flag errors are printed on out; -h yields
// flag.ErrHelp. The result is validated.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	cfg := defaultConfig()
	fs := newFlagSet(&cfg, out)
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
	fromEnv := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			fromEnv[f.Name] = true
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q for %s: %v", v, envName(f.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if cfg.ConfigFile != "" {
		if err := applyFile(fs, cfg.ConfigFile, func(name string) bool { return given[name] || fromEnv[name] }); err != nil {
			return Config{}, err
		}
	}
	for _, s := range secretEnv {
		*s.field(&cfg) = getenv(s.name)
	}
	return cfg, cfg.validate()
}

// applyFile sets, from the YAML config file path, every flag that skip
// does not claim. Keys are flag names; a value is a string, a number, a
// boolean or a list (for the comma-separated settings).
func applyFile(fs *flag.FlagSet, path string, skip func(name string) bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("-config %s: %w", path, err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			errs = append(errs, fmt.Errorf("-config %s: unknown setting %q (keys are flag names; secrets go in the environment)", path, k))
			continue
		}
		if skip(k) {
			continue
		}
		v, err := fileValue(doc[k])
		if err == nil {
			err = f.Value.Set(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("-config %s: invalid value for %s: %v", path, k, err))
		}
	}
	return errors.Join(errs...)
}

// fileValue spells a YAML value as its flag would take it.
func fileValue(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			s, err := fileValue(x)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unsupported value of type %T", v)
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

// sizeValue is a flag of a size in bytes: a number, optionally followed
// by KiB, MiB or GiB.
type sizeValue int

// String returns the size in bytes.
func (s *sizeValue) String() string { return strconv.Itoa(int(*s)) }

// Set parses a size.
func (s *sizeValue) Set(v string) error {
	mult := 1
	num := strings.TrimSpace(v)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(num, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(num, u.suffix))
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		return fmt.Errorf("want a size in bytes such as 4194304 or 4MiB, got %q", v)
	}
	*s = sizeValue(n * mult)
	return nil
}
