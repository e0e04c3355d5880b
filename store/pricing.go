package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
)

// Price versions live in the {pricing} slot (keys.go); each is written
// once by lua/fn_set_pricing.lua and never changed.

// CurrentPricingVersion returns the current price version's number.
func (s *Store) CurrentPricingVersion(ctx context.Context) (int64, bool, error) {
	raw, found, err := s.get(ctx, keyPricingCur)
	if err != nil || !found {
		return 0, false, err
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, false, quota.Internal(fmt.Errorf("store: current price version %q", raw))
	}
	return v, true, nil
}

// LoadPricingVersion returns a stored price version.
func (s *Store) LoadPricingVersion(ctx context.Context, v int64) (quota.PriceVersion, error) {
	if v == 0 {
		return quota.DefaultPriceVersion(), nil
	}
	raw, found, err := s.get(ctx, keyPricingVersion+itoa(v))
	if err != nil {
		return quota.PriceVersion{}, err
	}
	if !found {
		return quota.PriceVersion{}, quota.ErrPricingVersionNotFound
	}
	return decodeVersion(v, raw)
}

// decodeVersion reads "<created ms>,<by>,<table JSON>".
func decodeVersion(v int64, raw string) (quota.PriceVersion, error) {
	parts := strings.SplitN(raw, ",", 3)
	if len(parts) != 3 {
		return quota.PriceVersion{}, quota.Internal(fmt.Errorf("store: price version %d is unreadable", v))
	}
	ms, _ := strconv.ParseInt(parts[0], 10, 64)
	pv := quota.PriceVersion{Version: v, Created: msTime(ms), CreatedBy: parts[1]}
	if err := json.Unmarshal([]byte(parts[2]), &pv.Table); err != nil {
		return quota.PriceVersion{}, quota.Internal(fmt.Errorf("store: price version %d: %w", v, err))
	}
	return pv, nil
}

// SavePricing stores a new price version and makes it current.
func (s *Store) SavePricing(ctx context.Context, op quota.PricingOp) (quota.PriceVersion, error) {
	raw, err := json.Marshal(op.Table)
	if err != nil {
		return quota.PriceVersion{}, quota.Internal(err)
	}
	actor := strings.ReplaceAll(op.Actor, ",", "_")
	r, err := s.do(ctx, call{entry: fnSetPricing, prefix: pricingPrefix, idem: op.Idem, now: op.Now,
		args: []any{raw, actor}})
	if err != nil {
		return quota.PriceVersion{}, err
	}
	return s.LoadPricingVersion(ctx, r.int())
}

// ListPricingVersions returns stored versions older than before (0: from
// the newest), newest first.
func (s *Store) ListPricingVersions(ctx context.Context, before int64, limit int) ([]quota.PriceVersion, int64, error) {
	max := "+inf"
	if before > 0 {
		max = "(" + itoa(before)
	}
	var nums []string
	err := s.plain(ctx, func(ctx context.Context) (err error) {
		nums, err = s.rdb.ZRevRangeByScore(ctx, keyPricingList, &redis.ZRangeBy{Max: max, Min: "-inf", Count: int64(limit) + 1}).Result()
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(nums) > limit {
		nums = nums[:limit]
		next, _ = strconv.ParseInt(nums[limit-1], 10, 64)
	}
	out := make([]quota.PriceVersion, 0, len(nums))
	for _, n := range nums {
		v, _ := strconv.ParseInt(n, 10, 64)
		pv, err := s.LoadPricingVersion(ctx, v)
		if errors.Is(err, quota.ErrPricingVersionNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, pv)
	}
	return out, next, nil
}
