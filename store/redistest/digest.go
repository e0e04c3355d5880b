package redistest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Digest fingerprints every key of rdb's keyspace and its value, so that
// a test can check that a refused request changed nothing in Redis:
//
//	before, err := redistest.Digest(ctx, rdb)
//	... the request ...
//	after, err := redistest.Digest(ctx, rdb) // == before
//
// It digests rdb's database only (not the whole server, as DEBUG DIGEST
// would), so it works on a database of the package's shared
// redis-server; on a Cluster each master digests its own keys (DEBUG has
// no key to route by). Each value is DEBUG DIGEST-VALUE on Redis, the
// value itself on the embedded server (which has no DEBUG). The TTLs'
// values are left out: they age.
func Digest(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	var (
		mu    sync.Mutex
		lines []string
	)
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			line, err := digestKey(ctx, c, iter.Val())
			if err != nil {
				return err
			}
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return scan(ctx, m) })
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		return "", fmt.Errorf("redistest: digest: %w", err)
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestKey is one key and the digest of its value.
func digestKey(ctx context.Context, c redis.UniversalClient, k string) (string, error) {
	if d, err := c.Do(ctx, "DEBUG", "DIGEST-VALUE", k).Result(); err == nil {
		return fmt.Sprintf("%q=%v;", k, d), nil
	}
	typ, err := c.Type(ctx, k).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "string":
		v, err = c.Get(ctx, k).Result()
	case "zset":
		v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
	case "set":
		var m []string
		m, err = c.SMembers(ctx, k).Result()
		slices.Sort(m)
		v = m
	case "stream":
		v, err = c.XRange(ctx, k, "-", "+").Result()
	case "hash":
		v, err = c.HGetAll(ctx, k).Result()
	case "list":
		v, err = c.LRange(ctx, k, 0, -1).Result()
	default:
		return "", fmt.Errorf("key %s of type %s", k, typ)
	}
	return fmt.Sprintf("%q=%s:%v;", k, typ, v), err
}
