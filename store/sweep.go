package store

import (
	"context"
	"fmt"
	"time"

	"github.com/quota-svc/quota/quota"
)

// retainRuns bounds how many settled runs one retention call deletes in a
// workspace (each run is at most quota.MaxRunReservations records).
const retainRuns = 100

// retainDays bounds how many days of usage buckets one retention call
// deletes in a workspace (each a hash and its index, unlinked).
const retainDays = 8

// Sweep does the background work due at now in every workspace: it
// releases expired holds (up to limit in all) and applies grant
// transitions, then deletes settled runs past the run retention and trims
// the ledger and events streams past theirs (a consumer group that has
// not acknowledged an entry keeps it). A workspace that cannot be reached
// (its Cluster shard down) is counted in Failed and skipped: the others
// are still swept, and the first failure is returned with the stats.
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (quota.SweepStats, error) {
	var st quota.SweepStats
	ids, err := s.indexAll(ctx)
	if err != nil {
		return st, err
	}
	var firstErr error
	for _, ws := range ids {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if err := s.sweepWorkspace(ctx, ws, now, limit-st.Released, &st); err != nil {
			st.Failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("store: sweep workspace %s: %w", ws, err)
			}
			continue
		}
		st.Workspaces++
	}
	return st, firstErr
}

// sweepWorkspace sweeps one workspace.
func (s *Store) sweepWorkspace(ctx context.Context, ws string, now time.Time, limit int, st *quota.SweepStats) error {
	prefix := wsPrefix(ws)
	base := []any{now.UnixMilli(), prefix, 0, 0, "", "", ""}
	if limit > 0 {
		raw, err := s.exec(ctx, fnSweep, []string{wsKey(ws)}, append(base, limit))
		if err != nil {
			return err
		}
		v, _ := raw.([]any)
		if len(v) == 8 {
			st.Released += int(asInt(v[0]))
			st.ReleasedCredits += asInt(v[2])
			for o := range 3 {
				st.ReleasedByOrigin[o+1] += asInt(v[4+o])
			}
			st.ForfeitedCredits += asInt(v[7])
			if oldest := asInt(v[3]); oldest > 0 {
				if lag := now.Sub(time.UnixMilli(oldest)); lag > st.Lag {
					st.Lag = lag
				}
			}
		}
	}
	cut := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	raw, err := s.exec(ctx, fnRetain, []string{wsKey(ws)}, append(base,
		cut(s.opts.RunRetention), retainRuns, cut(s.opts.LedgerRetention), cut(s.opts.EventsRetention),
		quota.DayOf(now.Add(-s.opts.UsageRetention)), retainDays))
	if err != nil {
		return err
	}
	if v, _ := raw.([]any); len(v) == 7 {
		st.Purged += int(asInt(v[0]))
		st.Trimmed += int(asInt(v[2]) + asInt(v[3]))
		st.Held += int(asInt(v[4]))
		st.UsageDays += int(asInt(v[5]))
	}
	return nil
}
