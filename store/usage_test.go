package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/internal/schema"
)

// randomTree is a usage tree of random agents, models (one the price table
// does not list) and tools (platform, basic, advanced, free, unknown,
// some not run, some external MCP), up to depth levels deep.
func randomTree(rng *rand.Rand, depth int) quota.AgentRun {
	agents := []string{"main", "researcher", "coder", "critic"}
	models := []string{"gpt-5-mini", "claude-sonnet-4-5", "mystery-model", "claude-haiku-4-5"}
	tools := []string{"web_search", "agent_router", "data_retrieval", "think", "unknown_tool"}
	run := quota.AgentRun{AgentID: agents[rng.IntN(len(agents))]}
	for range rng.IntN(3) {
		run.Models = append(run.Models, quota.ModelUsage{Model: models[rng.IntN(len(models))],
			InputTokens: rng.Int64N(200_000), OutputTokens: rng.Int64N(20_000), CacheRead: rng.Int64N(10_000)})
	}
	for range rng.IntN(4) {
		run.Actions = append(run.Actions, quota.ToolAction{Tool: tools[rng.IntN(len(tools))],
			NotRun: rng.IntN(5) == 0, ExternalMCP: rng.IntN(10) == 0})
	}
	if depth > 1 {
		for range rng.IntN(3) {
			run.SubAgents = append(run.SubAgents, randomTree(rng, depth-1))
		}
	}
	return run
}

// tally adds a committed reservation's own usage tree, as its reply shows
// it, to the expected groups by agent, model and tier.
type tally struct{ agents, models, tiers map[string]quota.UsageGroup }

func newTally() *tally {
	return &tally{agents: map[string]quota.UsageGroup{}, models: map[string]quota.UsageGroup{}, tiers: map[string]quota.UsageGroup{}}
}

func (t *tally) add(c *quota.RunCost) {
	var walk func(a *quota.AgentCost)
	walk = func(a *quota.AgentCost) {
		ag := t.agents[a.AgentID]
		ag.Key = a.AgentID
		ag.Cost += a.OwnCost
		ag.TokenCost += a.OwnTokenCost
		ag.ActionCost += a.OwnActionCost
		for _, m := range a.Models {
			g := t.models[m.Model]
			g.Key = m.Model
			g.Cost, g.TokenCost, g.Tokens = g.Cost+m.Cost, g.TokenCost+m.Cost, g.Tokens+m.Tokens
			t.models[m.Model] = g
			ag.Tokens += m.Tokens
		}
		for _, x := range a.Actions {
			if x.Note == "not run" {
				continue
			}
			name := map[quota.Tier]string{quota.TierFree: "free", quota.TierBasic: "basic", quota.TierAdvanced: "advanced"}[x.Tier]
			g := t.tiers[name]
			g.Key = name
			g.Cost, g.ActionCost, g.Actions = g.Cost+x.Cost, g.ActionCost+x.Cost, g.Actions+1
			t.tiers[name] = g
			ag.Actions++
		}
		t.agents[a.AgentID] = ag
		for i := range a.SubAgents {
			walk(&a.SubAgents[i])
		}
	}
	walk(&c.Root)
}

