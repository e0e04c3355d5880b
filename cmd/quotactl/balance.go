package main

import (
	"github.com/spf13/cobra"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// seatCmd is "seat set".
func seatCmd(a *app) *cobra.Command {
	return group("seat", "Give a member a seat", seatSetCmd(a))
}

// seatSetCmd is "seat set WS MEMBER free|pro|max|none" (SetSeat).
func seatSetCmd(a *app) *cobra.Command {
	seats := quotav1.Seat(0).Descriptor()
	return leaf(&cobra.Command{
		Use:   "set WS MEMBER free|pro|max|none",
		Short: "Give a member a seat: an upgrade takes effect at once, a downgrade or none at the next reset",
		Args:  exactArgs("WS", "MEMBER", "SEAT"),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 2 {
				return []cobra.Completion{"free", "pro", "max", "none"}, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
	}, func(cmd *cobra.Command, args []string) error {
		name := args[2]
		if name == "none" {
			name = "unassigned"
		}
		seat, ok := parseEnum(seats, name)
		if !ok {
			return usageErrorf("seat %q: want free, pro, max or none", args[2])
		}
		req := &quotav1.SetSeatRequest{WorkspaceId: args[0], MemberId: args[1], Seat: quotav1.Seat(seat), RequestId: a.newRequestID()}
		return call(cmd, a, a.admin.SetSeat, req, func(o *out, r *quotav1.SetSeatResponse) { balanceTable(o, r.GetBalance()) })
	})
}

// balanceCmd is "balance WS [MEMBER]" (GetBalance, or GetWorkspaceBalance
// without a member).
func balanceCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "balance WS [MEMBER]",
		Short: "Show a member's balance, or without a member the workspace's: pool, overage, programmatic usage",
		Args:  argsBetween(1, "WS", "MEMBER"),
	}, func(cmd *cobra.Command, args []string) error {
		if len(args) == 1 {
			req := &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: args[0]}
			return call(cmd, a, a.admin.GetWorkspaceBalance, req, func(o *out, r *quotav1.GetWorkspaceBalanceResponse) { workspaceBalanceTable(o, r.GetBalance()) })
		}
		req := &quotav1.GetBalanceRequest{WorkspaceId: args[0], MemberId: args[1]}
		return call(cmd, a, a.quota.GetBalance, req, func(o *out, r *quotav1.GetBalanceResponse) { balanceTable(o, r.GetBalance()) })
	})
}

// balanceTable prints a member's balance: key-value lines, then a table
// of its sources.
func balanceTable(o *out, b *quotav1.Balance) {
	o.kv("workspace", b.GetWorkspaceId())
	o.kv("member", b.GetMemberId())
	seat := enumName(b.GetSeat())
	if b.GetNextSeat() != quotav1.Seat_SEAT_UNSPECIFIED {
		seat += ", " + enumName(b.GetNextSeat()) + " from " + timestamp(b.GetPeriodEnd())
	}
	o.kv("seat", seat)
	o.kv("period", timestamp(b.GetPeriodStart())+" to "+timestamp(b.GetPeriodEnd()))
	o.kv("spendable", credits(b.GetSpendable())+lowMark(b.GetLowBalance()))
	o.kv("allocated", credits(b.GetAllocated()))
	o.kv("available", credits(b.GetAvailable()))
	o.kv("held", credits(b.GetHeld()))
	o.kv("spent", credits(b.GetSpent()))
	o.kv("pool cap", capValue(b.PoolCap))
	o.kv("pool used", credits(b.GetPoolUsed())+lowMark(b.GetPoolLowBalance()))
	o.blank()
	o.row("SOURCE", "ALLOCATED", "AVAILABLE", "HELD", "SPENT")
	for _, s := range b.GetSources() {
		o.row(enumName(s.GetSource()), credits(s.GetAllocated()), credits(s.GetAvailable()), credits(s.GetHeld()), credits(s.GetSpent()))
	}
	t := b.GetTotals()
	o.row("lifetime", credits(t.GetAllocated()), credits(t.GetAvailable()), credits(t.GetHeld()), credits(t.GetSpent()))
	if t.GetForfeited() != 0 {
		o.blank()
		o.kv("forfeited", credits(t.GetForfeited()))
	}
}

// workspaceBalanceTable prints a workspace's balance.
func workspaceBalanceTable(o *out, b *quotav1.WorkspaceBalance) {
	o.kv("workspace", b.GetWorkspaceId())
	o.kv("period", timestamp(b.GetPeriodStart())+" to "+timestamp(b.GetPeriodEnd()))
	policyLines(o, b.GetPolicy())
	o.kv("overage used", credits(b.GetOverageUsed()))
	o.kv("overage held", credits(b.GetOverageHeld()))
	o.kv("programmatic used", credits(b.GetProgrammaticUsed()))
	o.kv("programmatic held", credits(b.GetProgrammaticHeld()))
	p := b.GetPool()
	o.kv("pool granted", credits(p.GetGranted()))
	o.kv("pool available", credits(p.GetAvailable())+lowMark(b.GetPoolLowBalance()))
	o.kv("pool pending", credits(p.GetPending()))
	o.kv("pool held", credits(p.GetHeld()))
	o.kv("pool spent", credits(p.GetSpent()))
	o.kv("pool forfeited", credits(p.GetForfeited()))
}

// lowMark is " (low)" when a balance is below 20% of its allocation.
func lowMark(low bool) string {
	if low {
		return " (low)"
	}
	return ""
}
