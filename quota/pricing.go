package quota

import (
	"fmt"
	"math/bits"
	"slices"
)

// Pricing of an agent chain (DESIGN section 1).
//
// Token credits: for each (agent, model line), the tokens of each kind times
// the model's rate for that kind, summed over the four kinds and divided by
// one million (rates are µcredits per million tokens), rounded up once to a
// whole µcredit. The arithmetic is 128-bit integer math: MaxTokens times
// MaxRate never overflows, and nothing is a float.
//
// Action credits: by tier, free 0, basic 1 credit, advanced 3 credits.
//
// Free usage: Sidekick runs cost nothing (still itemised, at cost 0); platform
// tools charge no action credits in a regular conversation.

// ratePerMillion is the rate denominator: rates are µcredits per million tokens.
const ratePerMillion = 1_000_000

// Action notes, shown on an ActionCost to say why it costs what it costs.
const (
	noteNotRun       = "not run"
	noteSidekick     = "sidekick"
	notePlatformTool = "platform tool in conversation"
	noteExternalMCP  = "external MCP"
	noteUnknownTool  = "unknown tool"
)

// DefaultPriceTable is the price table a fresh start uses. Rates are
// µcredits per million tokens (300 credits per million input tokens on
// claude-sonnet-4-5); more capable models have higher rates, and the
// fallback is the most expensive model, claude-opus-4-1. Its tool catalogue
// lists the platform tools (basic, free in a regular conversation), the
// basic tools, the advanced tools and a free one.
func DefaultPriceTable() PriceTable {
	// cr is credits per million tokens, as a rate.
	cr := func(credits int64) int64 { return credits * Credit }
	return PriceTable{
		Models: []ModelPrice{
			{Model: "gpt-5-mini", InputRate: cr(25), OutputRate: cr(200), CacheReadRate: cr(25) / 10, CacheWriteRate: cr(25)},
			{Model: "claude-haiku-4-5", InputRate: cr(100), OutputRate: cr(500), CacheReadRate: cr(10), CacheWriteRate: cr(125)},
			{Model: "gpt-5", InputRate: cr(125), OutputRate: cr(1_000), CacheReadRate: cr(125) / 10, CacheWriteRate: cr(125)},
			{Model: "gemini-2.5-pro", InputRate: cr(125), OutputRate: cr(1_000), CacheReadRate: cr(125) / 4, CacheWriteRate: cr(250)},
			{Model: "mistral-large", InputRate: cr(200), OutputRate: cr(600), CacheReadRate: cr(20), CacheWriteRate: cr(200)},
			{Model: "claude-sonnet-4-5", InputRate: cr(300), OutputRate: cr(1_500), CacheReadRate: cr(30), CacheWriteRate: cr(375)},
			{Model: "claude-opus-4-1", InputRate: cr(1_500), OutputRate: cr(7_500), CacheReadRate: cr(150), CacheWriteRate: cr(1_875)},
		},
		FallbackModel: "claude-opus-4-1",
		Tools: []ToolPrice{
			// Platform tools: basic, but free of action credits in a
			// regular conversation.
			{Tool: "agent_router", Tier: TierBasic, Platform: true},
			{Tool: "run_agent", Tier: TierBasic, Platform: true},
			{Tool: "memory", Tier: TierBasic, Platform: true},
			{Tool: "common_utilities", Tier: TierBasic, Platform: true},
			// Basic.
			{Tool: "web_search", Tier: TierBasic},
			{Tool: "web_browse", Tier: TierBasic},
			// Advanced.
			{Tool: "data_retrieval", Tier: TierAdvanced},
			{Tool: "data_warehouse", Tier: TierAdvanced},
			{Tool: "notion_connector", Tier: TierAdvanced},
			{Tool: "slack_connector", Tier: TierAdvanced},
			{Tool: "file_generation", Tier: TierAdvanced},
			{Tool: "image_generation", Tier: TierAdvanced},
			// Free.
			{Tool: "think", Tier: TierFree},
		},
	}
}