// fromLedger sums the ledger by member (or "~" spender), origin and day:
// cost is what commit ("own") and record entries say, charged and
// shortfall what commit entries charged.
func fromLedger(entries []quota.LedgerEntry) (byMember, byOrigin, byDay map[string]quota.UsageGroup) {
	byMember, byOrigin, byDay = map[string]quota.UsageGroup{}, map[string]quota.UsageGroup{}, map[string]quota.UsageGroup{}
	for _, x := range entries {
		if x.Op != "commit" && x.Op != "record" {
			continue
		}
		amt := map[string]int64{}
		for _, a := range x.Amounts {
			amt[a.Name] = a.Amount
		}
		g := quota.UsageGroup{Commits: 1}
		if x.Op == "record" {
			g.Cost = amt["cost"]
		} else {
			g.Cost = amt["own"]
			g.Charged = amt["seat"] + amt["free"] + amt["pool"] + amt["overage"]
			g.Shortfall = amt["shortfall"]
			if g.Charged+g.Shortfall != amt["cost"] {
				panic(fmt.Sprintf("ledger commit %s: charged %d + shortfall %d != cost %d", x.ID, g.Charged, g.Shortfall, amt["cost"]))
			}
		}
		owner := x.MemberID
		if x.SpenderID != "" {
			owner = "~" + x.SpenderID
		}
		ref, _ := quota.ParseReservationID(x.ReservationID)
		for _, k := range []struct {
			m   map[string]quota.UsageGroup
			key string
		}{{byMember, owner}, {byOrigin, ref.Origin.Name()}, {byDay, x.Time.Format(time.DateOnly)}} {
			s := k.m[k.key]
			s.Key = k.key
			s.Cost += g.Cost
			s.Commits += g.Commits
			s.Charged += g.Charged
			s.Shortfall += g.Shortfall
			k.m[k.key] = s
		}
	}
	return byMember, byOrigin, byDay
}

// only keeps the fields of usage groups the ledger tells.
func only(gs map[string]quota.UsageGroup) map[string]quota.UsageGroup {
	out := map[string]quota.UsageGroup{}
	for k, g := range gs {
		out[k] = quota.UsageGroup{Key: g.Key, Cost: g.Cost, Commits: g.Commits, Charged: g.Charged, Shortfall: g.Shortfall}
	}
	return out
}

// costs keeps the cost fields of usage groups.
func costs(gs map[string]quota.UsageGroup) map[string]quota.UsageGroup {
	out := map[string]quota.UsageGroup{}
	for k, g := range gs {
		out[k] = quota.UsageGroup{Key: g.Key, Cost: g.Cost, TokenCost: g.TokenCost, ActionCost: g.ActionCost,
			Tokens: g.Tokens, Actions: g.Actions}
	}
	return out
}

