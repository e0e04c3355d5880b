package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/store"
)

// Config is quotad's configuration: one struct, every field a setting.
//
// Each setting has a flag (-redis-url), an environment variable (the
// flag's name in upper case, "-" as "_", prefixed QUOTA_:
// QUOTA_REDIS_URL) and a key in the optional YAML config file (-config:
// the flag's name, redis-url). A flag beats its environment variable,
// which beats the file, which beats the default. Secrets are never flags
// (a flag shows in ps): they come from the environment only
// (QUOTA_TOKENS, QUOTA_REDIS_PASSWORD, QUOTA_REDIS_SENTINEL_PASSWORD) or
// from files named by flags (-tokens-file, -redis-password-file,
// -redis-sentinel-password-file).
//
// At most one Redis is configured: a URL, a cluster, or a Sentinel master.
// With none, quotad runs on the embedded in-process store, which is not
// durable. Validate names the setting of every error.
type Config struct {
	// ConfigFile is the YAML config file read at start, if any. -config.
	ConfigFile string

	// Listen is the gRPC listen address. -listen, default "127.0.0.1:7070".
	Listen string
	// HealthListen is the address of a second, plaintext gRPC listener
	// serving only the health service, unauthenticated, for probes that
	// can speak neither TLS nor tokens (Kubernetes' gRPC probes); empty
	// turns it off. -health-listen, default "".
	HealthListen string
	// MetricsListen is the address of the HTTP listener serving /metrics
	// (Prometheus); empty turns it off. -metrics-listen, default
	// "127.0.0.1:9464".
	MetricsListen string
	// Pprof also serves Go's runtime profiles (net/http/pprof, under
	// /debug/pprof/, but not the command line) on MetricsListen, to find
	// where quotad's CPU and memory go. Off by default: profiles show the
	// process's internals, so the address must stay private. -pprof,
	// default false.
	Pprof bool

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
	// RedisUsername is the ACL user quotad logs in to Redis (single,
	// Sentinel-managed or Cluster) as; empty is "default".
	// -redis-username.
	RedisUsername string
	// RedisPassword is that user's password: QUOTA_REDIS_PASSWORD
	// (environment only), else the content of RedisPasswordFile
	// (-redis-password-file; one trailing newline dropped).
	RedisPassword     string
	RedisPasswordFile string
	// SentinelUsername and SentinelPassword log in to the sentinels
	// themselves, when they require it: -redis-sentinel-username,
	// QUOTA_REDIS_SENTINEL_PASSWORD (environment only) or
	// -redis-sentinel-password-file.
	SentinelUsername     string
	SentinelPassword     string
	SentinelPasswordFile string
	// RedisTLS turns on TLS to Redis (implied by a rediss:// URL).
	// -redis-tls, default false.
	RedisTLS bool
	// RedisTLSCA is a PEM file of the CAs that sign Redis's certificate
	// (default: the system's). -redis-tls-ca.
	RedisTLSCA string
	// RedisTLSCert and RedisTLSKey are PEM files of a client certificate,
	// for a Redis that requires one (tls-auth-clients). -redis-tls-cert,
	// -redis-tls-key.
	RedisTLSCert, RedisTLSKey string
	// RedisTLSServerName is the name expected in Redis's certificate
	// (default: the host dialed). -redis-tls-server-name.
	RedisTLSServerName string
	// RedisDialTimeout, RedisReadTimeout and RedisWriteTimeout bound one
	// connection attempt, one reply and one write. -redis-dial-timeout,
	// -redis-read-timeout, -redis-write-timeout, default 1s each.
	RedisDialTimeout, RedisReadTimeout, RedisWriteTimeout time.Duration
	// RedisPoolSize is the Redis connections per node (0: the client's
	// default, 10 per CPU). -redis-pool-size, default 0.
	RedisPoolSize int
	// RedisPoolTimeout bounds the wait for a free pooled connection.
	// -redis-pool-timeout, default 1s.
	RedisPoolTimeout time.Duration
	// RedisMaxRetries is how many times the client retries a command
	// whose connection failed (scripts are safe to run twice); 0 never.
	// -redis-max-retries, default 2.
	RedisMaxRetries int
	// RedisClusterReload is how often the Cluster client reloads the slot
	// map without being told to; quotad also asks for a reload whenever a
	// node cannot be reached, so that a failover is followed as soon as
	// the replica is promoted. -redis-cluster-reload, default 2s.
	RedisClusterReload time.Duration
	// RedisWaitReplicas, when above 0, makes every call wait until that
	// many replicas have its writes (Redis WAIT) before it answers, so
	// that a failover loses nothing acknowledged; a call whose writes
	// reach fewer within RedisWaitTimeout is UNAVAILABLE (safe to retry).
	// Needs a Redis (not the embedded store). -redis-wait-replicas,
	// default 0 (asynchronous replication).
	RedisWaitReplicas int
	// RedisWaitTimeout bounds that wait; below -redis-read-timeout and
	// -store-timeout. -redis-wait-timeout, default 500ms.
	RedisWaitTimeout time.Duration

	// StoreTimeout bounds the store's work in one call: past it the call
	// fails UNAVAILABLE / STORE_UNAVAILABLE. -store-timeout, default 2s.
	StoreTimeout time.Duration
	// CallTimeout is the deadline of a call that brings none.
	// -call-timeout, default 10s.
	CallTimeout time.Duration

	// HealthInterval is how often Redis is PINGed for the health service;
	// HealthTimeout bounds one PING; after HealthFailures failures in a
	// row health is NOT_SERVING, until a PING answers. -health-interval
	// (1s), -health-timeout (1s), -health-failures (2).
	HealthInterval, HealthTimeout time.Duration
	HealthFailures                int

	// TokensFile is a YAML file of bearer tokens (see tokens.go), re-read
	// when it changes. -tokens-file.
	TokensFile string
	// Tokens is the same, inline: QUOTA_TOKENS, environment only. Both
	// may be set; their tokens add up.
	Tokens string
	// AllowUnauthenticated lets quotad serve without tokens on a real
	// Redis (logged at WARN). -allow-unauthenticated, default false.
	AllowUnauthenticated bool
	// Reflection serves gRPC server reflection. -reflection, default false.
	Reflection bool
	// TLSCert and TLSKey are PEM files of the gRPC listener's certificate
	// and key: TLS on. TLSClientCA, a PEM file of CAs, requires and
	// verifies client certificates (mutual TLS). All are re-read when they
	// change. -tls-cert, -tls-key, -tls-client-ca.
	TLSCert, TLSKey, TLSClientCA string
	// ReloadInterval is how often the tokens and TLS files are checked for
	// changes. -reload-interval, default 2s.
	ReloadInterval time.Duration

	// MaxRecvMsgSize and MaxSendMsgSize bound one request and one reply,
	// in bytes (KiB, MiB suffixes allowed). -max-recv-msg-size,
	// -max-send-msg-size, default 4MiB each.
	MaxRecvMsgSize, MaxSendMsgSize int
	// MaxConcurrentStreams bounds the calls in flight on one connection.
	// -max-concurrent-streams, default 100.
	MaxConcurrentStreams int
	// StreamWorkers is how many goroutines serve calls and stay, each
	// taking the next call when it is done (grpc.NumStreamWorkers): a
	// call's goroutine then keeps the stack it grew, rather than a new
	// goroutine growing one per call (about 10% of quotad's CPU at half
	// the maximum cycle rate; BENCHMARKS.md). A call that finds every
	// worker busy gets a goroutine of its own, as with 0 (no workers).
	// -stream-workers, default 64, at most maxStreamWorkers.
	StreamWorkers int
	// MaxHeaderListSize bounds a call's metadata, in bytes.
	// -max-header-list-size, default 16KiB.
	MaxHeaderListSize int
	// MaxConnections caps the open gRPC connections; one more is closed
	// at once. 0 is the file-descriptor limit (raised to its hard limit
	// at start) less FDReserve. -max-connections, default 0.
	MaxConnections int
	// FDReserve is the file descriptors kept for everything but gRPC
	// clients: Redis connections, the metrics listener, files.
	// -fd-reserve, default 256.
	FDReserve int
	// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
	// -handshake-timeout, default 5s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that had no call for that long.
	// -idle-timeout, default 5m.
	IdleTimeout time.Duration
	// MaxConnectionAge closes connections older than that, gracefully, so
	// that clients spread over new replicas; 0 never. -max-connection-age,
	// default 0.
	MaxConnectionAge time.Duration
	// KeepaliveTime is how long a connection may be silent before quotad
	// pings it, and KeepaliveTimeout how long the ping may take before the
	// connection is closed. -keepalive-time (1m), -keepalive-timeout (20s).
	KeepaliveTime, KeepaliveTimeout time.Duration
	// KeepaliveMinTime is the shortest interval between a client's pings;
	// a client pinging more often is disconnected. -keepalive-min-time,
	// default 10s.
	KeepaliveMinTime time.Duration

	// DefaultTTL is a hold's lifetime when Reserve sets none. -default-ttl,
	// default 5m.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL bound a requested hold lifetime. -min-ttl, default
	// 1s; -max-ttl, default 24h.
	MinTTL, MaxTTL time.Duration
	// SweepInterval is how often the sweeper releases expired holds (up to
	// 10,000 a tick, 16 a call). Any number of replicas may sweep.
	// -sweep-interval, default 1s.
	SweepInterval time.Duration
	// AuditInterval is how often this replica audits every workspace
	// (AdminService.AuditWorkspace: reads only), logging and counting any
	// drift; 0 turns the scheduled audits off. -audit-interval, default
	// 24h.
	AuditInterval time.Duration
	// PricingRefresh is how often the current price version is read from
	// Redis, so that a version set through another replica is used here
	// too (one small read). -pricing-refresh, default 2s.
	PricingRefresh time.Duration
	// RunRetention is how long a settled run (its root and children, with
	// their costs) is kept after its root settled; GetReservation is
	// NOT_FOUND after that. It covers the 48-hour idempotency window and
	// late commits of expired holds. -run-retention, default 72h.
	RunRetention time.Duration
	// LedgerRetention and EventsRetention are how long ledger and event
	// entries are kept (never past what a consumer group has not
	// acknowledged). -ledger-retention, -events-retention, default 168h.
	LedgerRetention, EventsRetention time.Duration
	// UsageRetention is how long the daily usage buckets of GetUsage are
	// kept (a day's are deleted once the day ended that long ago).
	// -usage-retention, default 9600h (400 days).
	UsageRetention time.Duration
	// ShutdownGrace is how long quotad goes on serving after SIGTERM while
	// health reports NOT_SERVING, so that probes and load balancers see it.
	// -shutdown-grace, default 5s.
	ShutdownGrace time.Duration
	// ShutdownTimeout bounds the drain of calls in flight after the grace;
	// those still running then are cut. -shutdown-timeout, default 10s.
	ShutdownTimeout time.Duration
	// LogLevel is the least level logged: debug, info, warn or error.
	// -log-level, default info.
	LogLevel slog.Level
	// LogFormat is json, text, or auto: text on a terminal, else JSON.
	// -log-format, default auto.
	LogFormat string
}

