package server

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Conversions between the API's messages and the domain's types. Requests
// are converted after validate.go's checks; the domain validates amounts,
// the agent chain and the price table.

// usageFromProto converts an agent chain (nil is an empty root, which the
// domain rejects for its missing agent_id). It checks each action's tier,
// and stops at the domain's bounds on depth, nodes and items so that a
// hostile chain is never copied in full: the domain reports the same
// bounds for chains built in Go.
func usageFromProto(run *quotav1.AgentRun) (quota.AgentRun, error) {
	var c usageConverter
	return c.node(run, 1)
}

// usageConverter walks a chain, counting nodes and items.
type usageConverter struct {
	path         []int // sub-agent indices from the root, for error paths
	nodes, items int
}

// node converts one node at depth (the root is 1) and its sub-agents.
func (c *usageConverter) node(run *quotav1.AgentRun, depth int) (quota.AgentRun, error) {
	if depth > quota.MaxDepth {
		return quota.AgentRun{}, quota.LimitError(quota.LimitDepth)
	}
	if c.nodes++; c.nodes > quota.MaxNodes {
		return quota.AgentRun{}, quota.LimitError(quota.LimitNodes)
	}
	models, actions, subs := run.GetModels(), run.GetActions(), run.GetSubAgents()
	if c.items += len(models) + len(actions); c.items > quota.MaxItems {
		return quota.AgentRun{}, quota.LimitError(quota.LimitItems)
	}
	out := quota.AgentRun{AgentID: run.GetAgentId()}
	if len(models) > 0 {
		out.Models = make([]quota.ModelUsage, len(models))
		for i, m := range models {
			out.Models[i] = quota.ModelUsage{
				Model:        m.GetModel(),
				InputTokens:  m.GetInputTokens(),
				OutputTokens: m.GetOutputTokens(),
				CacheRead:    m.GetCacheReadTokens(),
				CacheWrite:   m.GetCacheWriteTokens(),
			}
		}
	}
	if len(actions) > 0 {
		out.Actions = make([]quota.ToolAction, len(actions))
		for i, a := range actions {
			tier, ok := tierFromProto(a.GetTier())
			if !ok {
				return quota.AgentRun{}, badTier(fmt.Sprintf("%s.actions[%d].tier", usagePath(c.path), i), a.GetTier())
			}
			out.Actions[i] = quota.ToolAction{Tool: a.GetTool(), Tier: tier, ExternalMCP: a.GetExternalMcp(), NotRun: a.GetNotRun()}
		}
	}
	if len(subs) > 0 {
		out.SubAgents = make([]quota.AgentRun, len(subs))
		for i, sub := range subs {
			c.path = append(c.path, i)
			var err error
			if out.SubAgents[i], err = c.node(sub, depth+1); err != nil {
				return quota.AgentRun{}, err
			}
			c.path = c.path[:len(c.path)-1]
		}
	}
	return out, nil
}

// usagePath names the node at path: "usage", "usage.sub_agents[2]", ...
func usagePath(path []int) string {
	s := "usage"
	for _, i := range path {
		s += fmt.Sprintf(".sub_agents[%d]", i)
	}
	return s
}

// priceTableFromProto converts a price table (nil is an empty table, which
// the domain rejects). It checks each tool's tier is a known value.
func priceTableFromProto(t *quotav1.PriceTable) (quota.PriceTable, error) {
	out := quota.PriceTable{FallbackModel: t.GetFallbackModel()}
	if ms := t.GetModels(); len(ms) > 0 {
		out.Models = make([]quota.ModelPrice, len(ms))
		for i, m := range ms {
			out.Models[i] = quota.ModelPrice{
				Model:          m.GetModel(),
				InputRate:      m.GetInputRate(),
				OutputRate:     m.GetOutputRate(),
				CacheReadRate:  m.GetCacheReadRate(),
				CacheWriteRate: m.GetCacheWriteRate(),
			}
		}
	}
	if ts := t.GetTools(); len(ts) > 0 {
		out.Tools = make([]quota.ToolPrice, len(ts))
		for i, tp := range ts {
			tier, ok := tierFromProto(tp.GetTier())
			if !ok {
				return quota.PriceTable{}, badTier(fmt.Sprintf("pricing.tools[%d].tier", i), tp.GetTier())
			}
			out.Tools[i] = quota.ToolPrice{Tool: tp.GetTool(), Tier: tier, Platform: tp.GetPlatform()}
		}
	}
	return out, nil
}