// TestUsageAndMembersAgreeWithTheLedger runs random reserves (members, a
// spender, children), commits of random agent trees (some replayed),
// refunds and expiries over several days, then checks that the usage
// buckets by member, origin and day equal what the ledger says to the
// µcredit, that by agent, model and tier they equal the committed trees,
// and that the members table's totals equal the ledger's.
func TestUsageAndMembersAgreeWithTheLedger(t *testing.T) {
	optionsEnv(t, store.Options{LedgerRetention: 90 * 24 * time.Hour, RunRetention: 90 * 24 * time.Hour}, func(t *testing.T, e *env) {
		rng := rand.New(rand.NewPCG(7, 9))
		start := e.clock()
		members := []string{"ann", "bob", "cat"}
		e.seat("ann", quota.SeatPro)
		e.seat("bob", quota.SeatMax)
		e.seat("cat", quota.SeatFree)
		e.policy(quota.Policy{OverageEnabled: true, OverageCap: 500 * C})
		e.grant(5_000*C, 0, start.Add(60*24*time.Hour))
		want := newTally()
		var open []string
		type done struct {
			id   string
			idem quota.Idem
			run  quota.AgentRun
		}
		var committed []done
		origins := []quota.Origin{quota.OriginConversation, quota.OriginSidekick, quota.OriginAutomation}
		// recent picks one of the last reservations still open, so that
		// children are committed before their roots (and recorded).
		recent := func() (int, string) {
			i := len(open) - 1 - rng.IntN(min(len(open), 4))
			return i, open[i]
		}
		for step := range 300 {
			switch op := rng.IntN(100); {
			case op < 20:
				req := quota.ReserveRequest{Idem: e.id(), WorkspaceID: "ws1", Amount: rng.Int64N(200)*C + 1,
					Min: 1, Origin: origins[rng.IntN(3)], TTL: time.Duration(30+rng.IntN(600)) * time.Second}
				if rng.IntN(4) == 0 {
					req.SpenderID = "bot"
				} else {
					req.MemberID = members[rng.IntN(3)]
				}
				if o, err := e.svc.Reserve(e.ctx, req); err == nil {
					open = append(open, o.Reservation.ID)
				}
			case op < 40 && len(open) > 0:
				_, p := recent()
				if o, err := e.child(p, rng.Int64N(50)*C+1, 1, rng.IntN(2) == 0); err == nil {
					open = append(open, o.Reservation.ID)
				}
			case op < 70 && len(open) > 0:
				i, id := recent()
				d := done{id: id, idem: e.id(), run: randomTree(rng, 3)}
				o, err := e.svc.Commit(e.ctx, quota.CommitRequest{Idem: d.idem, WorkspaceID: "ws1", ReservationID: d.id, Usage: d.run})
				if err == nil {
					want.add(o.Reservation.Cost)
					committed = append(committed, d)
				}
				open = append(open[:i], open[i+1:]...)
			case op < 76 && len(committed) > 0:
				// A retried commit: the same answer, counted once.
				d := committed[rng.IntN(len(committed))]
				if _, err := e.svc.Commit(e.ctx, quota.CommitRequest{Idem: d.idem, WorkspaceID: "ws1", ReservationID: d.id, Usage: d.run}); err != nil {
					t.Fatalf("step %d: replayed commit of %s: %v", step, d.id, err)
				}
			case op < 83 && len(open) > 0:
				i, id := recent()
				e.refund(id)
				open = append(open[:i], open[i+1:]...)
			case op < 94:
				e.advance(time.Duration(rng.IntN(300)) * time.Second)
			case op < 97:
				e.advance(time.Duration(6+rng.IntN(20)) * time.Hour)
			default:
				if _, err := e.svc.Sweep(e.ctx, 1+rng.IntN(5)); err != nil {
					t.Fatal(err)
				}
			}
		}
		end := e.clock().Add(time.Millisecond)
		ledger := e.ledger(quota.LedgerQuery{Start: start}, 37)
		lm, lo, ld := fromLedger(ledger)
		ops := map[string]int{}
		for _, x := range ledger {
			ops[x.Op]++
		}
		records := ops["record"]
		var short int64
		for _, g := range lm {
			short += g.Shortfall
		}
		t.Logf("%d ledger entries over %d days: %v; shortfall %d", len(ledger), len(ld), ops, short)
		if len(ld) < 2 || records == 0 || len(lm) < 4 {
			t.Fatalf("the run spans %d days, %d members, %d records; want several of each", len(ld), len(lm), records)
		}
		for _, g := range []struct {
			name string
			by   quota.UsageGrouping
			want map[string]quota.UsageGroup
		}{{"member", quota.UsageByMember, lm}, {"origin", quota.UsageByOrigin, lo}, {"day", quota.UsageByDay, ld}} {
			got, total := e.usage(g.by, start, end, 2)
			if diff := cmp.Diff(g.want, only(got)); diff != "" {
				t.Errorf("usage by %s against the ledger (-ledger +usage):\n%s", g.name, diff)
			}
			var sum quota.UsageGroup
			for _, x := range got {
				sum.Add(x)
			}
			if sum != total {
				t.Errorf("usage by %s: the groups sum to %+v, the total is %+v", g.name, sum, total)
			}
		}
		var total quota.UsageGroup
		for _, g := range []struct {
			name string
			by   quota.UsageGrouping
			want map[string]quota.UsageGroup
		}{{"agent", quota.UsageByAgent, want.agents}, {"model", quota.UsageByModel, want.models}, {"tier", quota.UsageByTier, want.tiers}} {
			got, tt := e.usage(g.by, start, end, 3)
			if diff := cmp.Diff(g.want, costs(got)); diff != "" {
				t.Errorf("usage by %s against the committed trees (-trees +usage):\n%s", g.name, diff)
			}
			total = tt
		}
		var agentCost, modelCost, tierCost int64
		for _, g := range want.agents {
			agentCost += g.Cost
		}
		for _, g := range want.models {
			modelCost += g.Cost
		}
		for _, g := range want.tiers {
			tierCost += g.Cost
		}
		if total.Cost != agentCost || total.TokenCost != modelCost || total.ActionCost != tierCost {
			t.Errorf("total %+v: want cost %d (agents), token cost %d (models), action cost %d (tiers)", total, agentCost, modelCost, tierCost)
		}

		// The members table against the ledger: what each member was
		// allocated and spent of their own credits.
		alloc, spent := map[string]int64{}, map[string]int64{}
		for _, x := range ledger {
			for _, a := range x.Amounts {
				switch {
				case a.Name == "allocated" && (x.Op == "reset" || x.Op == "upgrade" || x.Op == "grant_free"):
					alloc[x.MemberID] += a.Amount
				case (a.Name == "seat" || a.Name == "free") && x.Op == "commit":
					spent[x.MemberID] += a.Amount
				}
			}
		}
		for _, b := range e.members(2) {
			if b.Totals.Allocated != alloc[b.MemberID] || b.Totals.Spent != spent[b.MemberID] {
				t.Errorf("%s: allocated %d, spent %d; the ledger says %d, %d", b.MemberID, b.Totals.Allocated,
					b.Totals.Spent, alloc[b.MemberID], spent[b.MemberID])
			}
		}
	})
}

func TestReplayedCommitCountsOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		r := e.mustReserve("ann", 10*C)
		req := quota.CommitRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: r.ID, Usage: actions(2)}
		for range 3 {
			if _, err := e.svc.Commit(e.ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		// Committing it again under another request id is refused and
		// counts nothing either.
		if _, err := e.commit(r.ID, actions(5)); err == nil {
			t.Fatal("a second commit was accepted")
		}
		got, total := e.usage(quota.UsageByMember, time.Time{}, time.Time{}, 10)
		want := quota.UsageGroup{Key: "ann", Cost: 6 * C, ActionCost: 6 * C, Actions: 2, Commits: 1, Charged: 6 * C}
		if diff := cmp.Diff(map[string]quota.UsageGroup{"ann": want}, got); diff != "" {
			t.Errorf("usage (-want +got):\n%s", diff)
		}
		want.Key = ""
		if total != want {
			t.Errorf("total %+v, want %+v", total, want)
		}
	})
}

// TestUsageGroupsAndRanges checks each grouping's keys (a child's cost is
// its member's when it is recorded, what it charged when its root
// commits), the resolved range and the range's limits.
func TestUsageGroupsAndRanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		e.grant(100*C, 0, e.clock().Add(30*24*time.Hour))
		day1 := e.clock()
		root := e.mustReserve("ann", 20*C)
		kid := e.mustChild(root.ID, 5*C)
		run := quota.AgentRun{AgentID: "sub", Models: []quota.ModelUsage{{Model: "mystery-model", InputTokens: 1_000}},
			Actions: []quota.ToolAction{{Tool: "agent_router"}, {Tool: "slack_connector", NotRun: true}, {Tool: "think"}}}
		if _, err := e.commit(kid.ID, run); err != nil {
			t.Fatal(err)
		}
		e.advance(24 * time.Hour)
		if _, err := e.commit(root.ID, actions(1)); err != nil {
			t.Fatal(err)
		}
		o, err := e.spend("bot", C, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.commit(o.Reservation.ID, tokens("main", 1)); err != nil {
			t.Fatal(err)
		}
		// mystery-model is priced at the fallback, claude-opus-4-1: 1,500
		// credits per million input tokens.
		sub := quota.UsageGroup{Cost: 1_500_000, TokenCost: 1_500_000, Tokens: 1_000, Actions: 2, Commits: 1}
		main := quota.UsageGroup{Cost: 3 * C, ActionCost: 3 * C, Actions: 1, Commits: 1, Charged: 3*C + 1_500_000}
		bot := quota.UsageGroup{Cost: C, TokenCost: C, Tokens: 40_000, Commits: 1, Charged: C}
		with := func(g quota.UsageGroup, key string) quota.UsageGroup { g.Key = key; return g }
		sum := func(gs ...quota.UsageGroup) quota.UsageGroup {
			var s quota.UsageGroup
			for _, g := range gs {
				s.Add(g)
			}
			return s
		}
		from, to := day1.Add(-time.Hour), e.clock()
		for _, tc := range []struct {
			by   quota.UsageGrouping
			want map[string]quota.UsageGroup
		}{
			{quota.UsageByMember, map[string]quota.UsageGroup{"ann": with(sum(sub, main), "ann"), "~bot": with(bot, "~bot")}},
			{quota.UsageByOrigin, map[string]quota.UsageGroup{"conversation": with(sum(sub, main), "conversation"), "automation": with(bot, "automation")}},
			{quota.UsageByDay, map[string]quota.UsageGroup{"2026-03-10": with(sub, "2026-03-10"), "2026-03-11": with(sum(main, bot), "2026-03-11")}},
			{quota.UsageByAgent, map[string]quota.UsageGroup{
				"sub":  {Key: "sub", Cost: 1_500_000, TokenCost: 1_500_000, Tokens: 1_000, Actions: 2},
				"main": {Key: "main", Cost: 4 * C, TokenCost: C, ActionCost: 3 * C, Tokens: 40_000, Actions: 1}}},
			{quota.UsageByModel, map[string]quota.UsageGroup{
				"mystery-model": {Key: "mystery-model", Cost: 1_500_000, TokenCost: 1_500_000, Tokens: 1_000},
				"gpt-5-mini":    {Key: "gpt-5-mini", Cost: C, TokenCost: C, Tokens: 40_000}}},
			{quota.UsageByTier, map[string]quota.UsageGroup{
				"basic":    {Key: "basic", Actions: 1},
				"free":     {Key: "free", Actions: 1},
				"advanced": {Key: "advanced", Cost: 3 * C, ActionCost: 3 * C, Actions: 1}}},
		} {
			got, _ := e.usage(tc.by, from, to, 1)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("usage by %d (-want +got):\n%s", tc.by, diff)
			}
		}
		// The range is resolved in whole days; unset, it is the current
		// period (from 2026-02-28 09:00) to now.
		rep, err := e.svc.GetUsage(e.ctx, quota.UsageRequest{WorkspaceID: "ws1", GroupBy: quota.UsageByDay})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Start.Equal(time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)) || !rep.End.Equal(time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("default range [%s, %s)", rep.Start, rep.End)
		}
		// The longest range, 400 days, answers on every backend: on the
		// embedded server too, whose in-memory connections once
		// deadlocked on its pipeline of two commands per day.
		long, err := e.svc.GetUsage(e.ctx, quota.UsageRequest{WorkspaceID: "ws1", GroupBy: quota.UsageByMember,
			Start: e.now.Add(-399 * 24 * time.Hour), End: e.now})
		if err != nil {
			t.Fatalf("a 400-day report: %v", err)
		}
		if long.Total.Cost == 0 || long.Total != rep.Total || long.End.Sub(long.Start) != 400*24*time.Hour {
			t.Errorf("a 400-day report [%s, %s): total %+v, want the period's %+v", long.Start, long.End, long.Total, rep.Total)
		}
		for _, tc := range []struct {
			name string
			r    quota.UsageRequest
			want func(error) bool
		}{
			{"401 days", quota.UsageRequest{Start: from, End: from.Add(400 * 24 * time.Hour)},
				func(err error) bool {
					var qe *quota.Error
					return errors.As(err, &qe) && qe.Limit != nil && qe.Limit.Name == "usage_days"
				}},
			{"end before start", quota.UsageRequest{Start: from, End: from}, func(err error) bool { return isInvalid(err, "end_time") }},
			{"no grouping", quota.UsageRequest{GroupBy: quota.UsageUnknown}, func(err error) bool { return isInvalid(err, "group_by") }},
			{"bad token", quota.UsageRequest{PageToken: "x"}, func(err error) bool { return isInvalid(err, "page_token") }},
			{"unknown workspace", quota.UsageRequest{WorkspaceID: "nowhere"}, func(err error) bool { return errors.Is(err, quota.ErrWorkspaceNotFound) }},
		} {
			r := tc.r
			if r.WorkspaceID == "" {
				r.WorkspaceID = "ws1"
			}
			if r.GroupBy == 0 && tc.name != "no grouping" {
				r.GroupBy = quota.UsageByMember
			}
			if _, err := e.svc.GetUsage(e.ctx, r); !tc.want(err) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		// A token is for its grouping and range.
		rep, err = e.svc.GetUsage(e.ctx, quota.UsageRequest{WorkspaceID: "ws1", GroupBy: quota.UsageByMember, PageSize: 1})
		if err != nil || rep.NextPageToken == "" {
			t.Fatalf("first page: %+v, %v", rep, err)
		}
		for _, r := range []quota.UsageRequest{{GroupBy: quota.UsageByAgent}, {GroupBy: quota.UsageByMember, Start: from}} {
			r.WorkspaceID, r.PageToken = "ws1", rep.NextPageToken
			if _, err := e.svc.GetUsage(e.ctx, r); !isInvalid(err, "page_token") {
				t.Errorf("the member token with %+v: %v", r, err)
			}
		}
	})
}

