package main

import (
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// membersCmd is "members WS" (ListMembers).
func membersCmd(a *app) *cobra.Command {
	var p *pageFlags
	c := leaf(&cobra.Command{
		Use:   "members WS",
		Short: "List a workspace's members with their balances this period, by member id",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.ListMembersRequest{WorkspaceId: args[0]}
		return list(cmd, a, a.admin.ListMembers, req, p, func(o *out, r *quotav1.ListMembersResponse) { membersTable(o, r.GetMembers()) })
	})
	p = addPageFlags(c)
	return c
}

// membersTable prints members' balances, one a line.
func membersTable(o *out, members []*quotav1.Balance) {
	o.row("MEMBER", "SEAT", "SPENDABLE", "ALLOCATED", "AVAILABLE", "HELD", "SPENT", "POOL USED", "POOL CAP", "PERIOD END")
	for _, b := range members {
		seat := enumName(b.GetSeat())
		if b.GetNextSeat() != quotav1.Seat_SEAT_UNSPECIFIED {
			seat += ", then " + enumName(b.GetNextSeat())
		}
		o.row(b.GetMemberId(), seat, credits(b.GetSpendable())+lowMark(b.GetLowBalance()), credits(b.GetAllocated()),
			credits(b.GetAvailable()), credits(b.GetHeld()), credits(b.GetSpent()),
			credits(b.GetPoolUsed())+lowMark(b.GetPoolLowBalance()), capValue(b.PoolCap), timestamp(b.GetPeriodEnd()))
	}
}

// usageGroupings are the names --by takes: enumName's, and "tier" for
// tool-tier.
var usageGroupings = []string{"member", "agent", "model", "tier", "origin", "day"}

// usageCmd is "usage WS --by G [--from T] [--to T]" (GetUsage).
func usageCmd(a *app) *cobra.Command {
	groupings := quotav1.UsageGrouping(0).Descriptor()
	var p *pageFlags
	var by, from, to string
	c := leaf(&cobra.Command{
		Use:   "usage WS [--by member|agent|model|tier|origin|day] [--from T] [--to T]",
		Short: "Sum a workspace's usage over whole UTC days, grouped by member, agent, model, tool tier, origin or day",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		name := by
		if strings.EqualFold(name, "tier") {
			name = "tool-tier"
		}
		g, ok := parseEnum(groupings, name)
		if !ok {
			return usageErrorf("--by %q: want %s", by, strings.Join(usageGroupings, ", "))
		}
		req := &quotav1.GetUsageRequest{WorkspaceId: args[0], GroupBy: quotav1.UsageGrouping(g)}
		var err error
		if from != "" {
			if req.StartTime, err = parseTimeOrDate("--from", from); err != nil {
				return err
			}
		}
		if to != "" {
			if req.EndTime, err = parseTimeOrDate("--to", to); err != nil {
				return err
			}
		}
		return list(cmd, a, a.admin.GetUsage, req, p, func(o *out, r *quotav1.GetUsageResponse) { usageTable(o, req.GetGroupBy(), r) })
	})
	f := c.Flags()
	f.StringVar(&by, "by", "member", "group by member, agent, model, tier (of tool actions), origin or day")
	f.StringVar(&from, "from", "", "start, inclusive: RFC 3339 or a date (YYYY-MM-DD, UTC), rounded down to its day (default: the current period's start)")
	f.StringVar(&to, "to", "", "end, exclusive: RFC 3339 or a date (YYYY-MM-DD, UTC), rounded up to a midnight (default: now)")
	c.RegisterFlagCompletionFunc("by", cobra.FixedCompletions(usageGroupings, cobra.ShellCompDirectiveNoFileComp))
	p = addPageFlags(c)
	return c
}

// usageTable prints a usage report: its range, then one group a line and
// the total. Commits, charged and shortfall are shown by member, origin
// and day only: quotad does not split a charge by agent, model or tier.
func usageTable(o *out, g quotav1.UsageGrouping, r *quotav1.GetUsageResponse) {
	o.kv("from", timestamp(r.GetStartTime()))
	o.kv("to", timestamp(r.GetEndTime()))
	o.blank()
	charges := g == quotav1.UsageGrouping_USAGE_GROUPING_MEMBER || g == quotav1.UsageGrouping_USAGE_GROUPING_ORIGIN ||
		g == quotav1.UsageGrouping_USAGE_GROUPING_DAY
	row := func(key string, u *quotav1.UsageGroup) {
		cells := []string{key, credits(u.GetCost()), credits(u.GetTokenCost()), credits(u.GetActionCost()), integer(u.GetTokens()), integer(u.GetActions())}
		if charges {
			cells = append(cells, integer(u.GetCommits()), credits(u.GetCharged()), credits(u.GetShortfall()))
		}
		o.row(cells...)
	}
	head := []string{strings.ToUpper(enumName(g)), "COST", "TOKEN COST", "ACTION COST", "TOKENS", "ACTIONS"}
	if charges {
		head = append(head, "COMMITS", "CHARGED", "SHORTFALL")
	}
	o.row(head...)
	for _, u := range r.GetGroups() {
		row(u.GetKey(), u)
	}
	row("total", r.GetTotal())
}

// parseTimeOrDate reads an RFC 3339 time, or a date (YYYY-MM-DD) as its
// midnight UTC, given to what (a flag or an argument).
func parseTimeOrDate(what, s string) (*timestamppb.Timestamp, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return timestamppb.New(t), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timestamppb.New(t), nil
	}
	return nil, usageErrorf("%s %q: not an RFC 3339 time or a date (e.g. 2026-11-01T09:00:00Z, 2026-11-01)", what, s)
}

