package main

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// reservationCmd is "reservation get".
func reservationCmd(a *app) *cobra.Command {
	return group("reservation", "Show a reservation (a hold) and what it charged", reservationGetCmd(a))
}

// reservationGetCmd is "reservation get WS ID" (GetReservation).
func reservationGetCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "get WS RESERVATION_ID",
		Short: "Show a reservation: its state, hold, charge and, once committed, its cost per agent",
		Args:  exactArgs("WS", "RESERVATION_ID"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.GetReservationRequest{WorkspaceId: args[0], ReservationId: args[1]}
		return call(cmd, a, a.quota.GetReservation, req, func(o *out, r *quotav1.GetReservationResponse) { reservationTable(o, r.GetReservation()) })
	})
}

// reservationTable prints a reservation, then its cost.
func reservationTable(o *out, r *quotav1.Reservation) {
	o.kv("reservation", r.GetReservationId())
	o.kv("workspace", r.GetWorkspaceId())
	if r.GetSpenderId() != "" {
		o.kv("spender", r.GetSpenderId())
	} else {
		o.kv("member", r.GetMemberId())
	}
	o.kv("origin", enumName(r.GetOrigin()))
	o.kv("state", enumName(r.GetState()))
	o.kv("requested", credits(r.GetRequested()))
	o.kv("held", credits(r.GetHeld()))
	if len(r.GetHeldFrom()) > 0 {
		o.kv("held from", sourceAmounts(r.GetHeldFrom()))
	}
	o.kv("created", timestamp(r.GetCreateTime()))
	o.kv("deadline", timestamp(r.GetDeadline()))
	o.kv("settled", timestamp(r.GetSettleTime()))
	if r.GetRecorded() {
		o.kv("recorded", "yes: charged when the run's root commits")
	} else if r.GetState() == quotav1.ReservationState_RESERVATION_STATE_COMMITTED {
		o.kv("charged", credits(r.GetCharged())+", from the hold "+credits(r.GetChargedFromHold()))
		o.kv("charged from", sourceAmounts(r.GetChargedFrom()))
		o.kv("released", credits(r.GetReleased()))
		if r.GetShortfall() != 0 {
			o.kv("shortfall", credits(r.GetShortfall()))
		}
	} else if r.GetReleased() != 0 {
		o.kv("released", credits(r.GetReleased()))
	}
	o.kv("run", r.GetRootReservationId())
	if r.GetParentReservationId() != "" {
		o.kv("parent", r.GetParentReservationId())
	}
	o.kv("run reservations", strconv.FormatInt(r.GetRunReservations(), 10))
	tokens := credits(r.GetRunTokenSpent()) + " of token credits"
	if r.RunTokenCap != nil {
		tokens += ", cap " + credits(r.GetRunTokenCap())
	}
	o.kv("run tokens", tokens)
	o.kv("pricing version", strconv.FormatInt(r.GetPricingVersion(), 10))
	if r.GetCost() != nil {
		o.blank()
		costTable(o, r.GetCost())
	}
}

// runCmd is "run costs".
func runCmd(a *app) *cobra.Command {
	return group("run", "Show a run's costs (a run is a root reservation and its children)", runCostsCmd(a))
}

// runCostsCmd is "run costs WS RESERVATION_ID" (ListRunCosts).
func runCostsCmd(a *app) *cobra.Command {
	var p *pageFlags
	var agents bool
	c := leaf(&cobra.Command{
		Use:   "costs WS RESERVATION_ID",
		Short: "List the costs of a run (any of its reservations), one committed reservation a line",
		Args:  exactArgs("WS", "RESERVATION_ID"),
	}, func(cmd *cobra.Command, args []string) error {
		req := &quotav1.ListRunCostsRequest{WorkspaceId: args[0], ReservationId: args[1]}
		return list(cmd, a, a.quota.ListRunCosts, req, p, func(o *out, r *quotav1.ListRunCostsResponse) { runCostsTable(o, r.GetEntries(), agents) })
	})
	p = addPageFlags(c)
	c.Flags().BoolVar(&agents, "agents", false, "also print each reservation's cost per agent")
	return c
}