// WithFallback returns t with FallbackModel set, when it is empty, to the
// table's most expensive model: the one with the highest sum of its four
// rates (ties: the first listed). A table without models is returned as it
// is, for Validate to refuse.
func (t PriceTable) WithFallback() PriceTable {
	if t.FallbackModel != "" || len(t.Models) == 0 {
		return t
	}
	best, bestSum := 0, int64(-1)
	for i, m := range t.Models {
		if sum := m.InputRate + m.OutputRate + m.CacheReadRate + m.CacheWriteRate; sum > bestSum {
			best, bestSum = i, sum
		}
	}
	t.FallbackModel = t.Models[best].Model
	return t
}

// Validate checks a price table: at least one and at most MaxPriceEntries
// models, each named (unique, at most MaxIDLen bytes) with rates in
// 0..MaxRate; a fallback model that the table lists; at most
// MaxPriceEntries tools, each named (unique, at most MaxIDLen bytes) with a
// free, basic or advanced tier. Errors are *InvalidError with fields spelled
// "pricing.models[0].input_rate".
func (t PriceTable) Validate() error {
	_, err := t.index()
	return err
}

// priceIndex is a validated price table with lookups by name.
type priceIndex struct {
	models   map[string]*ModelPrice
	tools    map[string]*ToolPrice
	fallback *ModelPrice
}

// index validates t and indexes it by name.
func (t *PriceTable) index() (*priceIndex, error) {
	switch {
	case len(t.Models) == 0:
		return nil, Invalid("pricing.models", "at least one model is required")
	case len(t.Models) > MaxPriceEntries:
		return nil, Invalid("pricing.models", "at most %d models are allowed, got %d", MaxPriceEntries, len(t.Models))
	case len(t.Tools) > MaxPriceEntries:
		return nil, Invalid("pricing.tools", "at most %d tools are allowed, got %d", MaxPriceEntries, len(t.Tools))
	}
	ix := &priceIndex{
		models: make(map[string]*ModelPrice, len(t.Models)),
		tools:  make(map[string]*ToolPrice, len(t.Tools)),
	}
	for i := range t.Models {
		m := &t.Models[i]
		field := func(name string) string { return fmt.Sprintf("pricing.models[%d].%s", i, name) }
		if why := pricingNameProblem(m.Model); why != "" {
			return nil, Invalid(field("model"), "%s", why)
		}
		if _, dup := ix.models[m.Model]; dup {
			return nil, Invalid(field("model"), "duplicate model %q", m.Model)
		}
		rates := [...]struct {
			name string
			rate int64
		}{
			{"input_rate", m.InputRate},
			{"output_rate", m.OutputRate},
			{"cache_read_rate", m.CacheReadRate},
			{"cache_write_rate", m.CacheWriteRate},
		}
		for _, r := range rates {
			if r.rate < 0 || r.rate > MaxRate {
				return nil, Invalid(field(r.name), "must be between 0 and %d µcredits per million tokens, got %d", MaxRate, r.rate)
			}
		}
		ix.models[m.Model] = m
	}
	ix.fallback = ix.models[t.FallbackModel]
	if ix.fallback == nil {
		return nil, Invalid("pricing.fallback_model", "must name a model of the table, got %q", t.FallbackModel)
	}
	for i := range t.Tools {
		tp := &t.Tools[i]
		field := func(name string) string { return fmt.Sprintf("pricing.tools[%d].%s", i, name) }
		if why := pricingNameProblem(tp.Tool); why != "" {
			return nil, Invalid(field("tool"), "%s", why)
		}
		if _, dup := ix.tools[tp.Tool]; dup {
			return nil, Invalid(field("tool"), "duplicate tool %q", tp.Tool)
		}
		if tp.Tier != TierFree && tp.Tier != TierBasic && tp.Tier != TierAdvanced {
			return nil, Invalid(field("tier"), "must be FREE, BASIC or ADVANCED, got %d", tp.Tier)
		}
		ix.tools[tp.Tool] = tp
	}
	return ix, nil
}

