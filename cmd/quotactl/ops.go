package main

import (
	"strconv"

	"github.com/spf13/cobra"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// explainCmd is "explain WS [MEMBER]" (ExplainBalance).
func explainCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "explain WS [MEMBER]",
		Short: "Say what makes up a member's balance, or without a member the pool's, with its invariants checked",
		Args:  argsBetween(1, "WS", "MEMBER"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.ExplainBalanceRequest{WorkspaceId: args[0]}
		if len(args) == 2 {
			req.MemberId = args[1]
		}
		return call(cmd, a, a.admin.ExplainBalance, req, explainTable)
	})
}

// explainTable prints an explanation: whose balance, its parts in draw
// order, the open holds, then the invariants.
func explainTable(o *out, r *quotav1.ExplainBalanceResponse) {
	w := r.GetWorkspace()
	o.kv("workspace", w.GetWorkspaceId())
	if b := r.GetBalance(); b != nil {
		o.kv("member", b.GetMemberId())
		o.kv("seat", enumName(b.GetSeat()))
		o.kv("period", timestamp(b.GetPeriodStart())+" to "+timestamp(b.GetPeriodEnd()))
		o.kv("spendable", credits(b.GetSpendable())+lowMark(b.GetLowBalance()))
	} else {
		o.kv("member", "- (the pool)")
		o.kv("period", timestamp(w.GetPeriodStart())+" to "+timestamp(w.GetPeriodEnd()))
		o.kv("pool available", credits(w.GetPool().GetAvailable())+lowMark(w.GetPoolLowBalance()))
	}
	o.blank()
	o.row("PART", "SOURCE", "ALLOCATED", "AVAILABLE", "HELD", "SPENT", "FORFEITED", "CAP", "FROM", "TO", "NOTE")
	for _, c := range r.GetComponents() {
		part := c.GetKind()
		if c.GetGrantId() != "" {
			part += " " + c.GetGrantId()
		}
		limit := "-"
		if c.Cap != nil {
			limit = credits(c.GetCap())
		}
		o.row(part, enumName(c.GetSource()), credits(c.GetAllocated()), credits(c.GetAvailable()), credits(c.GetHeld()),
			credits(c.GetSpent()), credits(c.GetForfeited()), limit, timestamp(c.GetStartTime()), timestamp(c.GetEndTime()),
			oneLine(c.GetDescription()))
	}
	o.blank()
	if len(r.GetHolds()) == 0 {
		o.kv("open holds", "none")
	} else {
		reservationsTable(o, r.GetHolds())
		if r.GetHoldsTruncated() {
			o.blank()
			o.kv("open holds", "the first "+strconv.Itoa(len(r.GetHolds()))+": quotactl reservations lists them all")
		}
	}
	o.blank()
	o.row("CHECK", "LEFT", "RIGHT", "EQUATION")
	for _, c := range r.GetChecks() {
		verdict := "ok"
		if !c.GetHolds() {
			verdict = "FAILS"
		}
		o.row(verdict, credits(c.GetLeft()), credits(c.GetRight()), c.GetEquation())
	}
}

// auditCmd is "audit WS" (AuditWorkspace).
func auditCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "audit WS",
		Short: "Recompute a workspace's accounts and grants from its records and list any drift (changes nothing)",
		Args:  exactArgs("WS"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.AuditWorkspaceRequest{WorkspaceId: args[0]}
		return call(cmd, a, a.admin.AuditWorkspace, req, auditTable)
	})
}