// maxStreamWorkers bounds -stream-workers: its goroutines are started at
// once, each with a stack of a few KiB that grows with the calls it serves.
const maxStreamWorkers = 1 << 16

// defaultConfig returns the defaults.
func defaultConfig() Config {
	return Config{
		Listen:               "127.0.0.1:7070",
		MetricsListen:        "127.0.0.1:9464",
		RedisDialTimeout:     time.Second,
		RedisReadTimeout:     time.Second,
		RedisWriteTimeout:    time.Second,
		RedisPoolTimeout:     time.Second,
		RedisMaxRetries:      2,
		RedisClusterReload:   2 * time.Second,
		RedisWaitTimeout:     store.DefaultWaitTimeout,
		StoreTimeout:         2 * time.Second,
		CallTimeout:          10 * time.Second,
		HealthInterval:       time.Second,
		HealthTimeout:        time.Second,
		HealthFailures:       2,
		ReloadInterval:       2 * time.Second,
		MaxRecvMsgSize:       4 << 20,
		MaxSendMsgSize:       4 << 20,
		MaxConcurrentStreams: 100,
		StreamWorkers:        64,
		MaxHeaderListSize:    16 << 10,
		FDReserve:            256,
		HandshakeTimeout:     5 * time.Second,
		IdleTimeout:          5 * time.Minute,
		KeepaliveTime:        time.Minute,
		KeepaliveTimeout:     20 * time.Second,
		KeepaliveMinTime:     10 * time.Second,
		DefaultTTL:           5 * time.Minute,
		MinTTL:               time.Second,
		MaxTTL:               24 * time.Hour,
		SweepInterval:        time.Second,
		AuditInterval:        24 * time.Hour,
		PricingRefresh:       2 * time.Second,
		RunRetention:         store.DefaultRunRetention,
		LedgerRetention:      store.DefaultStreamRetention,
		EventsRetention:      store.DefaultStreamRetention,
		UsageRetention:       store.DefaultUsageRetention,
		ShutdownGrace:        5 * time.Second,
		ShutdownTimeout:      10 * time.Second,
		LogLevel:             slog.LevelInfo,
		LogFormat:            "auto",
	}
}