func TestUsageBucketsAreDeletedAfterTheRetention(t *testing.T) {
	optionsEnv(t, store.Options{UsageRetention: 3 * 24 * time.Hour}, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		start := e.clock()
		for range 4 { // four days of usage: March 10 to 13
			if _, err := e.commit(e.mustReserve("ann", C).ID, actions(0)); err != nil {
				t.Fatal(err)
			}
			e.advance(24 * time.Hour)
		}
		// The usage keys that exist, of the four days' and the index's.
		keys := func() []string {
			var out []string
			for _, k := range []string{"use:", "usek:"} {
				for _, d := range []string{"2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13"} {
					out = append(out, "q:{ws:ws1}:"+k+dayNum(d))
				}
			}
			out = append(out, "q:{ws:ws1}:usedays")
			var exist []string
			for _, k := range out {
				if n, err := e.rdb.Exists(e.ctx, k).Result(); err != nil {
					t.Fatal(err)
				} else if n == 1 {
					exist = append(exist, k)
				}
			}
			return exist
		}
		// The commits are queued (lua/usage.lua); a report folds them in.
		if n, err := e.rdb.LLen(e.ctx, "q:{ws:ws1}:usepend").Result(); err != nil || n != 4 {
			t.Fatalf("usage queue before the first report: %d entries, %v", n, err)
		}
		if got, _ := e.usage(quota.UsageByDay, start, e.clock(), 10); len(got) != 4 {
			t.Fatalf("usage before the retention: %+v", got)
		}
		if n := len(keys()); n != 9 {
			t.Fatalf("usage keys before the retention: %v", keys())
		}
		// March 14 12:00: the buckets of days that ended 3 days ago or
		// more (March 10) go.
		st, err := e.svc.Sweep(e.ctx, 10)
		if err != nil || st.UsageDays != 1 {
			t.Fatalf("sweep: %+v, %v", st, err)
		}
		e.advance(48 * time.Hour) // March 16: March 11 and 12 go too
		if st, err = e.svc.Sweep(e.ctx, 10); err != nil || st.UsageDays != 2 {
			t.Fatalf("second sweep: %+v, %v", st, err)
		}
		want := []string{"q:{ws:ws1}:use:" + dayNum("2026-03-13"), "q:{ws:ws1}:usek:" + dayNum("2026-03-13"), "q:{ws:ws1}:usedays"}
		if diff := cmp.Diff(want, keys()); diff != "" {
			t.Errorf("usage keys after the retention (-want +got):\n%s", diff)
		}
		got, _ := e.usage(quota.UsageByDay, start, e.clock(), 10)
		if len(got) != 1 || got["2026-03-13"].Commits != 1 {
			t.Errorf("usage after the retention: %+v", got)
		}
	})
}

