// Command quotad serves the quota gRPC API (quota.v1.QuotaService and
// quota.v1.AdminService, with gRPC health and, when asked, reflection).
//
// It keeps its state in Redis: one server (-redis-url), a Redis Cluster
// (-redis-cluster) or a Sentinel-managed master (-redis-sentinel-master and
// -redis-sentinel-addrs). With none of them it starts an embedded,
// in-process Redis-protocol server and runs the very same store code and
// scripts against it: handy for development, but NOT durable. Every flag
// falls back to an environment variable, then to the YAML file of
// -config; see Config, or run quotad -h.
//
// With a Redis configured it needs bearer tokens (-tokens-file or
// QUOTA_TOKENS) unless -allow-unauthenticated says otherwise. It serves
// Prometheus metrics on -metrics-listen.
//
// On SIGINT or SIGTERM it reports NOT_SERVING, serves on for
// -shutdown-grace so that probes see it, ends health Watch streams, drains
// the calls in flight (up to -shutdown-timeout), stops the sweeper, closes
// Redis and exits; a second signal kills it at once.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/server"
	"github.com/quota-svc/quota/store"
)

// pingTimeout bounds the PING that checks Redis at start.
const pingTimeout = 5 * time.Second

// sweepLimit is how many expired holds one sweep releases at most (in
// calls of 16 holds a workspace: store.Sweep).
const sweepLimit = 10_000

// healthConnections caps the connections of -health-listen.
const healthConnections = 64

// sweepTimeout bounds one sweep.
const sweepTimeout = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	err := realMain(ctx)
	stop()
	var uerr usageError
	switch {
	case errors.As(err, &uerr):
		os.Exit(2) // flag has printed the error and the usage
	case err != nil:
		fmt.Fprintln(os.Stderr, "quotad:", err)
		os.Exit(1)
	}
}

// realMain reads the configuration from the command line, the
// environment and the config file, and runs quotad until ctx ends.
func realMain(ctx context.Context) error {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, os.Stderr)
	redis.SetLogger(redisLogger{log})
	log.Debug("Go garbage collector", "gc_percent", tuneGC(os.Getenv))
	return run(ctx, cfg, log, nil)
}

// redisLogger logs the Redis client's own messages (lost connections,
// failovers) as warnings.
type redisLogger struct{ log *slog.Logger }

// Printf logs one message of the Redis client.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// addrs are the addresses quotad listens on once it serves.
type addrs struct {
	// GRPC is the gRPC listener's; Metrics and Health the metrics and
	// health listeners', or "" when off.
	GRPC, Metrics, Health string
}

// run serves cfg until ctx ends, then shuts down gracefully and returns
// nil. Once serving, it sends its addresses on ready, if not nil.
func run(ctx context.Context, cfg Config, log *slog.Logger, ready chan<- addrs) error {
	return runClock(ctx, cfg, nil, log, ready)
}

