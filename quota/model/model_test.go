package model

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/quota-svc/quota/quota"
)

// readmePrices are the README walkthrough's rates (credits per million
// tokens times Credit) and tools.
var readmePrices = Prices{
	Models: []Rates{
		{Model: "gpt-5-mini", Input: 25 * Credit, Output: 200 * Credit, CacheRead: 25 * Credit / 10, CacheWrite: 25 * Credit},
		{Model: "claude-sonnet-4-5", Input: 300 * Credit, Output: 1_500 * Credit, CacheRead: 30 * Credit, CacheWrite: 375 * Credit},
	},
	Fallback: "claude-sonnet-4-5",
	Tools: []Tool{
		{Name: "agent_router", Tier: quota.TierBasic, Platform: true},
		{Name: "web_search", Tier: quota.TierBasic},
		{Name: "data_retrieval", Tier: quota.TierAdvanced},
		{Name: "slack_connector", Tier: quota.TierAdvanced},
	},
}

var t0 = time.Date(2026, 11, 29, 18, 5, 1, 0, time.UTC)

func newWalkthrough(t *testing.T) *Model {
	t.Helper()
	m := New("acme", time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC), t0, readmePrices, 1)
	if r := m.SetSeat("seat-1", SeatRequest{Member: "alice", Seat: quota.SeatPro}); r.Err != nil {
		t.Fatal(r.Err)
	}
	return m
}

func mustOK(t *testing.T, r Result) *Reservation {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("unexpected error %+v", r.Err)
	}
	return r.Reservation
}

// TestWalkthrough replays the README's walkthrough: a Pro seat, a hold of
// 50 credits, a commit of 12.6 credits (Sonnet tokens, a web search, a
// free platform tool, a sub-agent's gpt-5-mini tokens and a data
// retrieval, a connector call that did not run).
func TestWalkthrough(t *testing.T) {
	m := newWalkthrough(t)
	if got, want := m.Balance(Owner{Member: "alice"}).Available, 8_000*Credit; got != want {
		t.Fatalf("available after SetSeat = %d, want %d", got, want)
	}
	if s, e := m.Balance(Owner{Member: "alice"}).PeriodStart, time.Date(2026, 10, 31, 9, 0, 0, 0, time.UTC); !s.Equal(e) {
		t.Errorf("period start = %v, want %v", s, e)
	}
	r := mustOK(t, m.Reserve("run-42-reserve", ReserveRequest{Owner: Owner{Member: "alice"}, Origin: quota.OriginConversation,
		Amount: 50 * Credit, TTL: 10 * time.Minute}))
	usage := Agent{ID: "main",
		Models:  []Tokens{{Model: "claude-sonnet-4-5", Input: 12_000, Output: 1_500, CacheRead: 40_000}},
		Actions: []Action{{Tool: "web_search"}, {Tool: "agent_router"}},
		Subs: []Agent{{ID: "researcher",
			Models:  []Tokens{{Model: "gpt-5-mini", Input: 30_000, Output: 4_000}},
			Actions: []Action{{Tool: "data_retrieval"}, {Tool: "slack_connector", NotRun: true}}}}}
	mustOK(t, m.Commit("run-42-commit", CommitRequest{Reservation: r.Key, Usage: usage}))
	v := m.ReservationOf(r)
	if v.Charged != 12_600_000 || v.Released != 37_400_000 || v.Cost.Root.OwnTokenCost != 7_050_000 {
		t.Errorf("commit: charged %d released %d own tokens %d, want 12600000, 37400000, 7050000", v.Charged, v.Released, v.Cost.Root.OwnTokenCost)
	}
	if b := m.Balance(Owner{Member: "alice"}); b.Available != 7_987_400_000 || b.Spent != 12_600_000 {
		t.Errorf("balance: available %d spent %d", b.Available, b.Spent)
	}
	again := m.Commit("run-42-commit", CommitRequest{Reservation: r.Key, Usage: usage})
	if again.Err != nil || m.Balance(Owner{Member: "alice"}).Spent != 12_600_000 {
		t.Errorf("a retried commit changed something: %+v", again.Err)
	}
	if e := m.Refund("run-42-commit", RefundRequest{Reservation: r.Key}).Err; e == nil || e.Reason != "REQUEST_ID_REUSED" {
		t.Errorf("reusing a request id: %+v, want REQUEST_ID_REUSED", e)
	}
	if err := m.Check(); err != nil {
		t.Error(err)
	}
}