// dayNum is the day number of a date.
func dayNum(date string) string {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		panic(err)
	}
	return fmt.Sprint(quota.DayOf(d))
}

// TestUsageQueueFoldsInBatches checks the usage queue (lua/usage.lua): a
// Commit queues what it adds to the buckets, the Commit that finds
// schema.UsageFoldAt entries folds them, a commit of many groups is split
// into entries of at most schema.UsageEntryGroups groups, large commits do
// not grow the queue, a report folds what is left before it reads, and the
// sweeper folds too; the reports count every commit exactly once.
func TestUsageQueueFoldsInBatches(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		queued := func() int64 {
			t.Helper()
			n, err := e.rdb.LLen(e.ctx, "q:{ws:ws1}:usepend").Result()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		e.seat("ann", quota.SeatMax)
		e.grant(100_000*C, 0, e.clock().Add(30*24*time.Hour)) // the large commits below cost more than a seat has
		commit := func(run quota.AgentRun) {
			t.Helper()
			if _, err := e.commit(e.mustReserve("ann", 10*C).ID, run); err != nil {
				t.Fatal(err)
			}
		}
		// 31 commits stay queued; the 32nd folds the batch.
		for i := range schema.UsageFoldAt - 1 {
			commit(actions(1))
			if n := queued(); n != int64(i+1) {
				t.Fatalf("after %d commits: %d entries queued", i+1, n)
			}
		}
		commit(actions(1))
		if n := queued(); n != 0 {
			t.Fatalf("after %d commits: %d entries queued, want 0 (folded)", schema.UsageFoldAt, n)
		}
		// A run of 600 agents: three entries (256 + 256 + 88 groups, the
		// first with the commit's own figures).
		big := quota.AgentRun{AgentID: "main", Actions: []quota.ToolAction{{Tool: "data_retrieval"}}}
		for i := range 599 {
			big.SubAgents = append(big.SubAgents, quota.AgentRun{AgentID: fmt.Sprintf("sub-%03d", i),
				Actions: []quota.ToolAction{{Tool: "data_retrieval"}}})
		}
		commit(big)
		if n := queued(); n != 3 {
			t.Fatalf("a commit of 600 agents queued %d entries, want 3", n)
		}
		// A report folds them before it reads.
		agents, total := e.usage(quota.UsageByAgent, time.Time{}, time.Time{}, 1000)
		if n := queued(); n != 0 {
			t.Fatalf("after a report: %d entries queued", n)
		}
		// 632 data_retrieval actions, 3 credits each.
		want := quota.UsageGroup{Cost: 1896 * C, ActionCost: 1896 * C, Actions: 632, Commits: 33, Charged: 1896 * C}
		if total != want {
			t.Errorf("total %+v, want %+v", total, want)
		}
		if len(agents) != 600 || agents["main"].Actions != 33 || agents["sub-598"].Actions != 1 {
			t.Errorf("%d agents; main %+v, sub-598 %+v", len(agents), agents["main"], agents["sub-598"])
		}
		// Commits of 900 agents (4 entries each, ids of 40 bytes: MessagePack
		// str8) never grow the queue: once it is full, each commit folds as
		// many entries as it queued.
		for c := range 20 {
			run := quota.AgentRun{AgentID: "main"}
			for i := range 899 {
				run.SubAgents = append(run.SubAgents, quota.AgentRun{
					AgentID: fmt.Sprintf("a-rather-long-sub-agent-name-%02d-%06d", c%2, i),
					Actions: []quota.ToolAction{{Tool: "data_retrieval"}}})
			}
			commit(run)
			if n := queued(); n > schema.UsageFoldAt-1+4 {
				t.Fatalf("after %d commits of 900 agents: %d entries queued", c+1, n)
			}
		}
		agents, total = e.usage(quota.UsageByAgent, time.Time{}, time.Time{}, 1000)
		want = quota.UsageGroup{Cost: 1896*C + 20*899*3*C, ActionCost: 1896*C + 20*899*3*C,
			Actions: 632 + 20*899, Commits: 53, Charged: 1896*C + 20*899*3*C}
		if total != want {
			t.Errorf("total after the large commits %+v, want %+v", total, want)
		}
		if long := agents["a-rather-long-sub-agent-name-01-000898"]; len(agents) != 600+2*899 || long.Actions != 10 {
			t.Errorf("%d agents; a long one: %+v", len(agents), long)
		}
		// The sweeper folds a batch of every workspace.
		commit(actions(1))
		if _, err := e.svc.Sweep(e.ctx, 10); err != nil {
			t.Fatal(err)
		}
		if n := queued(); n != 0 {
			t.Fatalf("after a sweep: %d entries queued", n)
		}
		if _, total := e.usage(quota.UsageByMember, time.Time{}, time.Time{}, 10); total.Commits != 54 || total.Actions != 633+20*899 {
			t.Errorf("total after the sweep %+v, want 54 commits and %d actions", total, 633+20*899)
		}
	})
}

