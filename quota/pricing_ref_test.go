package quota

import (
	"fmt"
	"math/big"
	"slices"
)

// refPrice is Price's specification, written from DESIGN section 1 and
// the limits in units.go without Price's shortcuts: every sum in big.Int,
// no early bound on a sum, each rule spelled out once. FuzzPrice checks
// that Price returns what refPrice says, to the µcredit and the field.
//
// The precedence of errors: origin; then the chain in preorder (at each
// node its depth, the node count, the item count, agent_id, each model
// line's name and four counts, each action's tool and tier, then its
// sub-agents); then the table (a plain error); then the cost, in the
// order Price adds it: a node's model groups, then its actions, then its
// sub-agents.

// refWant is what Price must return: cost, or an error.
type refWant struct {
	cost RunCost
	err  *refErr
}

// refErr is an expected error: a *Error on field (a LIMIT_EXCEEDED one
// when limit names a limit), or, for an invalid table, a plain error.
type refErr struct {
	field, limit string
	plain        bool
}

func (e *refErr) String() string {
	if e == nil {
		return "no error"
	}
	if e.plain {
		return "a plain error (invalid table)"
	}
	return fmt.Sprintf("an error on %q (limit %q)", e.field, e.limit)
}

// refPrice returns what Price(origin, run) on t must return.
func refPrice(t PriceTable, origin Origin, run AgentRun) refWant {
	if origin != OriginConversation && origin != OriginSidekick && origin != OriginAutomation {
		return refWant{err: &refErr{field: "origin"}}
	}
	c := refChecker{}
	if e := c.node(&run, 1, "usage"); e != nil {
		return refWant{err: e}
	}
	if !refTableValid(t) {
		return refWant{err: &refErr{plain: true}}
	}
	p := refPricer{t: t, origin: origin, total: new(big.Int)}
	root := p.agent(&run, "usage")
	if p.err != nil {
		return refWant{err: p.err}
	}
	rc := RunCost{Origin: origin, Root: root, TokenCost: root.TokenCost, ActionCost: root.ActionCost, TotalCost: root.TotalCost}
	for m := range p.fallbacks {
		rc.FallbackModels = append(rc.FallbackModels, m)
	}
	slices.Sort(rc.FallbackModels)
	return refWant{cost: rc}
}

// refNameOK tells whether a required name is valid: 1 to MaxIDLen bytes.
func refNameOK(s string) bool { return len(s) >= 1 && len(s) <= MaxIDLen }

// refTableValid tells whether t is a valid price table.
func refTableValid(t PriceTable) bool {
	if len(t.Models) < 1 || len(t.Models) > MaxPriceEntries || len(t.Tools) > MaxPriceEntries {
		return false
	}
	models := map[string]bool{}
	for _, m := range t.Models {
		if !refNameOK(m.Model) || models[m.Model] {
			return false
		}
		models[m.Model] = true
		for _, r := range []int64{m.InputRate, m.OutputRate, m.CacheReadRate, m.CacheWriteRate} {
			if r < 0 || r > MaxRate {
				return false
			}
		}
	}
	if !models[t.FallbackModel] {
		return false
	}
	tools := map[string]bool{}
	for _, tp := range t.Tools {
		if !refNameOK(tp.Tool) || tools[tp.Tool] || !slices.Contains([]Tier{TierFree, TierBasic, TierAdvanced}, tp.Tier) {
			return false
		}
		tools[tp.Tool] = true
	}
	return true
}

// refFallback is the model WithFallback must choose for t (all rates
// valid): the highest sum of the four rates, the first listed on a tie.
func refFallback(t PriceTable) string {
	best, bestSum := "", big.NewInt(-1)
	for _, m := range t.Models {
		sum := new(big.Int)
		for _, r := range []int64{m.InputRate, m.OutputRate, m.CacheReadRate, m.CacheWriteRate} {
			sum.Add(sum, big.NewInt(r))
		}
		if sum.Cmp(bestSum) > 0 {
			best, bestSum = m.Model, sum
		}
	}
	return best
}

// refChecker validates a chain in preorder.
type refChecker struct{ nodes, items int }