// pricingVersionToProto converts a price table version.
func pricingVersionToProto(v *quota.PriceVersion) *quotav1.PricingVersion {
	return &quotav1.PricingVersion{
		Version:    v.Version,
		Pricing:    priceTableToProto(&v.Table),
		CreateTime: timeToProto(v.Created),
		CreatedBy:  v.CreatedBy,
	}
}

// priceTableToProto converts a price table.
func priceTableToProto(t *quota.PriceTable) *quotav1.PriceTable {
	out := &quotav1.PriceTable{FallbackModel: t.FallbackModel}
	if len(t.Models) > 0 {
		out.Models = make([]*quotav1.ModelPrice, len(t.Models))
		for i, m := range t.Models {
			out.Models[i] = &quotav1.ModelPrice{
				Model:          m.Model,
				InputRate:      m.InputRate,
				OutputRate:     m.OutputRate,
				CacheReadRate:  m.CacheReadRate,
				CacheWriteRate: m.CacheWriteRate,
			}
		}
	}
	if len(t.Tools) > 0 {
		out.Tools = make([]*quotav1.ToolPrice, len(t.Tools))
		for i, tp := range t.Tools {
			out.Tools[i] = &quotav1.ToolPrice{Tool: tp.Tool, Tier: tierToProto(tp.Tier), Platform: tp.Platform}
		}
	}
	return out
}

// workspaceToProto converts a workspace, its policy included.
func workspaceToProto(ws *quota.Workspace) *quotav1.Workspace {
	return &quotav1.Workspace{
		WorkspaceId:       ws.ID,
		SubscriptionStart: timeToProto(ws.SubscriptionStart),
		Policy:            policyToProto(&ws.Policy),
	}
}

// reservationToProto converts a reservation; no run token cap is an unset
// run_token_cap.
func reservationToProto(r *quota.Reservation) *quotav1.Reservation {
	out := &quotav1.Reservation{
		WorkspaceId:     r.WorkspaceID,
		ReservationId:   r.ID,
		MemberId:        r.MemberID,
		SpenderId:       r.SpenderID,
		Origin:          originToProto(r.Origin),
		State:           stateToProto(r.State),
		Requested:       r.Requested,
		Held:            r.Held,
		HeldFrom:        sourceAmountsToProto(r.HeldFrom),
		Deadline:        timeToProto(r.Deadline),
		CreateTime:      timeToProto(r.Created),
		SettleTime:      timeToProto(r.Settled),
		Charged:         r.Charged,
		ChargedFromHold: r.ChargedFromHold,
		ChargedFrom:     sourceAmountsToProto(r.ChargedFrom),
		Released:        r.Released,
		Shortfall:       r.Shortfall,

		ParentReservationId: r.ParentID,
		RootReservationId:   r.RootID,
		RunTokenSpent:       r.RunTokenSpent,
		Recorded:            r.Recorded,
		PricingVersion:      r.PricingVersion,
		RunReservations:     r.RunReservations,
	}
	if r.HasRunTokenCap {
		out.RunTokenCap = proto.Int64(r.RunTokenCap)
	}
	if r.Cost != nil {
		budget := costBudget
		out.Cost = runCostToProto(r.Cost, &budget)
	}
	return out
}

// balanceToProto converts a balance. No pending change is a NEXT seat of
// SEAT_UNSPECIFIED; no seat is SEAT_UNASSIGNED; no pool cap (unlimited) is
// an unset pool_cap.
func balanceToProto(b *quota.Balance) *quotav1.Balance {
	seat := seatToProto(b.Seat)
	if b.MemberID == "" {
		seat = quotav1.Seat_SEAT_UNSPECIFIED // a programmatic spender has no seat
	}
	out := &quotav1.Balance{
		WorkspaceId: b.WorkspaceID,
		MemberId:    b.MemberID,
		Seat:        seat,
		PeriodStart: timeToProto(b.PeriodStart),
		PeriodEnd:   timeToProto(b.PeriodEnd),
		Allocated:   b.Allocated,
		Available:   b.Available,
		Held:        b.Held,
		Spent:       b.Spent,
		Spendable:   b.Spendable,
		Totals: &quotav1.AccountTotals{
			Allocated: b.Totals.Allocated,
			Available: b.Totals.Available,
			Held:      b.Totals.Held,
			Spent:     b.Totals.Spent,
			Forfeited: b.Totals.Forfeited,
		},
		PoolUsed:       b.PoolUsed,
		LowBalance:     b.LowBalance,
		PoolLowBalance: b.PoolLow,
	}
	if b.HasPoolCap {
		out.PoolCap = proto.Int64(b.PoolCap)
	}
	if b.HasNext {
		out.NextSeat = seatToProto(b.NextSeat)
	}
	if len(b.Sources) > 0 {
		out.Sources = make([]*quotav1.SourceBalance, len(b.Sources))
		for i, s := range b.Sources {
			out.Sources[i] = &quotav1.SourceBalance{
				Source:    sourceToProto(s.Source),
				Allocated: s.Allocated,
				Available: s.Available,
				Held:      s.Held,
				Spent:     s.Spent,
			}
		}
	}
	return out
}