// Bounds of ledger --interval: often enough to follow, not so often that
// followers load quotad.
const (
	minFollowInterval = 100 * time.Millisecond
	maxFollowInterval = time.Hour
)

// ledgerCmd is "ledger WS [--member M] [--follow]" (ListLedgerEntries).
func ledgerCmd(a *app) *cobra.Command {
	var p *pageFlags
	var member string
	var follow bool
	var interval time.Duration
	c := leaf(&cobra.Command{
		Use:   "ledger WS [--member M] [--follow]",
		Short: "List a workspace's ledger entries (every change of balance), oldest first; --follow waits for new ones",
		Long: `List a workspace's ledger entries, every change of balance, oldest first
(quotad keeps them -ledger-retention, 7 days by default): the time, the
operation, the member (or ~ and the programmatic spender), the reservation,
the request id, and the entry's amounts in credits (times in RFC 3339),
then the related reservation, grant, actor and reason.

--follow then keeps polling every --interval for the entries written since
the last one seen and prints them as they come, until interrupted (Ctrl-C,
SIGTERM: exit code 0). With --json, every batch is printed as a
ListLedgerEntriesResponse; its nextPageToken, given to --page-token later,
goes on after its last entry.`,
		Args: exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		if follow && p.limit != 0 {
			return usageErrorf("--limit and --follow do not go together")
		}
		if interval < minFollowInterval || interval > maxFollowInterval {
			return usageErrorf("--interval %s: want %s to %s", interval, minFollowInterval, maxFollowInterval)
		}
		req := &quotav1.ListLedgerEntriesRequest{WorkspaceId: args[0], MemberId: member}
		all, more, err := fetch(cmd, a, a.admin.ListLedgerEntries, req, p, true)
		if !follow {
			if err != nil {
				return err
			}
			return printList(a, all, more, func(o *out, r *quotav1.ListLedgerEntriesResponse) { ledgerTable(o, r.GetEntries()) })
		}
		return followLedger(cmd, a, req, p, all, err, interval)
	})
	f := c.Flags()
	f.StringVar(&member, "member", "", "only this member's entries")
	f.BoolVar(&follow, "follow", false, "after the last entry, keep polling for new ones and print them as they come, until interrupted")
	f.DurationVar(&interval, "interval", time.Second, "with --follow, how often to poll ("+minFollowInterval.String()+" to "+maxFollowInterval.String()+")")
	p = addPageFlags(c)
	return c
}

// followLedger prints the entries fetched so far (all, or the error that
// fetching them returned), then every interval those written since, until
// cmd's context is done (an interrupt): that ends it without an error.
// Tables stay aligned from one batch to the next (a wider cell widens its
// column from then on).
func followLedger(cmd *cobra.Command, a *app, req *quotav1.ListLedgerEntriesRequest, p *pageFlags,
	all *quotav1.ListLedgerEntriesResponse, err error, interval time.Duration) error {
	ctx := cmd.Context()
	var table aligned
	first := true
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if first || len(all.GetEntries()) > 0 {
			if a.json {
				err = printJSON(a.stdout, all)
			} else {
				err = table.write(a.stdout, ledgerRows(first, all.GetEntries()))
			}
			if err != nil {
				return failure{err}
			}
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		next := &pageFlags{size: p.size, token: all.GetNextPageToken()}
		all, _, err = fetch(cmd, a, a.admin.ListLedgerEntries, req, next, true)
	}
}

// aligned writes rows in batches, as out does a table (two spaces
// between columns, no line ending in spaces), each column as wide as its
// widest cell of every batch so far.
type aligned struct{ widths []int }

