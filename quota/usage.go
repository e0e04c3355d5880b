package quota

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Usage reports (README, "Usage reports"). Every Commit adds what it
// priced to daily buckets of its workspace, for the UTC day of the
// commit: by member (or programmatic spender), origin and day, its own
// cost (a child that records its cost under an ancestor counts it then),
// tokens, actions, one commit and, when the commit charges (a run's root,
// or a single reservation), what the sources paid and the shortfall; by
// agent, model and tool tier, the cost, tokens and actions of its own
// usage tree, which UsageOf adds up here in Go so that the script only
// applies the sums. A report sums the buckets of a range of whole UTC
// days: its cost is bounded by the range and the page, never by history.

// UsageGrouping is what a usage report groups by.
type UsageGrouping int

// Groupings.
const (
	UsageUnknown UsageGrouping = iota
	UsageByMember
	UsageByAgent
	UsageByModel
	UsageByTier
	UsageByOrigin
	UsageByDay
)

// DayMillis is one UTC day in milliseconds: day numbers count them from
// the Unix epoch.
const DayMillis = 24 * 60 * 60 * 1000

// MaxUsageDays is the longest range of a usage report, in UTC days: the
// default usage retention.
const MaxUsageDays = 400

// LimitUsageDays is the limit on a usage report's range.
var LimitUsageDays = Limit{"usage_days", "end_time", MaxUsageDays, "UTC days in one usage report"}

// DayOf returns the number of the UTC day of t (days since 1970-01-01).
func DayOf(t time.Time) int64 {
	ms := t.UnixMilli()
	d := ms / DayMillis
	if ms < 0 && ms%DayMillis != 0 {
		d--
	}
	return d
}

// DayStart returns the UTC midnight that starts day d.
func DayStart(d int64) time.Time { return time.UnixMilli(d * DayMillis).UTC() }

// DayKey spells day d as a usage group key: "YYYY-MM-DD".
func DayKey(d int64) string { return DayStart(d).Format(time.DateOnly) }

// Name is the origin's name in usage reports: "conversation", "sidekick"
// or "automation" ("" for an unknown origin).
func (o Origin) Name() string {
	switch o {
	case OriginConversation:
		return "conversation"
	case OriginSidekick:
		return "sidekick"
	case OriginAutomation:
		return "automation"
	}
	return ""
}

// Name is the tier's name in usage reports: "free", "basic" or
// "advanced" ("" for TierUnknown).
func (t Tier) Name() string {
	switch t {
	case TierFree:
		return "free"
	case TierBasic:
		return "basic"
	case TierAdvanced:
		return "advanced"
	}
	return ""
}

// UsageGroup is the usage of one group: a member (or "~" and a spender
// id), agent, model, tier, origin or day (Key), or a whole range (Key
// empty). Cost = TokenCost + ActionCost, µcredits of priced usage;
// Commits, Charged and Shortfall are counted by member, origin and day
// only.
type UsageGroup struct {
	Key        string
	Cost       int64
	TokenCost  int64
	ActionCost int64
	Tokens     int64
	Actions    int64
	Commits    int64
	Charged    int64
	Shortfall  int64
}

// Add adds o's numbers to g's.
func (g *UsageGroup) Add(o UsageGroup) {
	g.Cost += o.Cost
	g.TokenCost += o.TokenCost
	g.ActionCost += o.ActionCost
	g.Tokens += o.Tokens
	g.Actions += o.Actions
	g.Commits += o.Commits
	g.Charged += o.Charged
	g.Shortfall += o.Shortfall
}

// CommitUsage is what one commit's own usage tree adds to the usage
// reports: its tokens and the actions that ran, in all, and its cost,
// tokens and actions by agent id, by model (as reported) and by tier
// (named), one group per distinct key, in key order.
type CommitUsage struct {
	Tokens, Actions       int64
	Agents, Models, Tiers []UsageGroup
}