// costBudget bounds the bytes of agent nodes one cost carries in a reply,
// so that replies stay under 64 KiB whatever the usage tree (a
// ListRunCosts page: the store bounds the page, see store.ListRun).
const costBudget = 48 << 10

// runCostToProto converts the cost of a chain within budget bytes of
// agent nodes (see agentCostToProto): a tree cut short is Truncated.
func runCostToProto(c *quota.RunCost, budget *int) *quotav1.RunCost {
	// The models priced by fallback first, in order while they fit (a
	// tree of thousands of unknown models would pass the budget alone).
	fallback := c.FallbackModels
	for i, m := range fallback {
		n := fieldSize(len(m))
		if n > *budget {
			fallback = fallback[:i]
			break
		}
		*budget -= n
	}
	root, truncated := agentCostToProto(&c.Root, budget, true)
	return &quotav1.RunCost{
		Origin:             originToProto(c.Origin),
		Root:               root,
		TokenCost:          c.TokenCost,
		ActionCost:         c.ActionCost,
		TotalCost:          c.TotalCost,
		FallbackModels:     fallback,
		RecordedTokenCost:  c.Recorded.TokenCost,
		RecordedActionCost: c.Recorded.ActionCost,
		RecordedCost:       c.Recorded.TotalCost,
		Truncated:          truncated || len(fallback) < len(c.FallbackModels),
	}
}

// agentCostToProto converts the cost of one node and its sub-agents, in
// the order they ran, while their encoded size fits in budget (the first
// node always shows, its model lines and actions cut to the budget when
// they alone pass it); it reports whether anything was left out.
func agentCostToProto(a *quota.AgentCost, budget *int, first bool) (*quotav1.AgentCost, bool) {
	out := &quotav1.AgentCost{
		AgentId:       a.AgentID,
		OwnTokenCost:  a.OwnTokenCost,
		OwnActionCost: a.OwnActionCost,
		OwnCost:       a.OwnCost,
		TokenCost:     a.TokenCost,
		ActionCost:    a.ActionCost,
		TotalCost:     a.TotalCost,
	}
	if len(a.Models) > 0 {
		out.Models = make([]*quotav1.ModelCost, len(a.Models))
		for i, m := range a.Models {
			out.Models[i] = &quotav1.ModelCost{
				Model: m.Model, PricedAs: m.PricedAs, Fallback: m.Fallback, Tokens: m.Tokens, Cost: m.Cost,
			}
		}
	}
	if len(a.Actions) > 0 {
		out.Actions = make([]*quotav1.ActionCost, len(a.Actions))
		for i, ac := range a.Actions {
			out.Actions[i] = &quotav1.ActionCost{Tool: ac.Tool, Tier: tierToProto(ac.Tier), Cost: ac.Cost, Note: ac.Note,
				Uncatalogued: ac.Uncatalogued}
		}
	}
	size := proto.Size(out) + 4 // and its field tag and length in the parent
	if size > *budget && !first {
		return nil, true
	}
	truncated := false
	if size > *budget {
		// The first node, too large itself (thousands of model lines or
		// actions): its lines and actions in order, while they fit; its
		// totals stay whole.
		size, truncated = cutLines(out, *budget)
	}
	*budget -= size
	if truncated {
		return out, true // nothing after a cut node: the agents in order up to the cut
	}
	for i := range a.SubAgents {
		sub, cut := agentCostToProto(&a.SubAgents[i], budget, false)
		if sub != nil {
			out.SubAgents = append(out.SubAgents, sub)
		}
		if cut {
			truncated = true
			break
		}
	}
	return out, truncated
}