func (c *refChecker) node(run *AgentRun, depth int, path string) *refErr {
	switch {
	case depth > MaxDepth:
		return &refErr{field: "usage", limit: LimitDepth.Name}
	case c.nodes+1 > MaxNodes:
		return &refErr{field: "usage", limit: LimitNodes.Name}
	case c.items+len(run.Models)+len(run.Actions) > MaxItems:
		return &refErr{field: "usage", limit: LimitItems.Name}
	case !refNameOK(run.AgentID):
		return &refErr{field: path + ".agent_id"}
	}
	c.nodes++
	c.items += len(run.Models) + len(run.Actions)
	for i, m := range run.Models {
		if !refNameOK(m.Model) {
			return &refErr{field: fmt.Sprintf("%s.models[%d].model", path, i)}
		}
		kinds := []string{"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"}
		for k, n := range []int64{m.InputTokens, m.OutputTokens, m.CacheRead, m.CacheWrite} {
			if n < 0 || n > MaxTokens {
				return &refErr{field: fmt.Sprintf("%s.models[%d].%s", path, i, kinds[k])}
			}
		}
	}
	for i, a := range run.Actions {
		if !refNameOK(a.Tool) {
			return &refErr{field: fmt.Sprintf("%s.actions[%d].tool", path, i)}
		}
		if !slices.Contains([]Tier{TierUnknown, TierFree, TierBasic, TierAdvanced}, a.Tier) {
			return &refErr{field: fmt.Sprintf("%s.actions[%d].tier", path, i)}
		}
	}
	for i := range run.SubAgents {
		if e := c.node(&run.SubAgents[i], depth+1, fmt.Sprintf("%s.sub_agents[%d]", path, i)); e != nil {
			return e
		}
	}
	return nil
}

// refPricer prices a valid chain in big.Int, keeping the first error.
type refPricer struct {
	t         PriceTable
	origin    Origin
	total     *big.Int
	fallbacks map[string]bool
	err       *refErr
}

var (
	bigMillion   = big.NewInt(1_000_000)
	bigMaxAmount = big.NewInt(MaxAmount)
)

// add adds cost to the chain's total and says whether it still fits.
func (p *refPricer) add(cost *big.Int) bool {
	p.total.Add(p.total, cost)
	if p.total.Cmp(bigMaxAmount) > 0 {
		p.err = &refErr{field: "usage"}
		return false
	}
	return true
}

// agent prices one node and its sub-agents; on an error it sets p.err.
func (p *refPricer) agent(run *AgentRun, path string) AgentCost {
	ac := AgentCost{AgentID: run.AgentID}
	// Group the lines by model, in the order each first appears.
	type group struct {
		first  int
		tokens [4]*big.Int
	}
	var order []string
	groups := map[string]*group{}
	for i, m := range run.Models {
		g := groups[m.Model]
		if g == nil {
			g = &group{first: i, tokens: [4]*big.Int{new(big.Int), new(big.Int), new(big.Int), new(big.Int)}}
			groups[m.Model] = g
			order = append(order, m.Model)
		}
		for k, n := range []int64{m.InputTokens, m.OutputTokens, m.CacheRead, m.CacheWrite} {
			g.tokens[k].Add(g.tokens[k], big.NewInt(n))
		}
	}
	for _, name := range order {
		g := groups[name]
		mp, known := p.price(name)
		if !known {
			mp, _ = p.price(p.t.FallbackModel)
			if p.fallbacks == nil {
				p.fallbacks = map[string]bool{}
			}
			p.fallbacks[name] = true
		}
		tokens := new(big.Int)
		for _, n := range g.tokens {
			tokens.Add(tokens, n)
		}
		mc := ModelCost{Model: name, PricedAs: mp.Model, Fallback: !known, Tokens: tokens.Int64()}
		if p.origin != OriginSidekick {
			// sum(tokens × rate) / 10^6, rounded up once.
			sum := new(big.Int)
			for k, r := range []int64{mp.InputRate, mp.OutputRate, mp.CacheReadRate, mp.CacheWriteRate} {
				sum.Add(sum, new(big.Int).Mul(g.tokens[k], big.NewInt(r)))
			}
			cost, rem := new(big.Int).QuoRem(sum, bigMillion, new(big.Int))
			if rem.Sign() > 0 {
				cost.Add(cost, big.NewInt(1))
			}
			if cost.Cmp(bigMaxAmount) > 0 {
				p.err = &refErr{field: fmt.Sprintf("%s.models[%d]", path, g.first)}
				return ac
			}
			if !p.add(cost) {
				return ac
			}
			mc.Cost = cost.Int64()
		}
		ac.Models = append(ac.Models, mc)
		ac.OwnTokenCost += mc.Cost
	}
	for _, a := range run.Actions {
		c := p.action(a)
		if !p.add(big.NewInt(c.Cost)) {
			return ac
		}
		ac.Actions = append(ac.Actions, c)
		ac.OwnActionCost += c.Cost
	}
	ac.OwnCost = ac.OwnTokenCost + ac.OwnActionCost
	ac.TokenCost, ac.ActionCost = ac.OwnTokenCost, ac.OwnActionCost
	for i := range run.SubAgents {
		sub := p.agent(&run.SubAgents[i], fmt.Sprintf("%s.sub_agents[%d]", path, i))
		if p.err != nil {
			return ac
		}
		ac.SubAgents = append(ac.SubAgents, sub)
		ac.TokenCost += sub.TokenCost
		ac.ActionCost += sub.ActionCost
	}
	ac.TotalCost = ac.TokenCost + ac.ActionCost
	return ac
}