// TestAReportOverAnOvergrownQueueIsUnavailableThenCatchesUp checks the
// bound of a report's fold (store.MaxFolds calls of schema.UsageFoldEntries
// entries). The Commits never leave such a queue (once it is full, each
// folds as many entries as it queues), so the test builds one: a report
// over it is UNAVAILABLE once it folded its share, and a retry folds the
// rest and counts every entry once.
func TestAReportOverAnOvergrownQueueIsUnavailableThenCatchesUp(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		const key = "q:{ws:ws1}:usepend"
		e.seat("ann", quota.SeatMax)
		if _, err := e.commit(e.mustReserve("ann", 10*C).ID, actions(1)); err != nil {
			t.Fatal(err)
		}
		entry, err := e.rdb.LIndex(e.ctx, key, 0).Result()
		if err != nil {
			t.Fatalf("the commit's queued entry: %v", err)
		}
		// The same commit queued again, until the queue holds more than one
		// report folds.
		extra := store.MaxFolds*schema.UsageFoldEntries + 100
		copies := make([]any, 500)
		for i := range copies {
			copies[i] = entry
		}
		for pushed := 0; pushed < extra; pushed += len(copies) {
			if err := e.rdb.RPush(e.ctx, key, copies[:min(len(copies), extra-pushed)]...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		_, err = e.svc.GetUsage(e.ctx, quota.UsageRequest{WorkspaceID: "ws1", GroupBy: quota.UsageByMember})
		if !errors.Is(err, quota.ErrUnavailable) || !strings.Contains(err.Error(), "still not empty after 100 folds") {
			t.Fatalf("a report over %d queued entries: %v, want UNAVAILABLE (still not empty after 100 folds)", extra+1, err)
		}
		if n := e.rdb.LLen(e.ctx, key).Val(); n != int64(extra+1-store.MaxFolds*schema.UsageFoldEntries) {
			t.Fatalf("after the first report: %d entries queued, want %d", n, extra+1-store.MaxFolds*schema.UsageFoldEntries)
		}
		members, total := e.usage(quota.UsageByMember, time.Time{}, time.Time{}, 10)
		if n := e.rdb.LLen(e.ctx, key).Val(); n != 0 {
			t.Fatalf("after the retry: %d entries queued", n)
		}
		want := quota.UsageGroup{Cost: int64(extra+1) * 3 * C, ActionCost: int64(extra+1) * 3 * C,
			Actions: int64(extra + 1), Commits: int64(extra + 1), Charged: int64(extra+1) * 3 * C}
		if total != want || members["ann"] != (quota.UsageGroup{Key: "ann", Cost: want.Cost, ActionCost: want.ActionCost,
			Actions: want.Actions, Commits: want.Commits, Charged: want.Charged}) {
			t.Errorf("total %+v, ann %+v, want %+v each", total, members["ann"], want)
		}
	})
}