// auditTable prints what an audit read, then its drifts.
func auditTable(o *out, r *quotav1.AuditWorkspaceResponse) {
	o.kv("audited", timestamp(r.GetAuditTime()))
	o.kv("accounts", integer(r.GetAccounts()))
	o.kv("grants", integer(r.GetGrants()))
	o.kv("open reservations", integer(r.GetReservations()))
	o.kv("ledger entries", integer(r.GetLedgerEntries()))
	complete := "no: trimmed, lifetime counters not checked against it"
	if r.GetLedgerComplete() {
		complete = "yes: lifetime counters checked against it"
	}
	o.kv("ledger complete", complete)
	if len(r.GetDrifts()) == 0 {
		o.kv("drifts", "none: the books agree")
		return
	}
	o.kv("drifts", strconv.Itoa(len(r.GetDrifts())))
	o.blank()
	o.row("SUBJECT", "FIELD", "RECORDED", "RECOMPUTED", "EXPLANATION")
	for _, d := range r.GetDrifts() {
		o.row(d.GetSubject(), d.GetField(), credits(d.GetRecorded()), credits(d.GetRecomputed()), oneLine(d.GetExplanation()))
	}
}

// refundCmd is "refund WS RESERVATION_ID --reason TEXT"
// (RefundReservation).
func refundCmd(a *app) *cobra.Command {
	var reason string
	c := leaf(&cobra.Command{
		Use:   "refund WS RESERVATION_ID --reason TEXT",
		Short: "Void a held reservation (a run's root: the whole run) as an operator: nothing is charged; the reason goes to the ledger",
		Args:  exactArgs("WS", "RESERVATION_ID"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.RefundReservationRequest{WorkspaceId: args[0], ReservationId: args[1], Reason: reason, RequestId: a.newRequestID()}
		return call(cmd, a, a.admin.RefundReservation, req, func(o *out, r *quotav1.RefundReservationResponse) {
			reservationTable(o, r.GetReservation())
			if r.GetBalance() != nil {
				o.blank()
				balanceTable(o, r.GetBalance())
			}
		})
	})
	c.Flags().StringVar(&reason, "reason", "", "why, for the ledger (1 to 500 bytes)")
	c.MarkFlagRequired("reason")
	return c
}

// adjustCmd is "adjust WS [MEMBER] --amount CREDITS --reason TEXT"
// (AdjustBalance).
func adjustCmd(a *app) *cobra.Command {
	var amount, reason, expire string
	c := leaf(&cobra.Command{
		Use:   "adjust WS [MEMBER] --amount CREDITS --reason TEXT",
		Short: "Credit (amount > 0) or debit (< 0) a member's seat credits this period, or without a member the pool",
		Long: `Credit (--amount > 0) or debit (--amount < 0, e.g. --amount -12.5) a
member's seat credits of the current period, or without a member the pool;
the reason goes to the ledger with the name of the caller's token.

A member's credit is drawn first and forfeited at the next reset if unused;
a debit takes only from what is available of the seat credits now. A pool
credit is a new top-up grant (expiring at --expire, default a year from
now); a pool debit takes from the active grants' available credits in draw
order.`,
		Args: argsBetween(1, "WS", "MEMBER"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.AdjustBalanceRequest{WorkspaceId: args[0], Reason: reason}
		if len(args) == 2 {
			req.MemberId = args[1]
		}
		var err error
		if req.Amount, err = parseCredits("--amount", amount); err != nil {
			return err
		}
		if expire != "" {
			if req.ExpireTime, err = parseTime("--expire", expire); err != nil {
				return err
			}
		}
		req.RequestId = a.newRequestID()
		return call(cmd, a, a.admin.AdjustBalance, req, func(o *out, r *quotav1.AdjustBalanceResponse) {
			if r.GetBalance() != nil {
				balanceTable(o, r.GetBalance())
				return
			}
			workspaceBalanceTable(o, r.GetWorkspace())
			if r.GetGrant() != nil {
				o.blank()
				grantsTable(o, r.GetGrant())
			}
		})
	})
	f := c.Flags()
	f.StringVar(&amount, "amount", "", "credits to add, or with a leading - to take (e.g. 250, -12.5)")
	f.StringVar(&reason, "reason", "", "why, for the ledger (1 to 500 bytes)")
	f.StringVar(&expire, "expire", "", "for a pool credit: when its grant expires, RFC 3339 (default: a year from now)")
	c.MarkFlagRequired("amount")
	c.MarkFlagRequired("reason")
	return c
}