// price finds a model of the table.
func (p *refPricer) price(model string) (ModelPrice, bool) {
	i := slices.IndexFunc(p.t.Models, func(m ModelPrice) bool { return m.Model == model })
	if i < 0 {
		return ModelPrice{}, false
	}
	return p.t.Models[i], true
}

// action prices one action by the credit rules: an external MCP server
// is advanced; a catalogued tool has the catalogue's tier; any other is
// advanced whatever tier the caller sent. An action that did not run, any
// action of a Sidekick run and a platform tool in a conversation cost
// nothing; otherwise free 0, basic 1 credit, advanced 3 credits.
func (p *refPricer) action(a ToolAction) ActionCost {
	ac := ActionCost{Tool: a.Tool}
	i := slices.IndexFunc(p.t.Tools, func(tp ToolPrice) bool { return tp.Tool == a.Tool })
	platform := false
	switch {
	case a.ExternalMCP:
		ac.Tier, ac.Note = TierAdvanced, "external MCP"
	case i >= 0:
		ac.Tier, platform = p.t.Tools[i].Tier, p.t.Tools[i].Platform
	default:
		ac.Tier, ac.Note, ac.Uncatalogued = TierAdvanced, "unknown tool", true
	}
	switch {
	case a.NotRun:
		ac.Note = "not run"
	case p.origin == OriginSidekick:
		ac.Note = "sidekick"
	case platform && p.origin == OriginConversation:
		ac.Note = "platform tool in conversation"
	default:
		ac.Cost = map[Tier]int64{TierFree: 0, TierBasic: 1_000_000, TierAdvanced: 3_000_000}[ac.Tier]
	}
	return ac
}

// refTokenCost is ceil(sum(tokens[k] × rates[k]) / 10^6) and whether it
// is at most MaxAmount, in big.Int.
func refTokenCost(tokens, rates [4]int64) (int64, bool) {
	sum := new(big.Int)
	for k := range tokens {
		sum.Add(sum, new(big.Int).Mul(big.NewInt(tokens[k]), big.NewInt(rates[k])))
	}
	q, r := new(big.Int).QuoRem(sum, bigMillion, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if q.Cmp(bigMaxAmount) > 0 {
		return 0, false
	}
	return q.Int64(), true
}

// clampTo maps any v into 0..hi, so that a fuzzed number lands in a
// function's domain; the edges map to themselves.
func clampTo(v, hi int64) int64 {
	if v >= 0 && v <= hi {
		return v
	}
	u := uint64(v) % uint64(hi+1)
	return int64(u)
}