// runCostsTable prints a run's cost entries and their sum, and with
// agents each entry's usage tree.
func runCostsTable(o *out, entries []*quotav1.RunCostEntry, agents bool) {
	o.row("RESERVATION", "UNDER", "TOKENS", "ACTIONS", "COST")
	var sum int64
	for _, e := range entries {
		root := e.GetCost().GetRoot()
		o.row(e.GetReservationId(), dash(e.GetUnderReservationId()), credits(root.GetTokenCost()), credits(root.GetActionCost()), credits(root.GetTotalCost()))
		sum += root.GetTotalCost()
	}
	o.blank()
	o.kv("total", credits(sum))
	if !agents {
		return
	}
	for _, e := range entries {
		o.blank()
		o.kv("reservation", e.GetReservationId())
		o.blank()
		costTable(o, e.GetCost())
	}
}

// estimateCmd is "estimate --origin O FILE" (EstimateCost).
func estimateCmd(a *app) *cobra.Command {
	origins := quotav1.Origin(0).Descriptor()
	var origin string
	c := leaf(&cobra.Command{
		Use:   "estimate FILE",
		Short: "Price a usage tree (a quota.v1.AgentRun in proto JSON, - for stdin); changes nothing",
		Args:  exactArgs("FILE"),
	}, func(cmd *cobra.Command, args []string) error {
		o, ok := parseEnum(origins, origin)
		if !ok {
			return usageErrorf("--origin %q: want %s", origin, strings.Join(enumNames(origins), ", "))
		}
		req := &quotav1.EstimateCostRequest{Origin: quotav1.Origin(o), Usage: &quotav1.AgentRun{}}
		if err := readProtoJSON(a, args[0], req.Usage); err != nil {
			return err
		}
		return call(cmd, a, a.quota.EstimateCost, req, func(o *out, r *quotav1.EstimateCostResponse) {
			o.kv("pricing version", strconv.FormatInt(r.GetPricingVersion(), 10))
			o.blank()
			costTable(o, r.GetCost())
		})
	})
	c.Flags().StringVar(&origin, "origin", "conversation", "where the run would come from: conversation, sidekick or automation")
	c.RegisterFlagCompletionFunc("origin", cobra.FixedCompletions(enumNames(origins), cobra.ShellCompDirectiveNoFileComp))
	return c
}

// costTable prints a run cost: its usage tree, one agent a line with its
// models and actions under it and its sub-agents nested, then the totals.
func costTable(o *out, c *quotav1.RunCost) {
	o.row("AGENT / ITEM", "TOKENS", "TIER", "CREDITS", "NOTE")
	agentRows(o, c.GetRoot(), "")
	o.blank()
	o.kv("origin", enumName(c.GetOrigin()))
	o.kv("tokens", credits(c.GetTokenCost()))
	o.kv("actions", credits(c.GetActionCost()))
	if c.GetRecordedCost() != 0 {
		o.kv("recorded by children", credits(c.GetRecordedCost())+" (tokens "+credits(c.GetRecordedTokenCost())+", actions "+credits(c.GetRecordedActionCost())+")")
	}
	o.kv("total", credits(c.GetTotalCost()))
	if len(c.GetFallbackModels()) > 0 {
		o.kv("fallback models", strings.Join(c.GetFallbackModels(), ", "))
	}
	if c.GetTruncated() {
		o.kv("truncated", "yes: run costs lists the whole tree")
	}
}

// agentRows prints one agent, its items and its sub-agents, indented.
func agentRows(o *out, a *quotav1.AgentCost, indent string) {
	own := "own " + credits(a.GetOwnCost()) + ": tokens " + credits(a.GetOwnTokenCost()) + ", actions " + credits(a.GetOwnActionCost())
	o.row(indent+a.GetAgentId(), "", "", credits(a.GetTotalCost()), own)
	item := indent + "  "
	for _, m := range a.GetModels() {
		note := ""
		if m.GetFallback() || m.GetPricedAs() != m.GetModel() {
			note = "priced as " + m.GetPricedAs()
		}
		o.row(item+m.GetModel(), integer(m.GetTokens()), "", credits(m.GetCost()), note)
	}
	for _, t := range a.GetActions() {
		note := t.GetNote()
		if t.GetUncatalogued() && !strings.Contains(note, "unknown") {
			note = strings.TrimPrefix(note+", uncatalogued", ", ")
		}
		o.row(item+t.GetTool(), "", enumName(t.GetTier()), credits(t.GetCost()), note)
	}
	for _, s := range a.GetSubAgents() {
		agentRows(o, s, item)
	}
}