// runClock is run with the service's clock (deadlines, periods, grant
// transitions, sweeps): now, or time.Now when nil. Only tests pass one,
// to move time across deadlines and resets.
func runClock(ctx context.Context, cfg Config, now func() time.Time, log *slog.Logger, ready chan<- addrs) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	m, sm, err := registerMetrics(reg)
	if err != nil {
		return err
	}

	fdLimit, err := raiseFDLimit()
	if err != nil {
		log.Warn("cannot read the file-descriptor limit", "err", err)
	}
	maxConns, err := connectionCap(cfg.MaxConnections, fdLimit, cfg.FDReserve)
	if err != nil {
		return err
	}
	m.fdLimit.Set(float64(fdLimit))
	m.connectionLimit.Set(float64(maxConns))
	if poolSize := redisPoolSize(cfg); cfg.FDReserve < poolSize+32 {
		log.Warn("-fd-reserve leaves little room for the Redis connection pool", "fd_reserve", cfg.FDReserve, "redis_pool_size", poolSize)
	}

	// A Cluster client reloads its slot map at once when a node cannot
	// be reached, so that a failover is followed as soon as the replica
	// is promoted, not at the next periodic reload.
	// Scripts are labelled by their entry point's name ("reserve"), from
	// the function names and script SHA-1s the store sends.
	names := store.ScriptNames()
	var cluster atomic.Pointer[redis.ClusterClient]
	hook := redisHook{m: m, scriptName: func(s string) string { return names[s] }, unreachable: func() {
		if c := cluster.Load(); c != nil {
			c.ReloadState(context.Background())
		}
	}}
	rdb, closeRedis, rtls, err := openRedis(cfg, log, hook)
	if err != nil {
		return err
	}
	defer closeRedis()
	if c, ok := rdb.(*redis.ClusterClient); ok {
		cluster.Store(c)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err = rdb.Ping(pctx).Err()
	if err == nil && (len(cfg.RedisCluster) > 0 || cfg.SentinelMaster != "") {
		checkReplication(pctx, rdb, cfg.SentinelMaster, log)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("redis does not answer PING: %w", err)
	}

	st := store.New(rdb, store.Options{CallTimeout: cfg.StoreTimeout, RunRetention: cfg.RunRetention,
		LedgerRetention: cfg.LedgerRetention, EventsRetention: cfg.EventsRetention, UsageRetention: cfg.UsageRetention,
		WaitReplicas: cfg.RedisWaitReplicas, WaitTimeout: cfg.RedisWaitTimeout})
	if err := st.Load(ctx); err != nil {
		return err
	}
	lib, functions := st.Library()
	log.Info("store code loaded", "library", lib, "redis_functions", functions)
	svc := quota.NewService(st, quota.Config{
		DefaultTTL: cfg.DefaultTTL, MinTTL: cfg.MinTTL, MaxTTL: cfg.MaxTTL, Now: now,
	})
	if err := svc.RefreshPricing(ctx); err != nil {
		return fmt.Errorf("load the price table: %w", err)
	}

	var tokensSince [sha256.Size]byte
	if cfg.TokensFile != "" {
		tokensSince = fingerprint([]string{cfg.TokensFile}) // before the first load: see watchFiles
	}
	auth, err := newAuth(cfg, sm, log)
	if err != nil {
		return err
	}
	grpcOpts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(cfg.MaxSendMsgSize),
		grpc.MaxConcurrentStreams(uint32(cfg.MaxConcurrentStreams)),
		grpc.NumStreamWorkers(uint32(cfg.StreamWorkers)),
		grpc.MaxHeaderListSize(uint32(cfg.MaxHeaderListSize)),
		grpc.ConnectionTimeout(cfg.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     cfg.IdleTimeout,
			MaxConnectionAge:      cfg.MaxConnectionAge, // 0: never
			MaxConnectionAgeGrace: cfg.ShutdownTimeout,
			Time:                  cfg.KeepaliveTime,
			Timeout:               cfg.KeepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: cfg.KeepaliveMinTime, PermitWithoutStream: true}),
	}
	var tlsFiles *serverTLS
	if cfg.TLSCert != "" {
		if tlsFiles, err = newServerTLS(cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA); err != nil {
			return err
		}
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(tlsFiles.config())))
		log.Info("gRPC over TLS", "cert", cfg.TLSCert, "mutual", cfg.TLSClientCA != "")
	} else if !cfg.embedded() {
		log.Warn("gRPC without TLS: bearer tokens and data cross the network in clear; set -tls-cert and -tls-key unless a proxy terminates TLS")
	}

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	capped := newCapListener(lis, maxConns, m.connsRejected.Inc, func(open int64) {
		log.Warn("gRPC connection refused: -max-connections are open", "open", open, "max", maxConns)
	})
	open := capped.Open
	m.openConns.Store(&open)
	srv := server.New(svc, server.Options{
		Log: log, Auth: auth, Metrics: sm, Reflection: cfg.Reflection,
		DefaultTimeout: cfg.CallTimeout, StoreTimeout: cfg.StoreTimeout,
		GRPCOptions: grpcOpts,
	})

	// Background work runs until the server has drained, after the signal.
	bgCtx, stopBg := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer bg.Wait() // before closeRedis: deferred calls run last in, first out
	defer stopBg()
	var metricsAddr string
	if cfg.MetricsListen != "" {
		mlis, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			capped.Close()
			return fmt.Errorf("-metrics-listen: %w", err)
		}
		metricsAddr = mlis.Addr().String()
		bg.Go(func() { serveMetrics(bgCtx, mlis, reg, cfg.Pprof, log) })
		log.Info("metrics on http://"+metricsAddr+"/metrics", "addr", metricsAddr)
	}
	bg.Go(func() { sweepLoop(bgCtx, cfg.SweepInterval, svc, m, log) })
	bg.Go(func() { auditLoop(bgCtx, cfg.AuditInterval, svc, sm, log) })
	bg.Go(func() {
		every(bgCtx, cfg.PricingRefresh, func(ctx context.Context) { refreshPricing(ctx, cfg.StoreTimeout, svc, m, log) })
	})
	health := &storeHealth{rdb: rdb, interval: cfg.HealthInterval, timeout: cfg.HealthTimeout, failures: cfg.HealthFailures,
		set: srv.SetServing, m: m, log: log}
	bg.Go(func() { health.run(bgCtx) })
	if cfg.TokensFile != "" {
		bg.Go(func() {
			watchFiles(bgCtx, cfg.ReloadInterval, []string{cfg.TokensFile}, tokensSince, func() { reloadTokens(cfg, auth, m, log) })
		})
	}
	if tlsFiles != nil {
		bg.Go(func() {
			watchFiles(bgCtx, cfg.ReloadInterval, tlsFiles.files(), tlsFiles.since, func() {
				reloadTLS("tls", "TLS files", tlsFiles.load, "the certificate in force stays", "TLS certificate reloaded", m, log)
			})
		})
	}
	if rtls != nil && len(rtls.files()) > 0 {
		bg.Go(func() {
			watchFiles(bgCtx, cfg.ReloadInterval, rtls.files(), rtls.since, func() {
				reloadTLS("redis-tls", "Redis TLS files", rtls.load, "new Redis connections keep the files in force",
					"Redis TLS files reloaded: new Redis connections use them", m, log)
			})
		})
	}

	var healthAddr string
	if cfg.HealthListen != "" {
		hlis, err := net.Listen("tcp", cfg.HealthListen)
		if err != nil {
			capped.Close()
			return fmt.Errorf("-health-listen: %w", err)
		}
		healthAddr = hlis.Addr().String()
		hsrv := srv.HealthServer(grpc.ConnectionTimeout(cfg.HandshakeTimeout), grpc.MaxConcurrentStreams(16),
			grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: cfg.IdleTimeout}))
		go hsrv.Serve(newCapListener(hlis, healthConnections, nil, func(int64) {}))
		defer hsrv.Stop() // after the main server's drain: probes see NOT_SERVING until then
		log.Info("health on "+healthAddr, "addr", healthAddr)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(capped) }()
	addr := lis.Addr().String()
	log.Info("quotad serving on "+addr, "addr", addr, "max_connections", maxConns, "fd_limit", fdLimit)
	if ready != nil {
		select {
		case ready <- addrs{GRPC: addr, Metrics: metricsAddr, Health: healthAddr}:
		case <-ctx.Done():
		}
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("quotad shutting down: health NOT_SERVING", "grace", cfg.ShutdownGrace.String(), "drain_timeout", cfg.ShutdownTimeout.String())
	srv.Shutdown(cfg.ShutdownGrace, cfg.ShutdownTimeout)
	if err := <-served; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	stopBg()
	bg.Wait()
	log.Info("quotad stopped")
	return nil
}