// UsageOf adds up a priced usage tree by agent, model and tier. An action
// that did not run is not counted; free ones are, at cost 0.
func UsageOf(c *RunCost) CommitUsage {
	agents, models, tiers := map[string]*UsageGroup{}, map[string]*UsageGroup{}, map[string]*UsageGroup{}
	group := func(m map[string]*UsageGroup, key string) *UsageGroup {
		g := m[key]
		if g == nil {
			g = &UsageGroup{Key: key}
			m[key] = g
		}
		return g
	}
	var u CommitUsage
	var walk func(a *AgentCost)
	walk = func(a *AgentCost) {
		ag := group(agents, a.AgentID)
		for i := range a.Models {
			m := &a.Models[i]
			mg := group(models, m.Model)
			mg.TokenCost += m.Cost
			mg.Tokens += m.Tokens
			ag.TokenCost += m.Cost
			ag.Tokens += m.Tokens
			u.Tokens += m.Tokens
		}
		for i := range a.Actions {
			x := &a.Actions[i]
			if x.Note == noteNotRun {
				continue
			}
			tg := group(tiers, x.Tier.Name())
			tg.ActionCost += x.Cost
			tg.Actions++
			ag.ActionCost += x.Cost
			ag.Actions++
			u.Actions++
		}
		for i := range a.SubAgents {
			walk(&a.SubAgents[i])
		}
	}
	walk(&c.Root)
	list := func(m map[string]*UsageGroup) []UsageGroup {
		out := make([]UsageGroup, 0, len(m))
		for _, g := range m {
			g.Cost = g.TokenCost + g.ActionCost
			out = append(out, *g)
		}
		slices.SortFunc(out, func(a, b UsageGroup) int { return strings.Compare(a.Key, b.Key) })
		return out
	}
	u.Agents, u.Models, u.Tiers = list(agents), list(models), list(tiers)
	return u
}

// UsageOp asks the store for a page of a workspace's usage groups over
// the days [FirstDay, EndDay), after the key After ("" from the first),
// at most Limit of them, and the range's total.
type UsageOp struct {
	WorkspaceID      string
	GroupBy          UsageGrouping
	FirstDay, EndDay int64
	After            string
	Limit            int
}

// UsagePage is a page of usage groups in key order; More tells whether
// groups follow the last one.
type UsagePage struct {
	Groups []UsageGroup
	More   bool
	Total  UsageGroup
}

// UsageRequest asks for a usage report: a workspace's usage over [Start,
// End), resolved in whole UTC days (a zero Start is the start of the
// workspace's current period, a zero End now), grouped by GroupBy, a page
// at a time.
type UsageRequest struct {
	WorkspaceID string
	GroupBy     UsageGrouping
	Start, End  time.Time
	PageSize    int
	PageToken   string
}

// UsageReport is a page of a usage report: the range as resolved (UTC
// midnights), the groups of the page, the range's total, and the token of
// the next page ("" after the last).
type UsageReport struct {
	Start, End    time.Time
	Groups        []UsageGroup
	Total         UsageGroup
	NextPageToken string
}

