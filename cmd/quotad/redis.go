package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/store"
)

// openRedis returns a client on the configured Redis or, with none, on a
// fresh embedded server, with hook added. closeAll closes the client and
// the server. rtls is the TLS to Redis, when there is one: its files may
// be reloaded (redisTLSFiles.load), and new connections use them.
//
// Every kind of Redis gets the same settings: the ACL user and password,
// TLS, the dial, read, write and pool timeouts, the pool size and the
// retries, and ContextTimeoutEnabled, so that a call's deadline (the
// store timeout) bounds its Redis commands.
func openRedis(cfg Config, log *slog.Logger, hook redis.Hook) (rdb redis.UniversalClient, closeAll func(), rtls *redisTLSFiles, err error) {
	password, err := secret(cfg.RedisPassword, cfg.RedisPasswordFile, "-redis-password-file")
	if err != nil {
		return nil, nil, nil, err
	}
	sentinelPassword, err := secret(cfg.SentinelPassword, cfg.SentinelPasswordFile, "-redis-sentinel-password-file")
	if err != nil {
		return nil, nil, nil, err
	}
	pool := redisPoolSize(cfg)
	maxRetries := cfg.RedisMaxRetries
	if maxRetries == 0 {
		maxRetries = -1 // go-redis: -1 is none, 0 its default
	}
	// clientSettings gives a single client's options the settings every
	// kind of Redis gets (Cluster and Sentinel get them below too).
	clientSettings := func(opt *redis.Options) {
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = cfg.RedisDialTimeout, cfg.RedisReadTimeout, cfg.RedisWriteTimeout
		opt.PoolSize, opt.MaxActiveConns, opt.PoolTimeout, opt.MaxRetries = pool, pool, cfg.RedisPoolTimeout, maxRetries
		opt.ContextTimeoutEnabled = true
	}
	switch {
	case cfg.RedisURL != "":
		opt, err := parseRedisURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, nil, err
		}
		if cfg.RedisUsername != "" {
			opt.Username = cfg.RedisUsername
		}
		if password != "" {
			opt.Password = password
		}
		if rtls, err = newRedisTLS(cfg, opt.TLSConfig); err != nil {
			return nil, nil, nil, err
		}
		opt.TLSConfig, opt.Dialer = rtls.config(), rtls.dialer(cfg.RedisDialTimeout)
		if opt.TLSConfig != nil && opt.TLSConfig.InsecureSkipVerify {
			log.Warn("the Redis URL sets skip_verify: Redis's certificate is not verified, whatever -redis-tls-ca says")
		}
		clientSettings(opt)
		log.Info("using Redis", "url", redactURL(cfg.RedisURL), "tls", opt.TLSConfig != nil, "user", opt.Username)
		rdb = redis.NewClient(opt)
	case len(cfg.RedisCluster) > 0:
		if rtls, err = newRedisTLS(cfg, nil); err != nil {
			return nil, nil, nil, err
		}
		log.Info("using Redis Cluster", "addrs", strings.Join(cfg.RedisCluster, ","), "tls", rtls != nil, "user", cfg.RedisUsername)
		rdb = redis.NewClusterClient(clusterOptions(cfg, password, pool, maxRetries, rtls, hook))
	case cfg.SentinelMaster != "":
		if rtls, err = newRedisTLS(cfg, nil); err != nil {
			return nil, nil, nil, err
		}
		log.Info("using Redis Sentinel", "master", cfg.SentinelMaster, "sentinels", strings.Join(cfg.SentinelAddrs, ","),
			"tls", rtls != nil, "user", cfg.RedisUsername)
		rdb = redis.NewFailoverClient(failoverOptions(cfg, password, sentinelPassword, pool, maxRetries, rtls))
	default:
		e, err := store.StartEmbedded()
		if err != nil {
			return nil, nil, nil, err
		}
		log.Warn("using the embedded in-process store: NOT DURABLE, all data is lost when quotad stops; set -redis-url for production " +
			"(it listens on no port: only this process reaches it)")
		opt := e.Options()
		clientSettings(opt)
		client := redis.NewClient(opt)
		client.AddHook(hook)
		return client, func() { client.Close(); e.Close() }, nil, nil
	}
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		rdb.AddHook(hook)
	}
	return rdb, func() { rdb.Close() }, rtls, nil
}

