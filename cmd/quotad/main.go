// Command quotad serves the quota gRPC API (quota.v1.QuotaService and
// quota.v1.AdminService, with gRPC health and reflection).
//
// It keeps its state in Redis: one server (-redis-url), a Redis Cluster
// (-redis-cluster) or a Sentinel-managed master (-redis-sentinel-master and
// -redis-sentinel-addrs). With none of them it starts an embedded,
// in-process Redis-protocol server and runs the very same store code and
// scripts against it: handy for development, but NOT durable. Every flag
// falls back to an environment variable; see Config, or run quotad -h.
//
// On SIGINT or SIGTERM it reports NOT_SERVING, drains the calls in flight
// (up to -shutdown-timeout) and exits; a second signal kills it at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/server"
	"github.com/quota-svc/quota/store"
)

// pingTimeout bounds the PING that checks Redis at start.
const pingTimeout = 5 * time.Second

// sweepLimit is how many expired holds one sweep releases at most.
const sweepLimit = 1000

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

// realMain reads the configuration from the command line and the
// environment and runs quotad until ctx ends.
func realMain(ctx context.Context) error {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	redis.SetLogger(redisLogger{log})
	return run(ctx, cfg, log, nil)
}

// redisLogger logs the Redis client's own messages (lost connections,
// failovers) as warnings.
type redisLogger struct{ log *slog.Logger }

// Printf logs one message of the Redis client.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// run serves cfg until ctx ends, then shuts down gracefully and returns
// nil. Once serving, it sends the listen address on ready, if not nil.
func run(ctx context.Context, cfg Config, log *slog.Logger, ready chan<- string) error {
	rdb, closeRedis, err := openRedis(cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redis does not answer PING: %w", err)
	}

	svc := quota.NewService(store.New(rdb), quota.Config{
		DefaultTTL: cfg.DefaultTTL, MinTTL: cfg.MinTTL, MaxTTL: cfg.MaxTTL,
	})
	if err := svc.RefreshPricing(ctx); err != nil {
		return fmt.Errorf("load the price table: %w", err)
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := server.New(svc, server.Options{Log: log, Reflection: true})

	bgCtx, stopBg := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer bg.Wait() // before closeRedis: deferred calls run last in, first out
	defer stopBg()
	bg.Go(func() { every(bgCtx, cfg.SweepInterval, func(ctx context.Context) { sweep(ctx, svc, log) }) })
	bg.Go(func() { every(bgCtx, cfg.PricingRefresh, func(ctx context.Context) { refreshPricing(ctx, svc, log) }) })

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	addr := lis.Addr().String()
	log.Info("quotad serving on "+addr, "addr", addr)
	if ready != nil {
		select {
		case ready <- addr:
		case <-ctx.Done():
		}
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("quotad shutting down", "drain_timeout", cfg.ShutdownTimeout)
	stopBg()
	srv.Shutdown(0, cfg.ShutdownTimeout)
	if err := <-served; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("quotad stopped")
	return nil
}

// openRedis returns a client on the configured Redis or, with none, on a
// fresh embedded server. closeAll closes the client and the server.
func openRedis(cfg Config, log *slog.Logger) (rdb redis.UniversalClient, closeAll func(), err error) {
	switch {
	case cfg.RedisURL != "":
		opt, err := parseRedisURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, err
		}
		log.Info("using Redis", "url", redactURL(cfg.RedisURL))
		rdb = redis.NewClient(opt)
	case len(cfg.RedisCluster) > 0:
		log.Info("using Redis Cluster", "addrs", strings.Join(cfg.RedisCluster, ","))
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.RedisCluster})
	case cfg.SentinelMaster != "":
		log.Info("using Redis Sentinel", "master", cfg.SentinelMaster, "sentinels", strings.Join(cfg.SentinelAddrs, ","))
		rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: cfg.SentinelMaster, SentinelAddrs: cfg.SentinelAddrs})
	default:
		e, err := store.StartEmbedded()
		if err != nil {
			return nil, nil, err
		}
		log.Warn("using the embedded in-process store: NOT DURABLE, all data is lost when quotad stops; set -redis-url for production", "addr", e.Addr())
		rdb = redis.NewClient(&redis.Options{Addr: e.Addr()})
		return rdb, func() { rdb.Close(); e.Close() }, nil
	}
	return rdb, func() { rdb.Close() }, nil
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

// sweep releases expired holds once. Holds past their deadline are already
// free to every reader; sweeping only tidies them up, so a failure is
// logged and retried at the next tick.
func sweep(ctx context.Context, svc *quota.Service, log *slog.Logger) {
	n, err := svc.Sweep(ctx, sweepLimit)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Error("sweep of expired holds failed", "err", err)
	case n > 0:
		log.Debug("released expired holds", "count", n)
	}
}

// refreshPricing reloads the price table once; on failure the table in
// force stays and the next tick retries.
func refreshPricing(ctx context.Context, svc *quota.Service, log *slog.Logger) {
	if err := svc.RefreshPricing(ctx); err != nil && ctx.Err() == nil {
		log.Warn("price table refresh failed; the table loaded before stays in force", "err", err)
	}
}
