package quota

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUsageOfAddsUpByAgentModelAndTier(t *testing.T) {
	table := DefaultPriceTable()
	run := AgentRun{AgentID: "main",
		Models: []ModelUsage{{Model: "gpt-5-mini", InputTokens: 40_000}, {Model: "mystery", InputTokens: 1_000}},
		Actions: []ToolAction{{Tool: "web_search"}, {Tool: "agent_router"}, {Tool: "data_retrieval", NotRun: true},
			{Tool: "think"}},
		SubAgents: []AgentRun{
			{AgentID: "helper", Models: []ModelUsage{{Model: "gpt-5-mini", OutputTokens: 5_000}},
				Actions: []ToolAction{{Tool: "mcp", ExternalMCP: true}}},
			{AgentID: "main", Actions: []ToolAction{{Tool: "web_search"}}},
		}}
	c, err := table.Price(OriginConversation, run)
	if err != nil {
		t.Fatal(err)
	}
	// gpt-5-mini: 1 credit (40,000 input) + 1 credit (5,000 output);
	// mystery at the fallback (claude-opus-4-1): 1.5 credits; two web
	// searches (basic), the router (platform: 0 in a conversation), think
	// (free), an external MCP call (advanced); the data retrieval did not
	// run.
	want := CommitUsage{
		Tokens: 46_000, Actions: 5,
		Agents: []UsageGroup{
			{Key: "helper", Cost: 4 * Credit, TokenCost: Credit, ActionCost: 3 * Credit, Tokens: 5_000, Actions: 1},
			{Key: "main", Cost: 4_500_000, TokenCost: 2_500_000, ActionCost: 2 * Credit, Tokens: 41_000, Actions: 4},
		},
		Models: []UsageGroup{
			{Key: "gpt-5-mini", Cost: 2 * Credit, TokenCost: 2 * Credit, Tokens: 45_000},
			{Key: "mystery", Cost: 1_500_000, TokenCost: 1_500_000, Tokens: 1_000},
		},
		Tiers: []UsageGroup{
			{Key: "advanced", Cost: 3 * Credit, ActionCost: 3 * Credit, Actions: 1},
			{Key: "basic", Cost: 2 * Credit, ActionCost: 2 * Credit, Actions: 3},
			{Key: "free", Actions: 1},
		},
	}
	if diff := cmp.Diff(want, UsageOf(&c)); diff != "" {
		t.Errorf("UsageOf (-want +got):\n%s", diff)
	}
	var sum int64
	for _, g := range want.Agents {
		sum += g.Cost
	}
	if sum != c.TotalCost {
		t.Errorf("the agents' costs sum to %d, the run costs %d", sum, c.TotalCost)
	}
}

func TestDayOfCountsUTCDays(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		day  int64
		name string
	}{
		{time.Unix(0, 0), 0, "1970-01-01"},
		{time.Unix(86_399, 999_999_999), 0, "1970-01-01"},
		{time.Unix(86_400, 0), 1, "1970-01-02"},
		{time.Unix(-1, 0), -1, "1969-12-31"},
		{time.Unix(-86_400, 0), -1, "1969-12-31"},
		{time.Date(2026, 3, 10, 23, 59, 59, 0, time.FixedZone("x", -3600)), 20_523, "2026-03-11"},
	} {
		if d := DayOf(tc.t); d != tc.day || DayKey(d) != tc.name || DayOf(DayStart(d)) != d {
			t.Errorf("DayOf(%s) = %d (%s), want %d (%s)", tc.t, d, DayKey(d), tc.day, tc.name)
		}
	}
}

func TestPageTokensAreCheckedForTheirKind(t *testing.T) {
	tok := encodeToken("holds", "~bot", "17", "ab;c\x00d")
	p, err := decodeToken(tok, "holds", 3)
	if err != nil || !cmp.Equal(p, []string{"~bot", "17", "ab;c\x00d"}) {
		t.Errorf("decodeToken = %q, %v", p, err)
	}
	for _, bad := range []struct{ token, kind string }{{tok, "members"}, {tok[:len(tok)-2] + "!", "holds"}, {"", "holds"}} {
		if _, err := decodeToken(bad.token, bad.kind, 3); err == nil {
			t.Errorf("decodeToken(%q, %s) accepted it", bad.token, bad.kind)
		}
	}
	if _, err := decodeToken(encodeToken("holds", "a"), "holds", 3); err == nil {
		t.Error("a token of too few parts was accepted")
	}
}

func TestUsageDaysAreBoundedWithoutOverflow(t *testing.T) {
	today := DayOf(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		first, end int64
		ok         bool
	}{
		{today, today + 1, true},
		{today - MaxUsageDays + 1, today + 1, true},
		{today - MaxUsageDays, today + 1, false},
		{today, today, false},
		{today + 1, today, false},
		// A forged page token: the difference wraps to -2^63.
		{today + 1 + math.MinInt64, today + 1, false},
		{math.MinInt64, math.MinInt64 + 1, false},
		{math.MaxInt64 - 1, math.MaxInt64, false},
		{firstUsageDay, firstUsageDay + 1, true},
		{lastUsageDay, lastUsageDay + 1, true},
		{lastUsageDay + 1, lastUsageDay + 2, false},
	} {
		if ok := usageDays(tc.first, tc.end); ok != tc.ok {
			t.Errorf("usageDays(%d, %d) = %v, want %v", tc.first, tc.end, ok, tc.ok)
		}
	}
}

// A report that sets no end ends now, and is never an empty range: in its
// first millisecond it is the day that starts it.
func TestUsageEndIsNowAndNeverEmpty(t *testing.T) {
	midnight := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		now     time.Time
		wantEnd time.Time
	}{
		{midnight, midnight.Add(time.Millisecond)},
		{midnight.Add(500 * time.Microsecond), midnight.Add(time.Millisecond)},
		{midnight.Add(time.Millisecond), midnight.Add(time.Millisecond)},
		{midnight.Add(5 * time.Hour), midnight.Add(5 * time.Hour)},
	} {
		end, err := usageEnd(midnight, tc.now)
		if err != nil || !end.Equal(tc.wantEnd) {
			t.Errorf("usageEnd(midnight, %v) = %v, %v, want %v", tc.now, end, err, tc.wantEnd)
			continue
		}
		if first, last := DayOf(midnight), DayOf(end.Add(-time.Millisecond))+1; last-first != 1 {
			t.Errorf("now %v: days [%d, %d), want the one day", tc.now, first, last)
		}
	}
	if _, err := usageEnd(midnight, midnight.Add(-time.Second)); err == nil {
		t.Error("a start after now with no end was accepted")
	}
}
