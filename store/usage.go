package store

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// Usage buckets (lua/usage.lua): for each UTC day of a workspace, the
// hash use:<day> holds one field per group, a counter of layout
// schema.Usage; usek:<day> indexes its fields with score 0, so that a page
// of groups is read by lex range; usedays lists the days, for the
// retention (lua/fn_retain.lua). A field is a letter and the group's key.
// A day's total is the sum of its origins'. The Commit script queues what
// it adds to them (usepend) and the buckets take it in batches; Usage
// folds the rest of the queue before it reads (foldUsage), so that a
// report counts every commit acknowledged before it.

// groupLetter is the first letter of the bucket fields of a grouping.
var groupLetter = map[quota.UsageGrouping]string{
	quota.UsageByMember: schema.UseMember, quota.UsageByAgent: schema.UseAgent, quota.UsageByModel: schema.UseModel,
	quota.UsageByTier: schema.UseTier, quota.UsageByOrigin: schema.UseOrigin,
}

// originFields are the fields of the origins, whose sum is a day's total.
var originFields = func() []string {
	var out []string
	for _, o := range quota.Origins {
		out = append(out, groupLetter[quota.UsageByOrigin]+o.Name())
	}
	return out
}()

// commitArgs are the Commit script's arguments after the common ones
// (lua/fn_commit.lua): the reservation, its priced usage and its usage
// entries (lua/usage.lua), what it adds to the usage buckets, which
// quota.UsageOf adds up by agent, model and tier. Numbers go packed as
// MessagePack (packInts, appendInt): Redis's Lua reads them with one
// cmsgpack.unpack instead of a tonumber each, which was 5% of a Commit's
// Redis instructions, and the script queues the entries as they come.
func commitArgs(op quota.CommitOp) []any {
	u := quota.UsageOf(&op.Cost)
	day := quota.DayOf(op.Now)
	// The first entry: Go's part of the own kind (the script puts the
	// owner, charged and shortfall before it), then groups; the other
	// entries are of the more kind ("", the day, then groups).
	entries := [][]byte{packInts(day, int64(op.Ref.Origin), op.Cost.TokenCost, op.Cost.ActionCost, u.Tokens, u.Actions)}
	n := 0
	for _, gs := range []struct {
		letter string
		groups []quota.UsageGroup
	}{{groupLetter[quota.UsageByAgent], u.Agents}, {groupLetter[quota.UsageByModel], u.Models}, {groupLetter[quota.UsageByTier], u.Tiers}} {
		for _, g := range gs.groups {
			if n == schema.UsageEntryGroups {
				entries, n = append(entries, appendInt(appendStr(nil, ""), day)), 0
			}
			e := appendStr(entries[len(entries)-1], gs.letter+g.Key)
			entries[len(entries)-1] = appendInt(appendInt(appendInt(appendInt(e, g.TokenCost), g.ActionCost), g.Tokens), g.Actions)
			n++
		}
	}
	args := []any{op.Ref.Hex, op.Ref.Version, encodeCost(&op.Cost), int(op.Ref.Origin), entries[0],
		packInts(op.Cost.TokenCost, op.Cost.ActionCost, op.Agents)}
	for _, e := range entries[1:] {
		args = append(args, e)
	}
	return args
}

// foldUsage folds the workspace's usage queue into its buckets
// (lua/fn_fold_usage.lua), a batch per call, until it is empty. The
// Commits keep the queue below schema.UsageFoldAt entries plus one
// commit's (each folds as many as it queues once it holds that many), so
// this takes a call or two; maxFolds bounds it all the same.
func (s *Store) foldUsage(ctx context.Context, ws string) error {
	for range maxFolds {
		raw, err := s.exec(ctx, fnFoldUsage, []string{wsKey(ws)}, []any{0, wsPrefix(ws)})
		if err != nil {
			return err
		}
		if v, _ := raw.([]any); len(v) != 2 || asInt(v[1]) == 0 {
			return nil
		}
	}
	return quota.Unavailable(fmt.Errorf("store: the usage queue of workspace %s is still not empty after %d folds", ws, maxFolds))
}

// maxFolds bounds foldUsage's calls, far above what the queue needs.
const maxFolds = 100

// usageGroup reads a bucket field's value (nil: none) as a group: a
// counter of layout schema.Usage, its fields' MessagePack values one
// after the other.
func usageGroup(key string, raw any) (quota.UsageGroup, error) {
	s, ok := raw.(string)
	if !ok {
		return quota.UsageGroup{Key: key}, nil
	}
	r, err := decodeRecord(s, schema.Usage)
	if err != nil {
		return quota.UsageGroup{}, quota.Internal(fmt.Errorf("usage counter %q: %w", s, err))
	}
	g := quota.UsageGroup{Key: key, TokenCost: r.int("tcost"), ActionCost: r.int("acost"), Tokens: r.int("tokens"),
		Actions: r.int("actions"), Commits: r.int("commits"), Charged: r.int("charged"), Shortfall: r.int("sf")}
	g.Cost = g.TokenCost + g.ActionCost
	return g, nil
}

