package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// Audits read a workspace's records with plain commands, page by page
// (auditPage keys per command), never in one script: an audit's work
// grows with the workspace, and a script would stall every other client
// meanwhile. Records change while an audit reads them, so a difference
// is reported only when a second pass finds it again, the same.

// auditPage is how many index entries or records one command reads.
const auditPage = 500

// MaxAuditLedgerEntries bounds the ledger entries an audit reads; a
// longer ledger is not replayed (LedgerComplete stays false).
const MaxAuditLedgerEntries = 1_000_000

// Workspaces lists every workspace ever set up.
func (s *Store) Workspaces(ctx context.Context) ([]string, error) {
	return s.indexAll(ctx)
}

// Audit recomputes a workspace's accounts and grants from its records.
func (s *Store) Audit(ctx context.Context, ws string, now time.Time) (quota.AuditReport, error) {
	first, err := s.auditPass(ctx, ws)
	if err != nil || len(first.Drifts) == 0 {
		first.Time = now
		return first, err
	}
	second, err := s.auditPass(ctx, ws)
	if err != nil {
		return quota.AuditReport{}, err
	}
	again := map[quota.Drift]bool{}
	for _, d := range second.Drifts {
		again[d] = true
	}
	var confirmed []quota.Drift
	for _, d := range first.Drifts {
		if again[d] {
			confirmed = append(confirmed, d)
		}
	}
	second.Drifts, second.Time = confirmed, now
	return second, nil
}

// held is what open reservations hold, summed.
type held struct{ seat, free, pool, ov int64 }

// audit is one pass's state.
type audit struct {
	rep     quota.AuditReport
	byOwner map[string]*held
	byGrant map[string]int64
	total   held
	prog    int64 // held by programmatic spenders (pool and overage)
}

// drift notes a difference.
func (a *audit) drift(subject, field string, recorded, recomputed int64, explanation string) {
	if recorded != recomputed {
		a.rep.Drifts = append(a.rep.Drifts, quota.Drift{Subject: subject, Field: field, Recorded: recorded,
			Recomputed: recomputed, Explanation: explanation})
	}
}

// auditPass reads every record once and reports what differs.
func (s *Store) auditPass(ctx context.Context, ws string) (quota.AuditReport, error) {
	a := &audit{rep: quota.AuditReport{WorkspaceID: ws}, byOwner: map[string]*held{}, byGrant: map[string]int64{}}
	w, err := s.workspaceRecord(ctx, ws)
	if err != nil {
		return quota.AuditReport{}, err
	}
	if err := s.eachRecord(ctx, deadlinesKey(ws), resKey(ws, ""), schema.Reservation, a.reservation); err != nil {
		return quota.AuditReport{}, err
	}
	var alloc, spent map[string]int64
	if alloc, spent, err = s.replayLedger(ctx, ws, &a.rep); err != nil {
		return quota.AuditReport{}, err
	}
	err = s.eachRecord(ctx, membersKey(ws), acctKey(ws, ""), schema.Account, func(member string, r record) {
		a.account(member, r, alloc, spent)
	})
	if err != nil {
		return quota.AuditReport{}, err
	}
	var g grantSums
	err = s.eachRecord(ctx, grantsAllKey(ws), grantKey(ws, ""), schema.Grant, func(id string, r record) { a.grant(id, r, &g) })
	if err != nil {
		return quota.AuditReport{}, err
	}
	a.workspace(w, g)
	return a.rep, nil
}

// eachRecord calls f with every record whose id the zset index lists
// (ids are the keys' suffixes after prefix), a page at a time; ids whose
// record is gone are skipped.
func (s *Store) eachRecord(ctx context.Context, index, prefix string, l *schema.Layout, f func(id string, r record)) error {
	for start := int64(0); ; start += auditPage {
		var ids []string
		err := s.plain(ctx, func(ctx context.Context) (err error) {
			ids, err = s.rdb.ZRange(ctx, index, start, start+auditPage-1).Result()
			return err
		})
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = prefix + id
		}
		var vals []any
		err = s.plain(ctx, func(ctx context.Context) (err error) {
			vals, err = s.rdb.MGet(ctx, keys...).Result()
			return err
		})
		if err != nil {
			return err
		}
		for i, v := range vals {
			raw, ok := v.(string)
			if !ok {
				continue
			}
			r, err := decodeRecord(raw, l)
			if err != nil {
				return quota.Internal(fmt.Errorf("store: audit %s: %w", keys[i], err))
			}
			f(ids[i], r)
		}
		if len(ids) < auditPage {
			return nil
		}
	}
}

// reservation adds what an open reservation holds to the sums.
func (a *audit) reservation(hex string, r record) {
	if quota.State(r.int("state")) != quota.StateHeld {
		return
	}
	a.rep.Reservations++
	owner := r.str("owner")
	h := a.byOwner[owner]
	if h == nil {
		h = &held{}
		a.byOwner[owner] = h
	}
	h.seat += r.int("h_seat") + r.int("h_old")
	h.free += r.int("h_free")
	h.pool += r.int("h_pool")
	a.total.pool += r.int("h_pool")
	a.total.ov += r.int("h_ov")
	if strings.HasPrefix(owner, schema.SpenderMark) {
		a.prog += r.int("h_pool") + r.int("h_ov")
	}
	var parts int64
	for _, g := range sourceAmounts(0, 0, r.str("h_grants"), 0) {
		a.byGrant[g.GrantID] += g.Amount
		parts += g.Amount
	}
	a.drift("reservation "+hex, "pool held", r.int("h_pool"), parts, "the sum of its per-grant holds (h_grants)")
}

