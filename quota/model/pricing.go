package model

import (
	"math"
	"math/bits"
	"slices"

	"github.com/quota-svc/quota/quota"
)

// Prices is a price table: rates per model (µcredits per million tokens),
// the model that prices a model the table does not list, and the tool
// catalogue.
type Prices struct {
	Models   []Rates
	Fallback string
	Tools    []Tool
}

// Rates are one model's rates per token kind, µcredits per million tokens.
type Rates struct {
	Model                                string
	Input, Output, CacheRead, CacheWrite int64
}

// Tool is a tool of the catalogue: its tier, and whether it is a platform
// tool (free of action credits in a conversation).
type Tool struct {
	Name     string
	Tier     quota.Tier
	Platform bool
}

// Agent is one node of a usage tree.
type Agent struct {
	ID      string
	Models  []Tokens
	Actions []Action
	Subs    []Agent
}

// Tokens are the tokens one agent used on one model (one line; an agent
// may report several lines of a model).
type Tokens struct {
	Model                                string
	Input, Output, CacheRead, CacheWrite int64
}

// Action is one tool action; Tier is what the caller sent (the catalogue
// decides).
type Action struct {
	Tool        string
	Tier        quota.Tier
	ExternalMCP bool
	NotRun      bool
}

// tierCredits is what one action of a tier costs.
func tierCredits(t quota.Tier) int64 {
	switch t {
	case quota.TierBasic:
		return 1 * Credit
	case quota.TierAdvanced:
		return 3 * Credit
	}
	return 0
}

// Price prices a usage tree for origin: the cost of each agent, its own
// and with its sub-agents, and the tree's totals (Recorded left zero).
func (p Prices) Price(origin quota.Origin, run Agent) quota.RunCost {
	fallbacks := map[string]bool{}
	root := p.agent(origin, run, fallbacks)
	c := quota.RunCost{Origin: origin, Root: root,
		TokenCost: root.TokenCost, ActionCost: root.ActionCost, TotalCost: root.TotalCost}
	for name := range fallbacks {
		c.FallbackModels = append(c.FallbackModels, name)
	}
	slices.Sort(c.FallbackModels)
	return c
}

func (p Prices) agent(origin quota.Origin, a Agent, fallbacks map[string]bool) quota.AgentCost {
	c := quota.AgentCost{AgentID: a.ID}
	// One cost per model, in the order each first appears: the agent's
	// lines of a model are summed and rounded up once.
	var sums []Tokens
	for _, t := range a.Models {
		i := slices.IndexFunc(sums, func(s Tokens) bool { return s.Model == t.Model })
		if i < 0 {
			sums = append(sums, Tokens{Model: t.Model})
			i = len(sums) - 1
		}
		s := &sums[i]
		s.Input, s.Output, s.CacheRead, s.CacheWrite = s.Input+t.Input, s.Output+t.Output, s.CacheRead+t.CacheRead, s.CacheWrite+t.CacheWrite
	}
	for _, s := range sums {
		rates, fallback := p.rates(s.Model)
		mc := quota.ModelCost{Model: s.Model, PricedAs: rates.Model, Fallback: fallback,
			Tokens: s.Input + s.Output + s.CacheRead + s.CacheWrite}
		if fallback {
			fallbacks[s.Model] = true
		}
		if origin != quota.OriginSidekick {
			mc.Cost = ceilMillionths(product(s.Input, rates.Input) + product(s.Output, rates.Output) +
				product(s.CacheRead, rates.CacheRead) + product(s.CacheWrite, rates.CacheWrite))
		}
		c.Models = append(c.Models, mc)
		c.OwnTokenCost += mc.Cost
	}
	for _, act := range a.Actions {
		ac := p.action(origin, act)
		c.Actions = append(c.Actions, ac)
		c.OwnActionCost += ac.Cost
	}
	c.OwnCost = c.OwnTokenCost + c.OwnActionCost
	c.TokenCost, c.ActionCost = c.OwnTokenCost, c.OwnActionCost
	for _, sub := range a.Subs {
		sc := p.agent(origin, sub, fallbacks)
		c.SubAgents = append(c.SubAgents, sc)
		c.TokenCost += sc.TokenCost
		c.ActionCost += sc.ActionCost
	}
	c.TotalCost = c.TokenCost + c.ActionCost
	return c
}

// rates returns a model's rates, or the fallback's (fallback true).
func (p Prices) rates(model string) (Rates, bool) {
	for _, r := range p.Models {
		if r.Model == model {
			return r, false
		}
	}
	for _, r := range p.Models {
		if r.Model == p.Fallback {
			return r, true
		}
	}
	panic("model: the price table has no fallback model")
}

// action prices one action: the tier is advanced for an external MCP
// server, else the catalogue's, else advanced (an uncatalogued tool); it
// costs nothing when it did not run, in a Sidekick run, or for a platform
// tool in a conversation. Note says why.
func (p Prices) action(origin quota.Origin, a Action) quota.ActionCost {
	c := quota.ActionCost{Tool: a.Tool}
	i := slices.IndexFunc(p.Tools, func(t Tool) bool { return t.Name == a.Tool })
	platform := false
	switch {
	case a.ExternalMCP:
		c.Tier, c.Note = quota.TierAdvanced, "external MCP"
	case i >= 0:
		c.Tier, platform = p.Tools[i].Tier, p.Tools[i].Platform
	default:
		c.Tier, c.Note, c.Uncatalogued = quota.TierAdvanced, "unknown tool", true
	}
	switch {
	case a.NotRun:
		c.Note = "not run"
	case origin == quota.OriginSidekick:
		c.Note = "sidekick"
	case platform && origin == quota.OriginConversation:
		c.Note = "platform tool in conversation"
	default:
		c.Cost = tierCredits(c.Tier)
	}
	return c
}

// product is tokens × rate, panicking past a quarter of int64's range
// (so that four of them add up without overflow): the model's trees keep
// token counts and rates small.
func product(tokens, rate int64) int64 {
	hi, lo := bits.Mul64(uint64(tokens), uint64(rate))
	if hi != 0 || lo > math.MaxInt64/4 {
		panic("model: a token cost overflows the model's arithmetic")
	}
	return int64(lo)
}

// ceilMillionths is x / 10^6 rounded up (rates are per million tokens).
func ceilMillionths(x int64) int64 { return (x + 999_999) / 1_000_000 }