// GetUsage returns a page of a workspace's usage over a range of whole UTC
// days, grouped. Every check that needs no store comes first.
func (s *Service) GetUsage(ctx context.Context, r UsageRequest) (UsageReport, error) {
	if r.GroupBy < UsageByMember || r.GroupBy > UsageByDay {
		return UsageReport{}, Invalid("group_by", "must be MEMBER, AGENT, MODEL, TOOL_TIER, ORIGIN or DAY")
	}
	size, err := PageSize(r.PageSize)
	if err != nil {
		return UsageReport{}, err
	}
	op := UsageOp{WorkspaceID: r.WorkspaceID, GroupBy: r.GroupBy, Limit: size}
	var tokenFirst, tokenEnd int64
	if r.PageToken != "" {
		// The token carries the range it was made for: a later page of
		// a range that ends now keeps its days.
		p, err := decodeToken(r.PageToken, "usage", 4)
		if err != nil {
			return UsageReport{}, err
		}
		var err1, err2 error
		tokenFirst, err1 = strconv.ParseInt(p[1], 10, 64)
		tokenEnd, err2 = strconv.ParseInt(p[2], 10, 64)
		if err1 != nil || err2 != nil || p[0] != strconv.Itoa(int(r.GroupBy)) {
			return UsageReport{}, Invalid("page_token", "was made for another grouping: send the same fields as the first page")
		}
		op.After = p[3]
	}
	if !r.Start.IsZero() && !r.End.IsZero() {
		if err := checkUsageRange(r.Start, r.End); err != nil {
			return UsageReport{}, err
		}
	}
	now := s.cfg.Now()
	ws, err := s.st.GetWorkspace(ctx, r.WorkspaceID)
	if err != nil {
		return UsageReport{}, err
	}
	start, end := r.Start, r.End
	if start.IsZero() {
		start, _ = PeriodAt(ws.SubscriptionStart, now)
	}
	if end.IsZero() {
		if end, err = usageEnd(start, now); err != nil {
			return UsageReport{}, err
		}
	}
	if err := checkUsageRange(start, end); err != nil {
		return UsageReport{}, err
	}
	op.FirstDay, op.EndDay = DayOf(start), DayOf(end.Add(-time.Millisecond))+1
	if r.PageToken != "" {
		if (!r.Start.IsZero() && tokenFirst != op.FirstDay) || (!r.End.IsZero() && tokenEnd != op.EndDay) {
			return UsageReport{}, Invalid("page_token", "was made for another range: send the same fields as the first page")
		}
		op.FirstDay, op.EndDay = tokenFirst, tokenEnd
		if !usageDays(op.FirstDay, op.EndDay) {
			return UsageReport{}, Invalid("page_token", "is not a token this service returned")
		}
	}
	page, err := s.st.Usage(ctx, op)
	if err != nil {
		return UsageReport{}, err
	}
	rep := UsageReport{Start: DayStart(op.FirstDay), End: DayStart(op.EndDay), Groups: page.Groups, Total: page.Total}
	if page.More && len(page.Groups) > 0 {
		last := page.Groups[len(page.Groups)-1].Key
		rep.NextPageToken = encodeToken("usage", strconv.Itoa(int(r.GroupBy)), strconv.FormatInt(op.FirstDay, 10),
			strconv.FormatInt(op.EndDay, 10), last)
	}
	return rep, nil
}

// usageEnd is the end of a usage report from start that sets none: now.
// In the range's first millisecond that is still the day that starts it
// (empty so far), not an empty range; a start after now needs an end.
func usageEnd(start, now time.Time) (time.Time, error) {
	if now.Before(start) {
		return time.Time{}, Invalid("start_time", "is after now (%s): send end_time too", now.UTC().Format(time.RFC3339Nano))
	}
	if now.Sub(start) < time.Millisecond {
		return start.Add(time.Millisecond), nil
	}
	return now, nil
}

// The first and the last day of the timestamps a request may carry
// (years 1 to 9999).
var (
	firstUsageDay = DayOf(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	lastUsageDay  = DayOf(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
)

// usageDays tells whether the days [first, end) are a range a report may
// have: 1 to MaxUsageDays days of valid timestamps. A page token's range
// is checked with it: its numbers are the client's, and a difference
// taken before they are bounded can overflow.
func usageDays(first, end int64) bool {
	return first >= firstUsageDay && end <= lastUsageDay+1 && end > first && end-first <= MaxUsageDays
}

// checkUsageRange checks a usage report's range [start, end): not empty,
// and at most MaxUsageDays whole UTC days.
func checkUsageRange(start, end time.Time) error {
	if !end.After(start) {
		return Invalid("end_time", "must be after start_time (%s)", start.UTC().Format(time.RFC3339Nano))
	}
	if DayOf(end.Add(-time.Millisecond))+1-DayOf(start) > MaxUsageDays {
		return LimitError(LimitUsageDays)
	}
	return nil
}