// write writes a batch of rows to w.
func (t *aligned) write(w io.Writer, rows [][]string) error {
	for _, r := range rows {
		for i, c := range r[:max(len(r)-1, 0)] {
			if i == len(t.widths) {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ledgerTable prints ledger entries, one a line, after a header line.
func ledgerTable(o *out, entries []*quotav1.LedgerEntry) {
	for _, r := range ledgerRows(true, entries) {
		o.row(r...)
	}
}

// ledgerRows are the cells of ledger entries, one row each, after a
// header row if header.
func ledgerRows(header bool, entries []*quotav1.LedgerEntry) [][]string {
	var rows [][]string
	if header {
		rows = append(rows, []string{"TIME", "OPERATION", "MEMBER", "RESERVATION", "REQUEST", "DETAILS"})
	}
	for _, e := range entries {
		owner := e.GetMemberId()
		if e.GetSpenderId() != "" {
			owner = "~" + e.GetSpenderId()
		}
		rows = append(rows, []string{timestamp(e.GetTime()), e.GetOperation(), dash(owner), dash(e.GetReservationId()), dash(e.GetRequestId()), ledgerDetails(e)})
	}
	return rows
}

// ledgerDetails spells a ledger entry's amounts and references: "held
// 50, seat 50; parent c_..."; none is "-".
func ledgerDetails(e *quotav1.LedgerEntry) string {
	var parts []string
	if len(e.GetAmounts()) > 0 {
		amounts := make([]string, len(e.GetAmounts()))
		for i, a := range e.GetAmounts() {
			amounts[i] = a.GetName() + " " + ledgerAmount(e.GetOperation(), a.GetName(), a.GetAmount())
		}
		parts = append(parts, strings.Join(amounts, ", "))
	}
	if len(e.GetGrants()) > 0 {
		grants := make([]string, len(e.GetGrants()))
		for i, g := range e.GetGrants() {
			grants[i] = g.GetGrantId() + " " + credits(g.GetAmount())
		}
		parts = append(parts, "grants "+strings.Join(grants, ", "))
	}
	if e.GetRelatedReservationId() != "" {
		parts = append(parts, "related "+e.GetRelatedReservationId())
	}
	if e.GetGrantId() != "" {
		parts = append(parts, "grant "+e.GetGrantId())
	}
	if e.GetActor() != "" {
		parts = append(parts, "actor "+e.GetActor())
	}
	if e.GetReason() != "" {
		parts = append(parts, "reason "+strconv.Quote(e.GetReason()))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// ledgerAmount spells the amount name of a ledger entry of operation op
// (README, "Ledger"): a time in ms as RFC 3339, a seat rank as its seat, a
// count as such, a policy's flags and unset caps as words, else credits.
func ledgerAmount(op, name string, v int64) string {
	switch {
	case name == "deadline" || name == "period_start" || name == "period_end" || name == "start" ||
		name == "expiry" || name == "anchor" || name == "effective":
		return timestamp(timestamppb.New(time.UnixMilli(v)))
	case (op == "seat" || op == "seat_at_reset" || op == "upgrade") && name == "seat":
		if v == 0 {
			return "none"
		}
		return enumName(quotav1.Seat(v))
	case name == "count" || name == "priority":
		return strconv.FormatInt(v, 10)
	case op == "policy" && (name == "overage" || name == "pooled"):
		return yesNo(v == 1)
	case op == "policy" && v == -1:
		return "unset"
	case op == "member_pool_cap" && v == -1:
		return "unlimited"
	case op == "member_pool_cap" && v == -2:
		return "default"
	}
	return credits(v)
}

// dash is s, or "-" when it is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// reservationsCmd is "reservations WS [--member M]" (ListReservations).
func reservationsCmd(a *app) *cobra.Command {
	var p *pageFlags
	var member string
	c := leaf(&cobra.Command{
		Use:   "reservations WS [--member M]",
		Short: "List a workspace's open holds (held, or expired and not released yet), earliest deadline first",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.ListReservationsRequest{WorkspaceId: args[0], MemberId: member}
		return list(cmd, a, a.admin.ListReservations, req, p, func(o *out, r *quotav1.ListReservationsResponse) { reservationsTable(o, r.GetReservations()) })
	})
	c.Flags().StringVar(&member, "member", "", "only this member's reservations")
	p = addPageFlags(c)
	return c
}

// reservationsTable prints reservations, one a line.
func reservationsTable(o *out, rs []*quotav1.Reservation) {
	o.row("RESERVATION", "MEMBER", "ORIGIN", "STATE", "HELD", "HELD FROM", "DEADLINE", "PARENT")
	for _, r := range rs {
		owner := r.GetMemberId()
		if r.GetSpenderId() != "" {
			owner = "~" + r.GetSpenderId()
		}
		o.row(r.GetReservationId(), dash(owner), enumName(r.GetOrigin()), enumName(r.GetState()), credits(r.GetHeld()),
			sourceAmounts(r.GetHeldFrom()), timestamp(r.GetDeadline()), dash(r.GetParentReservationId()))
	}
}