// pricingNameProblem says what is wrong with a required name (empty, or
// longer than MaxIDLen bytes), or returns "".
func pricingNameProblem(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > MaxIDLen:
		return fmt.Sprintf("must be at most %d bytes, got %d", MaxIDLen, len(id))
	}
	return ""
}

// Price prices an agent chain run for origin. It validates the chain first;
// errors are *InvalidError with fields spelled
// "usage.sub_agents[0].models[1].input_tokens" (or "origin"), including a
// chain, or one model line, whose cost exceeds MaxAmount. An invalid table is
// a plain error: tables are validated when they are stored.
//
// An agent's lines of one model are summed and rounded up once (one
// ModelCost per model, in the order each first appears). A model missing from the table is priced at the
// table's FallbackModel and listed once in RunCost.FallbackModels. Price
// does not modify t and is safe for concurrent use on a table that no one
// mutates.
func (t *PriceTable) Price(origin Origin, run AgentRun) (RunCost, error) {
	return priceWith(t, nil, origin, run)
}

// priceWith is Price with t's index, ix, when the caller has it (a
// PriceVersion indexes its table once); nil indexes t.
func priceWith(t *PriceTable, ix *priceIndex, origin Origin, run AgentRun) (RunCost, error) {
	if origin != OriginConversation && origin != OriginSidekick && origin != OriginAutomation {
		return RunCost{}, Invalid("origin", "must be CONVERSATION, SIDEKICK or AUTOMATION, got %d", origin)
	}
	if err := checkChain(&run); err != nil {
		return RunCost{}, err
	}
	if t == nil {
		return RunCost{}, fmt.Errorf("quota: no price table")
	}
	if ix == nil {
		var err error
		if ix, err = t.index(); err != nil {
			return RunCost{}, fmt.Errorf("quota: the price table is invalid: %v", err)
		}
	}
	p := &pricer{ix: ix, origin: origin}
	root, err := p.agent(&run)
	if err != nil {
		return RunCost{}, err
	}
	rc := RunCost{
		Origin:     origin,
		Root:       root,
		TokenCost:  root.TokenCost,
		ActionCost: root.ActionCost,
		TotalCost:  root.TotalCost,
	}
	if len(p.fallbacks) > 0 {
		rc.FallbackModels = make([]string, 0, len(p.fallbacks))
		for m := range p.fallbacks {
			rc.FallbackModels = append(rc.FallbackModels, m)
		}
		slices.Sort(rc.FallbackModels)
	}
	return rc, nil
}

// tierCost returns the credits of one action of tier: free 0, basic 1
// credit, advanced 3 credits.
func tierCost(tier Tier) int64 {
	switch tier {
	case TierBasic:
		return 1 * Credit
	case TierAdvanced:
		return 3 * Credit
	default:
		return 0
	}
}

// pricer prices the nodes of one chain, in order.
type pricer struct {
	ix     *priceIndex
	origin Origin
	// path holds the sub-agent indices from the root to the current node,
	// to name a field in an error.
	path []int
	// total is the chain's cost so far, kept <= MaxAmount so that no sum
	// can overflow.
	total     int64
	fallbacks map[string]struct{}
}

// agent prices one node and, recursively, its sub-agents.
func (p *pricer) agent(run *AgentRun) (AgentCost, error) {
	ac := AgentCost{AgentID: run.AgentID}
	for _, g := range groupModels(run.Models) {
		mc, err := p.model(g)
		if err != nil {
			return AgentCost{}, err
		}
		ac.Models = append(ac.Models, mc)
		ac.OwnTokenCost += mc.Cost
	}
	if len(run.Actions) > 0 {
		ac.Actions = make([]ActionCost, len(run.Actions))
	}
	for i, a := range run.Actions {
		c := p.action(a)
		if err := p.add(c.Cost); err != nil {
			return AgentCost{}, err
		}
		ac.Actions[i] = c
		ac.OwnActionCost += c.Cost
	}
	ac.OwnCost = ac.OwnTokenCost + ac.OwnActionCost
	ac.TokenCost, ac.ActionCost = ac.OwnTokenCost, ac.OwnActionCost
	if len(run.SubAgents) > 0 {
		ac.SubAgents = make([]AgentCost, len(run.SubAgents))
	}
	for i := range run.SubAgents {
		p.path = append(p.path, i)
		sub, err := p.agent(&run.SubAgents[i])
		if err != nil {
			return AgentCost{}, err
		}
		p.path = p.path[:len(p.path)-1]
		ac.SubAgents[i] = sub
		ac.TokenCost += sub.TokenCost
		ac.ActionCost += sub.ActionCost
	}
	ac.TotalCost = ac.TokenCost + ac.ActionCost
	return ac, nil
}