// newAuth returns the authenticator of cfg's tokens, or nil (and a WARN)
// when quotad serves unauthenticated: on the embedded store without
// tokens, or with -allow-unauthenticated.
func newAuth(cfg Config, sm *server.Metrics, log *slog.Logger) (*server.Authenticator, error) {
	if cfg.TokensFile == "" && cfg.Tokens == "" {
		if cfg.embedded() {
			log.Warn("no bearer tokens: every call is served unauthenticated; fine on the embedded development store, " +
				"set -tokens-file or QUOTA_TOKENS for production")
		} else {
			log.Warn("-allow-unauthenticated: no bearer tokens, anyone who can reach -listen can call every RPC")
		}
		return nil, nil
	}
	creds, err := loadCredentials(cfg)
	if err != nil {
		return nil, err
	}
	auth, err := server.NewAuthenticator(creds, sm)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if len(creds) == 0 {
		log.Warn("no bearer token loaded: every call but health is refused until -tokens-file lists one")
	}
	log.Info("bearer tokens loaded", "count", len(creds))
	return auth, nil
}

// reloadTokens puts the tokens of cfg in force again after -tokens-file
// changed; on error, those in force stay.
func reloadTokens(cfg Config, auth *server.Authenticator, m *metrics, log *slog.Logger) {
	creds, err := loadCredentials(cfg)
	if err == nil {
		err = auth.SetCredentials(creds)
	}
	m.reloads.WithLabelValues("tokens", result(err)).Inc()
	if err != nil {
		log.Error("-tokens-file changed but cannot be loaded; the tokens in force stay", "err", err)
		return
	}
	log.Info("bearer tokens reloaded", "count", len(creds))
}