// account checks a member's account against its holds and the ledger.
func (a *audit) account(member string, r record, alloc, spent map[string]int64) {
	a.rep.Accounts++
	subject := "account " + member
	h := a.byOwner[member]
	if h == nil {
		h = &held{}
	}
	avail := r.int("s_alloc") - r.int("s_spent") - r.int("s_held") + r.int("f_alloc") - r.int("f_spent") - r.int("f_held")
	a.drift(subject, "allocated", r.int("alloc"), avail+r.int("held")+r.int("spent")+r.int("forf"),
		"available + held + spent + forfeited")
	a.drift(subject, "held", r.int("held"), h.seat+h.free, "the seat and free credits its open reservations hold")
	a.drift(subject, "free.held", r.int("f_held"), h.free, "the free credits its open reservations hold")
	a.drift(subject, "pool.held", r.int("p_held"), h.pool, "the pool credits its open reservations hold")
	for _, f := range []string{"s_held", "f_held", "s_spent", "f_spent"} {
		if r.int(f) < 0 {
			a.drift(subject, f, r.int(f), 0, "never negative")
		}
	}
	if alloc != nil {
		a.drift(subject, "allocated (ledger)", r.int("alloc"), alloc[member],
			"the ledger's allocations: grant_free, reset, upgrade and adjust entries")
		a.drift(subject, "spent (ledger)", r.int("spent"), spent[member],
			"the seat and free credits the ledger's commit entries charged")
	}
}

// grantSums are the grants' sums, for the pool's checks.
type grantSums struct{ amount, active, pending, live, held, spent, forf int64 }

// grant checks a grant against the holds and adds it to the sums.
func (a *audit) grant(id string, r record, g *grantSums) {
	a.rep.Grants++
	subject := "grant " + id
	avail := r.int("amount") - r.int("held") - r.int("spent") - r.int("forf")
	a.drift(subject, "held", r.int("held"), a.byGrant[id], "what open reservations hold of it")
	switch quota.GrantState(r.int("state")) {
	case quota.GrantActive:
		g.active += avail
		g.live += r.int("amount")
	case quota.GrantPending:
		g.pending += avail
	default:
		a.drift(subject, "available", avail, 0, "an ended grant has nothing left: it was forfeited")
	}
	if avail < 0 {
		a.drift(subject, "available", avail, 0, "amount - held - spent - forfeited, never negative")
	}
	g.amount += r.int("amount")
	g.held += r.int("held")
	g.spent += r.int("spent")
	g.forf += r.int("forf")
}

// workspace checks the pool's and the workspace's sums.
func (a *audit) workspace(w record, g grantSums) {
	a.drift("pool", "granted", w.int("p_granted"),
		w.int("p_avail")+w.int("p_pend")+w.int("p_held")+w.int("p_spent")+w.int("p_forf"),
		"available + pending + held + spent + forfeited")
	a.drift("pool", "granted (grants)", w.int("p_granted"), g.amount, "the grants' amounts")
	a.drift("pool", "available", w.int("p_avail"), g.active, "the active grants' available credits")
	a.drift("pool", "pending", w.int("p_pend"), g.pending, "the pending grants' available credits")
	a.drift("pool", "live", w.int("p_live"), g.live, "the active grants' amounts")
	a.drift("pool", "held", w.int("p_held"), a.total.pool, "the pool credits open reservations hold")
	a.drift("pool", "held (grants)", w.int("p_held"), g.held, "the grants' held credits")
	a.drift("pool", "spent", w.int("p_spent"), g.spent, "the grants' spent credits")
	a.drift("pool", "forfeited", w.int("p_forf"), g.forf, "the grants' forfeited credits")
	a.drift("workspace", "overage.held", w.int("ov_held"), a.total.ov, "the overage open reservations hold")
	a.drift("workspace", "programmatic.held", w.int("prog_held"), a.prog,
		"the pool and overage credits programmatic spenders' open reservations hold")
}

// replayLedger sums, per member, the allocations and the charges of seat
// and free credits the ledger records, when it holds the workspace's whole
// history (no entry was ever trimmed: the retention entry marks the
// workspace when it trims one); else it returns nil maps.
func (s *Store) replayLedger(ctx context.Context, ws string, rep *quota.AuditReport) (alloc, spent map[string]int64, err error) {
	var n int64
	err = s.plain(ctx, func(ctx context.Context) (err error) {
		if n, err = s.rdb.Exists(ctx, ledgerTrimmedKey(ws)).Result(); err != nil {
			return err
		}
		if n == 0 {
			n, err = s.rdb.XLen(ctx, ledgerKey(ws)).Result()
			if errors.Is(err, redis.Nil) {
				n, err = 0, nil
			}
			return err
		}
		n = -1
		return nil
	})
	if err != nil || n < 0 || n > MaxAuditLedgerEntries {
		return nil, nil, err
	}
	alloc, spent = map[string]int64{}, map[string]int64{}
	from := "-"
	for {
		var xs []redis.XMessage
		err := s.plain(ctx, func(ctx context.Context) (err error) {
			xs, err = s.rdb.XRangeN(ctx, ledgerKey(ws), from, "+", auditPage).Result()
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		for _, x := range xs {
			rep.LedgerEntries++
			v := x.Values
			member, _ := v["member"].(string)
			if member == "" || strings.HasPrefix(member, schema.SpenderMark) {
				continue
			}
			switch v["op"] {
			case "grant_free", "reset", "upgrade":
				alloc[member] += asInt(v["allocated"])
			case "adjust":
				alloc[member] += asInt(v["seat"])
			case "commit":
				spent[member] += asInt(v["seat"]) + asInt(v["free"])
			}
		}
		if len(xs) < auditPage {
			break
		}
		from = "(" + xs[len(xs)-1].ID
	}
	rep.LedgerComplete = true
	return alloc, spent, nil
}