// embedded tells whether c runs on the embedded store.
func (c Config) embedded() bool {
	return c.RedisURL == "" && len(c.RedisCluster) == 0 && c.SentinelMaster == ""
}

// validate checks the settings together; every error names its setting.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	redises := 0
	for _, set := range []bool{c.RedisURL != "", len(c.RedisCluster) > 0, c.SentinelMaster != "" || len(c.SentinelAddrs) > 0} {
		if set {
			redises++
		}
	}
	if c.Listen == "" {
		bad("-listen is empty")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("-listen %q: %v", c.Listen, err)
	}
	if c.HealthListen != "" {
		if _, _, err := net.SplitHostPort(c.HealthListen); err != nil {
			bad("-health-listen %q: %v", c.HealthListen, err)
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("-metrics-listen %q: %v", c.MetricsListen, err)
		}
	}
	if c.Pprof && c.MetricsListen == "" {
		bad("-pprof serves on -metrics-listen, which is empty")
	}
	if redises > 1 {
		bad("set at most one of -redis-url, -redis-cluster and -redis-sentinel-master/-redis-sentinel-addrs")
	}
	if (c.SentinelMaster == "") != (len(c.SentinelAddrs) == 0) {
		bad("-redis-sentinel-master and -redis-sentinel-addrs go together")
	}
	if c.AuditInterval < 0 {
		bad("-audit-interval must not be negative (0 turns the scheduled audits off), got %s", c.AuditInterval)
	}
	if c.MinTTL <= 0 || c.MinTTL > c.DefaultTTL || c.DefaultTTL > c.MaxTTL {
		bad("want 0 < -min-ttl <= -default-ttl <= -max-ttl, got %s, %s, %s", c.MinTTL, c.DefaultTTL, c.MaxTTL)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"-sweep-interval", c.SweepInterval}, {"-pricing-refresh", c.PricingRefresh},
		{"-run-retention", c.RunRetention}, {"-ledger-retention", c.LedgerRetention},
		{"-events-retention", c.EventsRetention}, {"-usage-retention", c.UsageRetention},
		{"-shutdown-timeout", c.ShutdownTimeout}, {"-redis-dial-timeout", c.RedisDialTimeout},
		{"-redis-read-timeout", c.RedisReadTimeout}, {"-redis-write-timeout", c.RedisWriteTimeout},
		{"-redis-pool-timeout", c.RedisPoolTimeout}, {"-redis-cluster-reload", c.RedisClusterReload},
		{"-redis-wait-timeout", c.RedisWaitTimeout},
		{"-store-timeout", c.StoreTimeout}, {"-call-timeout", c.CallTimeout},
		{"-health-interval", c.HealthInterval}, {"-health-timeout", c.HealthTimeout},
		{"-reload-interval", c.ReloadInterval}, {"-handshake-timeout", c.HandshakeTimeout},
		{"-idle-timeout", c.IdleTimeout}, {"-keepalive-time", c.KeepaliveTime},
		{"-keepalive-timeout", c.KeepaliveTimeout}, {"-keepalive-min-time", c.KeepaliveMinTime},
	} {
		if d.v <= 0 {
			bad("%s must be positive, got %s", d.name, d.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"-shutdown-grace", c.ShutdownGrace}, {"-max-connection-age", c.MaxConnectionAge}} {
		if d.v < 0 {
			bad("%s must not be negative, got %s", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
		min  int
	}{
		{"-max-recv-msg-size", c.MaxRecvMsgSize, 1 << 10}, {"-max-send-msg-size", c.MaxSendMsgSize, 1 << 10},
		{"-max-concurrent-streams", c.MaxConcurrentStreams, 1}, {"-max-header-list-size", c.MaxHeaderListSize, 1 << 10},
		{"-stream-workers", c.StreamWorkers, 0},
		{"-max-connections", c.MaxConnections, 0}, {"-fd-reserve", c.FDReserve, 16},
		{"-redis-pool-size", c.RedisPoolSize, 0}, {"-redis-max-retries", c.RedisMaxRetries, 0},
		{"-redis-wait-replicas", c.RedisWaitReplicas, 0},
		{"-health-failures", c.HealthFailures, 1},
	} {
		if n.v < n.min {
			bad("%s must be at least %d, got %d", n.name, n.min, n.v)
		}
	}
	// Both are handed to gRPC as uint32; workers are goroutines started at
	// once.
	for _, n := range []struct {
		name string
		v    int
		max  int
	}{{"-stream-workers", c.StreamWorkers, maxStreamWorkers}, {"-max-concurrent-streams", c.MaxConcurrentStreams, math.MaxUint32}} {
		if n.v > n.max {
			bad("%s must be at most %d, got %d", n.name, n.max, n.v)
		}
	}
	if c.RunRetention > 0 && c.RunRetention < store.IdempotencyWindow {
		bad("-run-retention must be at least %s, the idempotency window (a retried Reserve finds its reservation through the run's records), got %s",
			store.IdempotencyWindow, c.RunRetention)
	}
	if c.StoreTimeout > c.CallTimeout {
		bad("-store-timeout (%s) must not exceed -call-timeout (%s)", c.StoreTimeout, c.CallTimeout)
	}
	if c.RedisWaitReplicas > 0 {
		if redises == 0 {
			bad("-redis-wait-replicas needs a Redis with replicas (-redis-url, -redis-cluster or -redis-sentinel-*), not the embedded store")
		}
		if c.RedisWaitTimeout < time.Millisecond {
			bad("-redis-wait-timeout must be at least 1ms (Redis counts WAIT's timeout in ms; 0 waits for ever), got %s", c.RedisWaitTimeout)
		}
		if c.RedisWaitTimeout >= c.RedisReadTimeout || c.RedisWaitTimeout >= c.StoreTimeout {
			bad("-redis-wait-timeout (%s) must be below -redis-read-timeout (%s) and -store-timeout (%s)",
				c.RedisWaitTimeout, c.RedisReadTimeout, c.StoreTimeout)
		}
	}
	if c.HealthTimeout > c.HealthInterval {
		bad("-health-timeout (%s) must not exceed -health-interval (%s)", c.HealthTimeout, c.HealthInterval)
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		bad("-log-format %q: want auto, json or text", c.LogFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("-tls-cert and -tls-key go together")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		bad("-tls-client-ca (mutual TLS) needs -tls-cert and -tls-key")
	}
	if (c.RedisTLSCert == "") != (c.RedisTLSKey == "") {
		bad("-redis-tls-cert and -redis-tls-key go together")
	}
	if c.RedisPassword != "" && c.RedisPasswordFile != "" {
		bad("set QUOTA_REDIS_PASSWORD or -redis-password-file, not both")
	}
	if c.SentinelPassword != "" && c.SentinelPasswordFile != "" {
		bad("set QUOTA_REDIS_SENTINEL_PASSWORD or -redis-sentinel-password-file, not both")
	}
	if c.embedded() && (c.RedisUsername != "" || c.RedisPassword != "" || c.RedisPasswordFile != "" || c.RedisTLS || c.RedisTLSCA != "") {
		bad("-redis-username, -redis-password-file, QUOTA_REDIS_PASSWORD and -redis-tls* need a Redis: set -redis-url, -redis-cluster or -redis-sentinel-master")
	}
	if c.RedisURL != "" {
		opt, err := parseRedisURL(c.RedisURL)
		switch {
		case err != nil:
			errs = append(errs, err)
		case opt.Password != "" && (c.RedisPassword != "" || c.RedisPasswordFile != ""):
			bad("-redis-url has a password: do not also set QUOTA_REDIS_PASSWORD or -redis-password-file")
		}
	}
	if !c.embedded() && !c.AllowUnauthenticated && c.TokensFile == "" && c.Tokens == "" {
		bad("no bearer tokens: with a Redis configured, set -tokens-file or QUOTA_TOKENS, " +
			"or -allow-unauthenticated to serve anyone who can reach -listen")
	}
	return errors.Join(errs...)
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
