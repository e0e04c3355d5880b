package store

import (
	"context"
	"fmt"
	"time"

	"github.com/quota-svc/quota/quota"
)

// The bounds of one call of the background work, so that no script call
// keeps Redis from its other clients for long (issue 7: none over 1 ms);
// a backlog is worked through in as many calls, each its own FCALL, with
// other clients served in between.
const (
	// sweepBatch bounds how many expired holds (and, separately, due
	// grant transitions) one sweep call releases in a workspace.
	sweepBatch = 16
	// retainBatch bounds how many reservations one retention call deletes
	// in a workspace (and the root of the last run it reaches): a run
	// larger than that is deleted over several calls.
	retainBatch = 64
	// retainCalls bounds the retention calls of one workspace in one
	// sweep: up to retainCalls*retainBatch reservations (8,192) a sweep,
	// the rest at the next.
	retainCalls = 128
	// retainDays bounds how many days of usage buckets one retention
	// call deletes in a workspace (each a hash and its index, unlinked).
	retainDays = 8
)

// Sweep does the background work due at now in every workspace: it
// releases expired holds (up to limit in all, sweepBatch a call) and
// applies grant transitions, then deletes settled runs past the run
// retention (up to retainCalls*retainBatch reservations a workspace) and
// trims the ledger and events streams past theirs (a consumer group that
// has not acknowledged an entry keeps it). A workspace that cannot be
// reached (its Cluster shard down) is counted in Failed and skipped: the
// others are still swept, and the first failure is returned with the
// stats.
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

// sweepWorkspace sweeps one workspace: expired holds and grant
// transitions in calls of sweepBatch while more are due and limit allows
// (and no more calls than limit takes batches, plus one: a call that
// applies grant transitions only releases no hold), then the retentions.
func (s *Store) sweepWorkspace(ctx context.Context, ws string, now time.Time, limit int, st *quota.SweepStats) error {
	for calls, most := 0, limit/sweepBatch+1; limit > 0 && calls <= most; calls++ {
		raw, err := s.exec(ctx, fnSweep, []string{wsKey(ws)}, backgroundArgs(ws, now, min(limit, sweepBatch)))
		if err != nil {
			return err
		}
		v, _ := raw.([]any)
		if len(v) != 8 {
			return fmt.Errorf("store: sweep reply of %d values, want 8", len(v))
		}
		n := int(asInt(v[0]))
		st.Released += n
		limit -= n
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
		if asInt(v[1]) == 0 {
			break
		}
	}
	for i := range retainCalls {
		raw, err := s.retain(ctx, ws, now, i == 0)
		if err != nil {
			return err
		}
		v, _ := raw.([]any)
		if len(v) != 7 {
			return fmt.Errorf("store: retention reply of %d values, want 7", len(v))
		}
		st.Purged += int(asInt(v[0]))
		st.Trimmed += int(asInt(v[2]) + asInt(v[3]))
		st.Held += int(asInt(v[4]))
		st.UsageDays += int(asInt(v[5]))
		if asInt(v[1]) == 0 {
			break
		}
	}
	return nil
}

// retain makes one retention call of workspace ws at now: it deletes up
// to retainBatch reservations of settled runs past the run retention and,
// when first, trims the streams and deletes usage days too (the next
// calls of a sweep, while runs are left, pass cutoffs of 0: keep
// everything).
func (s *Store) retain(ctx context.Context, ws string, now time.Time, first bool) (any, error) {
	cut := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	args := backgroundArgs(ws, now, cut(s.opts.RunRetention), retainBatch)
	if first {
		args = append(args, cut(s.opts.LedgerRetention), cut(s.opts.EventsRetention),
			quota.DayOf(now.Add(-s.opts.UsageRetention)), retainDays)
	} else {
		args = append(args, 0, 0, 0, 0)
	}
	return s.exec(ctx, fnRetain, []string{wsKey(ws)}, args)
}

// backgroundArgs are the args of a background call of workspace ws at
// now: the common args of lua/core.lua (no period to roll, no request),
// then extra.
func backgroundArgs(ws string, now time.Time, extra ...any) []any {
	return append([]any{now.UnixMilli(), wsPrefix(ws), 0, 0, "", "", ""}, extra...)
}