// reloadTLS puts TLS files (kind "tls": the listener's, or "redis-tls";
// what names them in the log) in force again with load after they
// changed, counting and logging the result; kept says what stays in force
// when they cannot be loaded, done what a reload did.
func reloadTLS(kind, what string, load func() error, kept, done string, m *metrics, log *slog.Logger) {
	err := load()
	m.reloads.WithLabelValues(kind, result(err)).Inc()
	if err != nil {
		log.Error(what+" changed but cannot be loaded; "+kept, "err", err)
		return
	}
	log.Info(done)
}

// newLogger returns quotad's logger on w: JSON, or text when cfg says so
// or, with "auto", when w is a terminal.
func newLogger(cfg Config, w *os.File) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	text := cfg.LogFormat == "text"
	if cfg.LogFormat == "auto" {
		if fi, err := w.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			text = true
		}
	}
	if text {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// redactURL returns u with its password replaced by "xxxxx".
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable)"
	}
	return p.Redacted()
}

// every calls f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// sweepLoop releases expired holds every interval until ctx ends. Holds
// past their deadline are already free to every reader; sweeping only
// tidies them up, so a failure is logged (once, until it recovers) and
// retried at the next tick. Each sweep's lag, how late it started after
// its schedule (the previous start plus interval), is measured.
func sweepLoop(ctx context.Context, interval time.Duration, svc *quota.Service, m *metrics, log *slog.Logger) {
	last := time.Now()
	failures := 0
	for {
		scheduled := last.Add(interval)
		if wait := time.Until(scheduled); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		start := time.Now()
		last = start
		sctx, cancel := context.WithTimeout(ctx, sweepTimeout)
		st, err := svc.Sweep(sctx, sweepLimit)
		cancel()
		if ctx.Err() != nil {
			return
		}
		m.swept(sweepResult{Stats: st, Lag: max(0, start.Sub(scheduled)), Took: time.Since(start), Err: err})
		switch {
		case err != nil:
			failures++
			if failures == 1 {
				log.Warn("sweep of expired holds failed; retrying every -sweep-interval (calls still release up to 16 expired holds each; larger runs wait for the sweeper)", "err", err)
			} else {
				log.Debug("sweep of expired holds failed", "err", err, "failures", failures)
			}
		case failures > 0:
			log.Info("sweep of expired holds recovered", "failures", failures)
			failures = 0
		}
		if st.Released > 0 || st.Purged > 0 || st.Trimmed > 0 {
			log.Debug("swept", "released", st.Released, "purged", st.Purged, "trimmed", st.Trimmed, "failed", st.Failed)
		}
		if st.Held > 0 {
			log.Warn("a consumer group keeps a stream above its retention: it has not acknowledged entries older than the retention", "streams", st.Held)
		}
	}
}

// refreshPricing reloads the price table once, within timeout; on
// failure the table in force stays and the next tick retries.
func refreshPricing(ctx context.Context, timeout time.Duration, svc *quota.Service, m *metrics, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := svc.RefreshPricing(rctx)
	if ctx.Err() != nil {
		return // shutting down
	}
	m.pricingRefresh.WithLabelValues(result(err)).Inc()
	if err != nil {
		log.Warn("price table refresh failed; the table loaded before stays in force", "err", err)
	}
}
