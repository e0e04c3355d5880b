package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/redis/go-redis/v9"
)

// fixedService returns a service on rdb whose clock stands still at
// 2026-03-10 12:00 UTC, with the workspace ws (subscribed at anchor) and
// the given members on Max seats: the set-up of the benchmarks and the
// memory test.
func fixedService(tb testing.TB, rdb redis.UniversalClient, ws string, members ...string) *quota.Service {
	svc, _ := serviceAt(tb, rdb, store.Options{}, ws, members...)
	return svc
}

// clockedService is a service with options o on workspace "bg" with 50
// Max members (m0, m1, ...), whose clock the caller moves through the
// returned pointer.
func clockedService(tb testing.TB, rdb redis.UniversalClient, o store.Options) (*quota.Service, *time.Time) {
	return serviceAt(tb, rdb, o, "bg", numbered("m", 50)...)
}

// serviceAt returns a service on rdb with options o, its clock at
// 2026-03-10 12:00 UTC (the returned pointer moves it), the workspace ws
// (subscribed at anchor) and the given members on Max seats.
func serviceAt(tb testing.TB, rdb redis.UniversalClient, o store.Options, ws string, members ...string) (*quota.Service, *time.Time) {
	tb.Helper()
	ctx := context.Background()
	now := new(time.Time)
	*now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	svc := quota.NewService(store.New(rdb, o), quota.Config{Now: func() time.Time { return *now }})
	if _, err := svc.SetWorkspace(ctx, quota.Idem{RequestID: "ws", Fingerprint: "ws"}, quota.Workspace{ID: ws, SubscriptionStart: anchor}); err != nil {
		tb.Fatal(err)
	}
	for _, m := range members {
		if _, err := svc.SetSeat(ctx, quota.Idem{RequestID: "seat-" + m, Fingerprint: "s"}, ws, m, quota.SeatMax); err != nil {
			tb.Fatal(err)
		}
	}
	return svc, now
}

// numbered returns n member ids: prefix0, prefix1, ...
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(prefix, i)
	}
	return out
}

// agentRun is the run quotabench's cycle commits: a main agent on
// gpt-5-mini with a web search, and one sub-agent (sub) on gpt-5-mini.
func agentRun(sub string) quota.AgentRun {
	return quota.AgentRun{AgentID: "main",
		Models:    []quota.ModelUsage{{Model: "gpt-5-mini", InputTokens: 100, OutputTokens: 10}},
		Actions:   []quota.ToolAction{{Tool: "web_search"}},
		SubAgents: []quota.AgentRun{{AgentID: sub, Models: []quota.ModelUsage{{Model: "gpt-5-mini", InputTokens: 50}}}},
	}
}