// Usage returns a page of usage groups over the days [op.FirstDay,
// op.EndDay) and the range's total. The reads are pipelined (one slot:
// the workspace's): the days' totals and, for a grouping other than by
// day, the first op.Limit+1 fields after op.After of each day's index,
// then the values of the op.Limit first keys of their union in each day
// that has them. A key among the page's is among the first op.Limit+1 of
// every day that has it, so no day's part of it is missed.
func (s *Store) Usage(ctx context.Context, op quota.UsageOp) (quota.UsagePage, error) {
	var page quota.UsagePage
	days := op.EndDay - op.FirstDay
	if days <= 0 || op.Limit <= 0 {
		return page, nil
	}
	letter := groupLetter[op.GroupBy]
	switch {
	case op.GroupBy == quota.UsageByDay:
		letter = "g" // unused: days are read from their totals
	case letter == "":
		return page, quota.Invalid("group_by", "unknown grouping %d", op.GroupBy)
	}
	if err := s.foldUsage(ctx, op.WorkspaceID); err != nil {
		return page, err
	}
	totals := make([]*redis.SliceCmd, days)
	ranges := make([]*redis.StringSliceCmd, days)
	lo, hi := "["+letter, "("+string(rune(letter[0]+1)) // hi: past every field of the letter
	if op.After != "" {
		lo = "(" + letter + op.After
	}
	err := s.pipeline(ctx, func(p redis.Pipeliner) {
		for i := range days {
			d := op.FirstDay + i
			totals[i] = p.HMGet(ctx, useKey(op.WorkspaceID, d), originFields...)
			if op.GroupBy != quota.UsageByDay {
				ranges[i] = p.ZRangeByLex(ctx, useIndex(op.WorkspaceID, d), &redis.ZRangeBy{
					Min: lo, Max: hi, Count: int64(op.Limit) + 1})
			}
		}
	})
	if err != nil {
		return page, err
	}
	for i, c := range totals {
		day := quota.UsageGroup{Key: quota.DayKey(op.FirstDay + int64(i))}
		used := false
		for _, raw := range c.Val() {
			g, err := usageGroup("", raw)
			if err != nil {
				return page, err
			}
			day.Add(g)
			used = used || raw != nil
		}
		page.Total.Add(day)
		if op.GroupBy == quota.UsageByDay && used && day.Key > op.After {
			page.Groups = append(page.Groups, day)
		}
	}
	page.Total.Key = ""
	if op.GroupBy == quota.UsageByDay {
		if len(page.Groups) > op.Limit {
			page.Groups, page.More = page.Groups[:op.Limit], true
		}
		return page, nil
	}
	return s.usageGroups(ctx, op, letter, ranges, page)
}

// usageGroups reads the values of a page of groups, from the fields each
// day's index listed.
func (s *Store) usageGroups(ctx context.Context, op quota.UsageOp, letter string, ranges []*redis.StringSliceCmd, page quota.UsagePage) (quota.UsagePage, error) {
	seen := map[string]bool{}
	var keys []string
	for _, c := range ranges {
		for _, f := range c.Val() {
			if !seen[f] {
				seen[f] = true
				keys = append(keys, f)
			}
		}
	}
	sort.Strings(keys)
	if len(keys) > op.Limit {
		keys, page.More = keys[:op.Limit], true
	}
	in := make(map[string]bool, len(keys))
	for _, k := range keys {
		in[k] = true
	}
	type read struct {
		fields []string
		cmd    *redis.SliceCmd
	}
	var reads []read
	err := s.pipeline(ctx, func(p redis.Pipeliner) {
		for i, c := range ranges {
			var fields []string
			for _, f := range c.Val() {
				if in[f] {
					fields = append(fields, f)
				}
			}
			if len(fields) > 0 {
				reads = append(reads, read{fields, p.HMGet(ctx, useKey(op.WorkspaceID, op.FirstDay+int64(i)), fields...)})
			}
		}
	})
	if err != nil {
		return page, err
	}
	sums := make(map[string]*quota.UsageGroup, len(keys))
	for _, k := range keys {
		sums[k] = &quota.UsageGroup{Key: k[len(letter):]}
	}
	for _, r := range reads {
		for j, v := range r.cmd.Val() {
			g, err := usageGroup("", v)
			if err != nil {
				return page, err
			}
			sums[r.fields[j]].Add(g)
		}
	}
	page.Groups = make([]quota.UsageGroup, 0, len(keys))
	for _, k := range keys {
		page.Groups = append(page.Groups, *sums[k])
	}
	return page, nil
}

// pipeline runs the commands f queues in one round trip, within the call
// timeout; a command's redis.Nil is no error (its reply tells), any other
// failure is classified like exec's.
func (s *Store) pipeline(ctx context.Context, f func(p redis.Pipeliner)) error {
	return s.plain(ctx, func(ctx context.Context) error {
		cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			f(p)
			return nil
		})
		if err == nil {
			return nil
		}
		for _, c := range cmds {
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
		}
		return nil
	})
}