// cutLines keeps the first of out's model lines, then of its actions, that
// fit in budget bytes with the rest of the node (but no sub-agent), and
// returns the node's size then and true: it was cut.
func cutLines(out *quotav1.AgentCost, budget int) (int, bool) {
	models, actions := out.Models, out.Actions
	out.Models, out.Actions = nil, nil
	size := proto.Size(out) + 4
	var all bool
	if out.Models, all = fitLines(models, &size, budget); all {
		out.Actions, _ = fitLines(actions, &size, budget)
	}
	return size, true
}

// fitLines returns the first of lines that fit in budget bytes after
// *size, adding theirs to it, and whether all of them did.
func fitLines[T proto.Message](lines []T, size *int, budget int) ([]T, bool) {
	var kept []T
	for _, l := range lines {
		n := fieldSize(proto.Size(l))
		if *size+n > budget {
			return kept, false
		}
		kept, *size = append(kept, l), *size+n
	}
	return kept, true
}

// fieldSize is the encoded size of a length-delimited field of n bytes
// whose number is below 16 (a one-byte tag).
func fieldSize(n int) int { return 1 + protowire.SizeBytes(n) }

// sourceAmountsToProto converts amounts per source (and per pool grant);
// none is nil.
func sourceAmountsToProto(as []quota.SourceAmount) []*quotav1.SourceAmount {
	if len(as) == 0 {
		return nil
	}
	out := make([]*quotav1.SourceAmount, len(as))
	for i, a := range as {
		out[i] = &quotav1.SourceAmount{Source: sourceToProto(a.Source), Amount: a.Amount, GrantId: a.GrantID}
	}
	return out
}

// timeToProto converts a time; the zero time is nil (unset).
func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// seatToProto converts a seat: SeatNone is SEAT_UNASSIGNED.
func seatToProto(s quota.Seat) quotav1.Seat {
	switch s {
	case quota.SeatFree:
		return quotav1.Seat_SEAT_FREE
	case quota.SeatPro:
		return quotav1.Seat_SEAT_PRO
	case quota.SeatMax:
		return quotav1.Seat_SEAT_MAX
	default:
		return quotav1.Seat_SEAT_UNASSIGNED
	}
}

// originToProto converts an origin; an unknown one is UNSPECIFIED.
func originToProto(o quota.Origin) quotav1.Origin {
	switch o {
	case quota.OriginConversation:
		return quotav1.Origin_ORIGIN_CONVERSATION
	case quota.OriginSidekick:
		return quotav1.Origin_ORIGIN_SIDEKICK
	case quota.OriginAutomation:
		return quotav1.Origin_ORIGIN_AUTOMATION
	default:
		return quotav1.Origin_ORIGIN_UNSPECIFIED
	}
}

// tierToProto converts a tier; TierUnknown is UNSPECIFIED.
func tierToProto(t quota.Tier) quotav1.ToolTier {
	switch t {
	case quota.TierFree:
		return quotav1.ToolTier_TOOL_TIER_FREE
	case quota.TierBasic:
		return quotav1.ToolTier_TOOL_TIER_BASIC
	case quota.TierAdvanced:
		return quotav1.ToolTier_TOOL_TIER_ADVANCED
	default:
		return quotav1.ToolTier_TOOL_TIER_UNSPECIFIED
	}
}

// stateToProto converts a reservation state.
func stateToProto(s quota.State) quotav1.ReservationState {
	switch s {
	case quota.StateHeld:
		return quotav1.ReservationState_RESERVATION_STATE_HELD
	case quota.StateCommitted:
		return quotav1.ReservationState_RESERVATION_STATE_COMMITTED
	case quota.StateRefunded:
		return quotav1.ReservationState_RESERVATION_STATE_REFUNDED
	case quota.StateExpired:
		return quotav1.ReservationState_RESERVATION_STATE_EXPIRED
	default:
		return quotav1.ReservationState_RESERVATION_STATE_UNSPECIFIED
	}
}

// sourceToProto converts a credit source.
func sourceToProto(s quota.Source) quotav1.Source {
	switch s {
	case quota.SourceSeat:
		return quotav1.Source_SOURCE_SEAT
	case quota.SourceFree:
		return quotav1.Source_SOURCE_FREE
	case quota.SourcePool:
		return quotav1.Source_SOURCE_POOL
	case quota.SourceOverage:
		return quotav1.Source_SOURCE_OVERAGE
	default:
		return quotav1.Source_SOURCE_UNSPECIFIED
	}
}