// modelGroup is one agent's usage of one model: its lines' tokens summed
// per kind (each kind stays below MaxItems × MaxTokens, so no sum
// overflows), and the index of its first line, to name it in an error.
type modelGroup struct {
	first  int
	model  string
	tokens [4]int64
}

// groupModels sums an agent's model lines per model, in the order each
// model first appears, so that the tokens of one (agent, model) are priced
// and rounded up once however many lines carry them.
func groupModels(lines []ModelUsage) []modelGroup {
	if len(lines) == 0 {
		return nil
	}
	groups := make([]modelGroup, 0, len(lines))
	for i, mu := range lines {
		j := 0
		for j < len(groups) && groups[j].model != mu.Model {
			j++
		}
		if j == len(groups) {
			groups = append(groups, modelGroup{first: i, model: mu.Model})
		}
		t := &groups[j].tokens
		t[0] += mu.InputTokens
		t[1] += mu.OutputTokens
		t[2] += mu.CacheRead
		t[3] += mu.CacheWrite
	}
	return groups
}

// model prices one model's usage by the current node.
func (p *pricer) model(g modelGroup) (ModelCost, error) {
	mp := p.ix.models[g.model]
	mc := ModelCost{
		Model:  g.model,
		Tokens: g.tokens[0] + g.tokens[1] + g.tokens[2] + g.tokens[3],
	}
	if mp == nil {
		mp = p.ix.fallback
		mc.Fallback = true
		if p.fallbacks == nil {
			p.fallbacks = make(map[string]struct{})
		}
		p.fallbacks[g.model] = struct{}{}
	}
	mc.PricedAs = mp.Model
	if p.origin == OriginSidekick {
		return mc, nil
	}
	cost, ok := tokenCost(g.tokens, [4]int64{mp.InputRate, mp.OutputRate, mp.CacheReadRate, mp.CacheWriteRate})
	if !ok {
		return ModelCost{}, Invalid(fmt.Sprintf("%s.models[%d]", chainPath(p.path), g.first),
			"cost exceeds %d µcredits", MaxAmount)
	}
	if err := p.add(cost); err != nil {
		return ModelCost{}, err
	}
	mc.Cost = cost
	return mc, nil
}

// tokenCost returns ceil(sum(tokens[k] * rates[k]) / 1e6) in 128-bit
// arithmetic, and false if it exceeds MaxAmount. Tokens must be in
// 0..MaxItems×MaxTokens (below 2^54) and rates in 0..MaxRate (below 2^40):
// the sum is then below 2^96.
func tokenCost(tokens, rates [4]int64) (int64, bool) {
	var hi, lo uint64
	for k := range tokens {
		h, l := bits.Mul64(uint64(tokens[k]), uint64(rates[k]))
		var carry uint64
		lo, carry = bits.Add64(lo, l, 0)
		hi += h + carry
	}
	// Round up once: ceil(x / d) = floor((x + d - 1) / d).
	var carry uint64
	lo, carry = bits.Add64(lo, ratePerMillion-1, 0)
	hi += carry
	if hi >= ratePerMillion { // the quotient would not fit in 64 bits
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, ratePerMillion)
	if q > uint64(MaxAmount) {
		return 0, false
	}
	return int64(q), true
}