// TestRun replays the README's run: a root with a token cap, a child
// carved from it, the child's cost recorded and charged with the root's.
func TestRun(t *testing.T) {
	m := newWalkthrough(t)
	root := mustOK(t, m.Reserve("run-50-reserve", ReserveRequest{Owner: Owner{Member: "alice"}, Origin: quota.OriginConversation,
		Amount: 40 * Credit, TTL: 30 * time.Minute, HasTokenCap: true, TokenCap: 30 * Credit}))
	kid := mustOK(t, m.Reserve("run-50-researcher-reserve", ReserveRequest{Parent: root.Key, Amount: 10 * Credit,
		Min: 5 * Credit, AllowTopUp: true}))
	if kid.Hold.Total() != 10*Credit || root.Hold.Total() != 30*Credit {
		t.Fatalf("carve: kid %d root %d", kid.Hold.Total(), root.Hold.Total())
	}
	mustOK(t, m.Commit("c1", CommitRequest{Reservation: kid.Key, Usage: Agent{ID: "researcher",
		Models:  []Tokens{{Model: "gpt-5-mini", Input: 30_000, Output: 4_000}},
		Actions: []Action{{Tool: "data_retrieval"}}}}))
	mustOK(t, m.Commit("c2", CommitRequest{Reservation: root.Key, Usage: Agent{ID: "main",
		Models:  []Tokens{{Model: "claude-sonnet-4-5", Input: 12_000, Output: 1_500}},
		Actions: []Action{{Tool: "web_search"}}}}))
	v := m.ReservationOf(root)
	want := []int64{11_400_000, 28_600_000, 7_400_000, 4_550_000}
	got := []int64{v.Charged, v.Released, v.RunTokenSpent, v.Cost.Recorded.TotalCost}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("root commit (-want +got):\n%s", diff)
	}
	if e := m.Reserve("late", ReserveRequest{Parent: root.Key, Amount: Credit}).Err; e == nil || e.Reason != "PARENT_NOT_HELD" {
		t.Errorf("child of a committed root: %+v", e)
	}
}

// TestExpiryAndReset checks a hold that outlives its period: its seat
// credits are forfeited when it expires, and the new period allocates
// once however many resets passed.
func TestExpiryAndReset(t *testing.T) {
	m := newWalkthrough(t)
	mustOK(t, m.Reserve("r", ReserveRequest{Owner: Owner{Member: "alice"}, Origin: quota.OriginAutomation,
		Amount: 100 * Credit, TTL: 24 * time.Hour}))
	m.Advance(t0.Add(3 * 24 * time.Hour)) // past the reset of Nov 30, 09:00
	b := m.Balance(Owner{Member: "alice"})
	if b.Totals.Allocated != 16_000*Credit || b.Totals.Forfeited != 8_000*Credit || b.Totals.Held != 0 {
		t.Errorf("after the reset: %+v", b.Totals)
	}
	m.Advance(t0.Add(100 * 24 * time.Hour)) // three more resets, one roll
	if b := m.Balance(Owner{Member: "alice"}); b.Totals.Allocated != 24_000*Credit {
		t.Errorf("after three more resets: allocated %d, want 24000 credits", b.Totals.Allocated)
	}
	if err := m.Check(); err != nil {
		t.Error(err)
	}
}

// TestPeriodAt checks the model's periods against the anchor on the 31st.
func TestPeriodAt(t *testing.T) {
	a := time.Date(2024, 1, 31, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct{ at, start, end string }{
		{"2024-02-29T08:59:59Z", "2024-01-31T09:00:00Z", "2024-02-29T09:00:00Z"},
		{"2024-02-29T09:00:00Z", "2024-02-29T09:00:00Z", "2024-03-31T09:00:00Z"},
		{"2024-04-30T10:00:00Z", "2024-04-30T09:00:00Z", "2024-05-31T09:00:00Z"},
		{"2023-12-31T09:00:00Z", "2023-12-31T09:00:00Z", "2024-01-31T09:00:00Z"},
		{"2025-02-28T09:00:00Z", "2025-02-28T09:00:00Z", "2025-03-31T09:00:00Z"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		s, e := PeriodAt(a, at)
		if s.Format(time.RFC3339) != c.start || e.Format(time.RFC3339) != c.end {
			t.Errorf("PeriodAt(%s) = %s, %s; want %s, %s", c.at, s.Format(time.RFC3339), e.Format(time.RFC3339), c.start, c.end)
		}
	}
}