// clusterOptions are the options of a Redis Cluster client: the settings
// every kind of Redis gets (openRedis), with hook on every node's client;
// rtls (nil: no TLS) dials every connection.
func clusterOptions(cfg Config, password string, pool, maxRetries int, rtls *redisTLSFiles, hook redis.Hook) *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs: cfg.RedisCluster, Username: cfg.RedisUsername, Password: password,
		TLSConfig: rtls.config(), Dialer: rtls.dialer(cfg.RedisDialTimeout),
		DialTimeout: cfg.RedisDialTimeout, ReadTimeout: cfg.RedisReadTimeout, WriteTimeout: cfg.RedisWriteTimeout,
		PoolSize: pool, MaxActiveConns: pool, PoolTimeout: cfg.RedisPoolTimeout, MaxRetries: maxRetries,
		ContextTimeoutEnabled:      true,
		ClusterStateReloadInterval: cfg.RedisClusterReload,
		// The hook goes on every node's client, not on the Cluster
		// client: the store also talks to a master's client directly
		// (-redis-wait-replicas), and a node's client sees every
		// command the Cluster client sends it.
		NewClient: func(o *redis.Options) *redis.Client {
			c := redis.NewClient(o)
			c.AddHook(hook)
			return c
		},
	}
}

// failoverOptions are the options of a client of a Redis that Sentinel
// manages: the settings every kind of Redis gets (openRedis); rtls (nil:
// no TLS) dials every connection, to the sentinels too.
func failoverOptions(cfg Config, password, sentinelPassword string, pool, maxRetries int, rtls *redisTLSFiles) *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName: cfg.SentinelMaster, SentinelAddrs: cfg.SentinelAddrs,
		SentinelUsername: cfg.SentinelUsername, SentinelPassword: sentinelPassword,
		Username: cfg.RedisUsername, Password: password,
		TLSConfig: rtls.config(), Dialer: rtls.dialer(cfg.RedisDialTimeout),
		DialTimeout: cfg.RedisDialTimeout, ReadTimeout: cfg.RedisReadTimeout, WriteTimeout: cfg.RedisWriteTimeout,
		PoolSize: pool, MaxActiveConns: pool, PoolTimeout: cfg.RedisPoolTimeout, MaxRetries: maxRetries,
		ContextTimeoutEnabled: true,
	}
}

// redisPoolSize is the Redis connections per node: -redis-pool-size, or
// 10 per CPU. The pool never grows beyond it (MaxActiveConns), so that
// -fd-reserve can account for it.
func redisPoolSize(cfg Config) int {
	if cfg.RedisPoolSize > 0 {
		return cfg.RedisPoolSize
	}
	return 10 * runtime.GOMAXPROCS(0)
}

// secret returns value, else the content of file (one trailing newline
// dropped), else "". setting names the file's setting in errors.
func secret(value, file, setting string) (string, error) {
	if value != "" || file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", setting, err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// checkReplication warns when a master that may fail over (Sentinel's,
// or a Cluster's) accepts writes with no replica requirement: a write
// acknowledged by the master and not yet copied to a replica is lost when
// the replica is promoted. With min-replicas-to-write 1 (and
// min-replicas-max-lag), the master refuses writes no replica follows,
// and quotad answers them UNAVAILABLE rather than losing them. It says
// nothing when it cannot tell (INFO refused).
//
// name names the master of a non-Cluster client in the log (a Sentinel
// master's name); a Cluster's masters are named by their addresses.
func checkReplication(ctx context.Context, rdb redis.UniversalClient, name string, log *slog.Logger) {
	warn := func(addr string) {
		log.Warn("the Redis master accepts writes with no replica requirement: acknowledged writes can be lost on failover; "+
			"set min-replicas-to-write 1 and min-replicas-max-lag 10 on every master (see the README's Redis section)", "master", addr)
	}
	check := func(ctx context.Context, c *redis.Client, name string) {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			log.Debug("cannot read INFO replication", "err", err)
			return
		}
		if strings.Contains(info, "role:master") && !strings.Contains(info, "min_slaves_good_slaves:") {
			warn(name)
		}
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			check(ctx, n, n.Options().Addr)
			return nil
		})
	case *redis.Client:
		check(ctx, c, name) // a failover client is a *redis.Client on the master
	}
}