// action resolves an action's tier and prices it. The tier: an external MCP
// server is advanced; else the catalogue's tier for a tool it lists; else
// advanced, whatever tier the caller sent (flagged Uncatalogued, so that no
// caller can make a tool free by labelling it). The cost is the tier's,
// except that an action that did not run, any action of a Sidekick run and
// a platform tool in a regular conversation cost nothing; Note says why.
func (p *pricer) action(a ToolAction) ActionCost {
	ac := ActionCost{Tool: a.Tool}
	platform := false
	tp := p.ix.tools[a.Tool]
	switch {
	case a.ExternalMCP:
		ac.Tier, ac.Note = TierAdvanced, noteExternalMCP
	case tp != nil:
		ac.Tier, platform = tp.Tier, tp.Platform
	default:
		ac.Tier, ac.Note, ac.Uncatalogued = TierAdvanced, noteUnknownTool, true
	}
	switch {
	case a.NotRun:
		ac.Note = noteNotRun
	case p.origin == OriginSidekick:
		ac.Note = noteSidekick
	case platform && p.origin == OriginConversation:
		ac.Note = notePlatformTool
	default:
		ac.Cost = tierCost(ac.Tier)
	}
	return ac
}

// add adds cost to the chain's total, failing if the total exceeds
// MaxAmount. Every cost added is <= MaxAmount, so the sum cannot overflow.
func (p *pricer) add(cost int64) error {
	p.total += cost
	if p.total > MaxAmount {
		return Invalid("usage", "cost exceeds %d µcredits", MaxAmount)
	}
	return nil
}

// checkChain validates an agent chain before it is priced: ids, token
// counts, tiers, and the bounds on depth, nodes and items. Field paths are
// only formatted for an error, so a valid chain costs no allocation here.
func checkChain(run *AgentRun) error {
	c := &chainChecker{}
	return c.node(run, 1)
}

// chainChecker walks a chain, counting nodes and items.
type chainChecker struct {
	path         []int
	nodes, items int
}

// node checks one node at depth (the root is depth 1) and its sub-agents.
func (c *chainChecker) node(run *AgentRun, depth int) error {
	if depth > MaxDepth {
		return LimitError(LimitDepth)
	}
	if c.nodes++; c.nodes > MaxNodes {
		return LimitError(LimitNodes)
	}
	if c.items += len(run.Models) + len(run.Actions); c.items > MaxItems {
		return LimitError(LimitItems)
	}
	if why := pricingNameProblem(run.AgentID); why != "" {
		return Invalid(chainPath(c.path)+".agent_id", "%s", why)
	}
	for i := range run.Models {
		m := &run.Models[i]
		if why := pricingNameProblem(m.Model); why != "" {
			return Invalid(fmt.Sprintf("%s.models[%d].model", chainPath(c.path), i), "%s", why)
		}
		counts := [...]struct {
			name string
			n    int64
		}{
			{"input_tokens", m.InputTokens},
			{"output_tokens", m.OutputTokens},
			{"cache_read_tokens", m.CacheRead},
			{"cache_write_tokens", m.CacheWrite},
		}
		for _, k := range counts {
			if k.n < 0 || k.n > MaxTokens {
				return Invalid(fmt.Sprintf("%s.models[%d].%s", chainPath(c.path), i, k.name),
					"must be between 0 and %d, got %d", MaxTokens, k.n)
			}
		}
	}
	for i := range run.Actions {
		a := &run.Actions[i]
		if why := pricingNameProblem(a.Tool); why != "" {
			return Invalid(fmt.Sprintf("%s.actions[%d].tool", chainPath(c.path), i), "%s", why)
		}
		if a.Tier < TierUnknown || a.Tier > TierAdvanced {
			return Invalid(fmt.Sprintf("%s.actions[%d].tier", chainPath(c.path), i),
				"must be UNSPECIFIED, FREE, BASIC or ADVANCED, got %d", a.Tier)
		}
	}
	for i := range run.SubAgents {
		c.path = append(c.path, i)
		if err := c.node(&run.SubAgents[i], depth+1); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
	return nil
}

// chainPath names the node at path (sub-agent indices from the root):
// "usage", "usage.sub_agents[2]", "usage.sub_agents[2].sub_agents[0]".
func chainPath(path []int) string {
	s := "usage"
	for _, i := range path {
		s += fmt.Sprintf(".sub_agents[%d]", i)
	}
	return s
}
