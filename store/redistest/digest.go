package redistest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
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
// no key to route by). On Redis each value's digest is DEBUG
// DIGEST-VALUE, in one pipeline; on the embedded server (miniredis, which
// has no DEBUG) one script returns every value. Either way it takes a few
// round trips whatever the number of keys. The TTLs' values are left
// out: they age.
func Digest(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	var (
		mu    sync.Mutex
		lines []string
	)
	node := func(ctx context.Context, c redis.UniversalClient) error {
		ls, err := digestNode(ctx, c)
		mu.Lock()
		lines = append(lines, ls...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return node(ctx, m) })
	} else {
		err = node(ctx, rdb)
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

// digestNode returns a line per key of one server: the key and the digest
// of its value.
func digestNode(ctx context.Context, c redis.UniversalClient) ([]string, error) {
	if err := c.Do(ctx, "DEBUG", "DIGEST-VALUE").Err(); err != nil {
		return dumpNode(ctx, c)
	}
	var keys []string
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	digests := make([]*redis.Cmd, len(keys))
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			digests[i] = p.Do(ctx, "DEBUG", "DIGEST-VALUE", k)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%q=%v;", k, digests[i].Val())
	}
	return lines, nil
}

// dumpScript returns every key of the database with its type and value:
// {key, type, value} triples, a value being an array (a string's is one
// element). It is one call, so that it works on the embedded server's
// in-memory pipes, where a long pipeline would block.
var dumpScript = redis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k)
  if type(t) == 'table' then t = t.ok end
  local v = {}
  if t == 'string' then v = {redis.call('GET', k)}
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'stream' then v = redis.call('XRANGE', k, '-', '+')
  end
  out[#out + 1] = {k, t, v}
end
return out`)

// dumpNode returns a line per key, from dumpScript: the key, its type and
// its value, the members of a set and the fields of a hash sorted.
func dumpNode(ctx context.Context, c redis.UniversalClient) ([]string, error) {
	res, err := dumpScript.Run(ctx, c, nil).Slice()
	if err != nil {
		return nil, err
	}
	lines := make([]string, 0, len(res))
	for _, r := range res {
		kv, ok := r.([]any)
		if !ok || len(kv) != 3 {
			return nil, fmt.Errorf("dump: unexpected reply %v", r)
		}
		typ, _ := kv[1].(string)
		v, _ := kv[2].([]any)
		switch typ {
		case "set":
			v = sortedBy(v, 1)
		case "hash":
			v = sortedBy(v, 2)
		case "string", "zset", "list", "stream":
		default:
			return nil, fmt.Errorf("key %v of type %s", kv[0], typ)
		}
		lines = append(lines, fmt.Sprintf("%q=%s:%v;", kv[0], typ, v))
	}
	return lines, nil
}

// sortedBy sorts v in groups of n elements (a hash's field and value), by
// the first of each.
func sortedBy(v []any, n int) []any {
	groups := make([][]any, 0, len(v)/n)
	for i := 0; i+n <= len(v); i += n {
		groups = append(groups, v[i:i+n])
	}
	slices.SortFunc(groups, func(a, b []any) int { return strings.Compare(fmt.Sprint(a[0]), fmt.Sprint(b[0])) })
	return slices.Concat(groups...)
}
