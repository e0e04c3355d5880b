package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// The workspace index. The sweeper needs every workspace id, and on a
// Redis Cluster one set of them lives on one shard: with that shard down
// nothing would be swept and no workspace could be created. So the index
// is kept in indexCopies sets whose hash tags fall in different thirds of
// the cluster's slots (on the usual layouts, on different shards):
// SetWorkspace adds the id to every copy it can reach (at least one), and
// the sweeper reads the union of the copies it can reach.

// indexCopies is how many copies of the workspace index are kept.
const indexCopies = 3

// indexKeys are the keys of the copies, computed once.
var indexKeys = sync.OnceValue(func() []string {
	keys := make([]string, indexCopies)
	span := clusterSlots / indexCopies
	for i := range indexCopies {
		lo, hi := i*span, (i+1)*span
		for n := 0; ; n++ {
			tag := "idx" + strconv.Itoa(i) + "." + strconv.Itoa(n)
			if s := keySlot(tag); s >= lo && s < hi {
				keys[i] = "q:{" + tag + "}:workspaces"
				break
			}
		}
	}
	return keys
})

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

// keySlot is the Redis Cluster hash slot of a hash tag (CRC16/XMODEM).
func keySlot(tag string) int {
	var crc uint16
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % clusterSlots
}

// indexAdd adds a workspace to every copy of the index it can reach; it
// fails only when it reaches none.
func (s *Store) indexAdd(ctx context.Context, ws string) error {
	var errs []error
	for _, key := range append(indexKeys(), keyWorkspaces) {
		if err := s.plain(ctx, func(ctx context.Context) error { return s.rdb.SAdd(ctx, key, ws).Err() }); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == indexCopies+1 {
		return errs[0]
	}
	return nil
}

// indexAll returns the workspaces of every copy of the index it can
// reach, sorted; it fails only when it reaches none.
func (s *Store) indexAll(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var errs []error
	for _, key := range append(indexKeys(), keyWorkspaces) {
		var ids []string
		err := s.plain(ctx, func(ctx context.Context) (err error) {
			ids, err = s.rdb.SMembers(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				err = nil
			}
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			seen[id] = true
		}
	}
	if len(errs) == indexCopies+1 {
		return nil, fmt.Errorf("store: no copy of the workspace index answers: %w", errs[0])
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}
