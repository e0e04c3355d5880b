package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// storeHealth PINGs Redis every interval (each PING bounded by timeout)
// and reports the store down after failures PINGs in a row fail, up again
// as soon as one answers. On a Cluster it PINGs every master and reports
// down only when none answers: a replica of quotad still serves the
// workspaces of the shards it reaches, and every replica would be taken
// out of rotation alike.
type storeHealth struct {
	rdb               redis.UniversalClient
	interval, timeout time.Duration
	failures          int
	// set reports the store up or down (the health service).
	set func(up bool)
	m   *metrics
	log *slog.Logger
}

// run checks until ctx ends.
func (h *storeHealth) run(ctx context.Context) {
	up, failed := true, 0
	h.m.storeUp.Set(1)
	every(ctx, h.interval, func(ctx context.Context) {
		err := h.ping(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && !up:
			up, failed = true, 0
			h.set(true)
			h.m.storeUp.Set(1)
			h.log.Info("Redis answers again: health SERVING")
		case err == nil:
			failed = 0
		default:
			failed++
			if up && failed >= h.failures {
				up = false
				h.set(false)
				h.m.storeUp.Set(0)
				h.log.Warn("Redis does not answer: health NOT_SERVING", "err", err, "failed_pings", failed)
			}
		}
	})
}

// errNoMaster is a Cluster of which no master answers.
var errNoMaster = errors.New("no master of the Redis Cluster answers PING")

// ping PINGs Redis once, or every master of a Cluster.
func (h *storeHealth) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cc, ok := h.rdb.(*redis.ClusterClient)
	if !ok {
		return h.rdb.Ping(ctx).Err()
	}
	var answered atomic.Bool
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if c.Ping(ctx).Err() == nil {
			answered.Store(true)
		}
		return nil
	})
	switch {
	case answered.Load():
		return nil
	case err != nil:
		return err
	}
	return errNoMaster
}
