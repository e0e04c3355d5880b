package quota

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Price versions. SetPricing never changes a table: it stores a new,
// immutable version (a number, when, by whom), which becomes the one new
// runs are priced with. Every replica reads the current version number
// every few seconds (RefreshPricing), and a run is priced at Commit with
// the version that was current when its root was reserved (the price
// lock), whatever was set in between: the reservation id carries it.
// Version 0 is the built-in DefaultPriceTable, in force until a first
// SetPricing.

// PriceVersion is one immutable version of the price table.
type PriceVersion struct {
	// Version numbers versions from 1; 0 is the built-in default table.
	Version int64
	Table   PriceTable
	// Created and CreatedBy say when and by whom it was set (zero and ""
	// for version 0).
	Created   time.Time
	CreatedBy string

	// ix is Table validated and indexed, once, when a Service first meets
	// the version (versionCache.put); nil until then, or for a table that
	// does not validate (price then reports it).
	ix *priceIndex
}

// price prices run with the version's table (Table.Price), indexed once
// rather than at every call.
func (v *PriceVersion) price(origin Origin, run AgentRun) (RunCost, error) {
	return priceWith(&v.Table, v.ix, origin, run)
}

// DefaultPriceVersion is version 0: DefaultPriceTable.
func DefaultPriceVersion() PriceVersion {
	return PriceVersion{Version: 0, Table: DefaultPriceTable()}
}

// maxCachedVersions bounds the versions a Service keeps in memory; runs
// are short-lived, so the versions they lock are the latest few.
const maxCachedVersions = 64

// versionCache keeps the price versions met, by number. They never
// change, so an entry never goes stale; the cache only forgets the
// least recently used beyond maxCachedVersions.
type versionCache struct {
	mu   sync.Mutex
	byV  map[int64]*PriceVersion
	used map[int64]uint64
	tick uint64
}

func (c *versionCache) get(v int64) *PriceVersion {
	c.mu.Lock()
	defer c.mu.Unlock()
	pv := c.byV[v]
	if pv != nil {
		c.tick++
		c.used[v] = c.tick
	}
	return pv
}

func (c *versionCache) put(pv *PriceVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byV == nil {
		c.byV, c.used = map[int64]*PriceVersion{}, map[int64]uint64{}
	}
	if pv.ix == nil {
		pv.ix, _ = pv.Table.index() // an invalid table stays nil: price reports it
	}
	c.tick++
	c.byV[pv.Version], c.used[pv.Version] = pv, c.tick
	for len(c.byV) > maxCachedVersions {
		oldest, at := int64(-1), c.tick+1
		for v, t := range c.used {
			if t < at && v != 0 {
				oldest, at = v, t
			}
		}
		delete(c.byV, oldest)
		delete(c.used, oldest)
	}
}

// RefreshPricing reads the current price version, so that a version set
// through another replica is used here too. With none stored, version 0
// stays.
func (s *Service) RefreshPricing(ctx context.Context) error {
	v, ok, err := s.st.CurrentPricingVersion(ctx)
	if err != nil || !ok || v == s.current.Load().Version {
		return err
	}
	pv, err := s.version(ctx, v)
	if err != nil {
		return err
	}
	s.current.Store(pv)
	return nil
}

// Pricing returns the price version in force.
func (s *Service) Pricing() PriceVersion { return *s.current.Load() }

// version returns price version v, from the cache or the store.
func (s *Service) version(ctx context.Context, v int64) (*PriceVersion, error) {
	if pv := s.versions.get(v); pv != nil {
		return pv, nil
	}
	pv, err := s.st.LoadPricingVersion(ctx, v)
	if err != nil {
		return nil, err
	}
	s.versions.put(&pv)
	return &pv, nil
}

// GetPricingVersion returns price version v.
func (s *Service) GetPricingVersion(ctx context.Context, v int64) (PriceVersion, error) {
	if v < 0 {
		return PriceVersion{}, Invalid("version", "must not be negative")
	}
	pv, err := s.version(ctx, v)
	if err != nil {
		return PriceVersion{}, err
	}
	return *pv, nil
}

// SetPricing validates a price table and stores it as a new version, in
// force at once here and within the refresh interval on other replicas. A
// table without a fallback model falls back to its most expensive one.
// actor names who set it (the caller's token name, or "").
func (s *Service) SetPricing(ctx context.Context, idem Idem, actor string, t PriceTable) (PriceVersion, error) {
	t = t.WithFallback()
	if err := t.Validate(); err != nil {
		return PriceVersion{}, err
	}
	pv, err := s.st.SavePricing(ctx, PricingOp{Idem: idem, Table: t, Actor: actor, Now: s.cfg.Now()})
	if err != nil {
		return PriceVersion{}, err
	}
	s.versions.put(&pv)
	if pv.Version > s.current.Load().Version {
		s.current.Store(&pv)
	}
	return pv, nil
}

// ListPricingVersions lists the stored versions, newest first (their
// tables included), a page at a time: pageToken is "" for the first page
// or a previous next token; the returned token is "" after the last page.
func (s *Service) ListPricingVersions(ctx context.Context, pageSize int, pageToken string) ([]PriceVersion, string, error) {
	size, err := PageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	before := int64(0) // 0: from the newest
	if pageToken != "" {
		v, err := strconv.ParseInt(pageToken, 10, 64)
		if err != nil || v <= 0 {
			return nil, "", Invalid("page_token", "is not a token this service returned")
		}
		before = v
	}
	versions, next, err := s.st.ListPricingVersions(ctx, before, size)
	if err != nil || next == 0 {
		return versions, "", err
	}
	return versions, strconv.FormatInt(next, 10), nil
}

// PageSize resolves a requested page size: 0 is DefaultPageSize, larger
// than MaxPageSize is clamped, negative is invalid.
func PageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, Invalid("page_size", "must not be negative")
	case n == 0:
		return DefaultPageSize, nil
	case n > MaxPageSize:
		return MaxPageSize, nil
	}
	return n, nil
}
