package store

import (
	"encoding/binary"
	"errors"

	"github.com/quota-svc/quota/quota"
)

// The priced usage of a commit is kept with its reservation in a compact
// binary form: a format byte, then uvarints and length-prefixed strings.
// Only what pricing produced is kept; the sums (an agent's own, token,
// action and total credits) are added up again when it is read, exactly
// as quota.PriceTable.Price added them.
//
//	cost    = format(1) origin nfallback {string} agent
//	agent   = id nmodels {model} nactions {action} nsubs {agent}
//	model   = name pricedAs(string, "" when the same) flags(1: fallback) tokens cost
//	action  = tool tier cost note flags(1: uncatalogued)
const costFormat = 1

// errCost is a stored cost this code cannot read.
var errCost = errors.New("store: unreadable stored cost")

// encodeCost encodes the usage tree of c (its Root and what pricing
// returned with it; c.Recorded is not kept).
func encodeCost(c *quota.RunCost) []byte {
	b := make([]byte, 0, 64)
	b = append(b, costFormat)
	b = binary.AppendUvarint(b, uint64(c.Origin))
	b = binary.AppendUvarint(b, uint64(len(c.FallbackModels)))
	for _, m := range c.FallbackModels {
		b = appendString(b, m)
	}
	return appendAgent(b, &c.Root)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAgent(b []byte, a *quota.AgentCost) []byte {
	b = appendString(b, a.AgentID)
	b = binary.AppendUvarint(b, uint64(len(a.Models)))
	for i := range a.Models {
		m := &a.Models[i]
		b = appendString(b, m.Model)
		priced := m.PricedAs
		if priced == m.Model {
			priced = ""
		}
		b = appendString(b, priced)
		var flags uint64
		if m.Fallback {
			flags = 1
		}
		b = binary.AppendUvarint(b, flags)
		b = binary.AppendUvarint(b, uint64(m.Tokens))
		b = binary.AppendUvarint(b, uint64(m.Cost))
	}
	b = binary.AppendUvarint(b, uint64(len(a.Actions)))
	for i := range a.Actions {
		x := &a.Actions[i]
		b = appendString(b, x.Tool)
		b = binary.AppendUvarint(b, uint64(x.Tier))
		b = binary.AppendUvarint(b, uint64(x.Cost))
		b = appendString(b, x.Note)
		var flags uint64
		if x.Uncatalogued {
			flags = 1
		}
		b = binary.AppendUvarint(b, flags)
	}
	b = binary.AppendUvarint(b, uint64(len(a.SubAgents)))
	for i := range a.SubAgents {
		b = appendAgent(b, &a.SubAgents[i])
	}
	return b
}

// costReader reads an encoded cost.
type costReader struct {
	b   []byte
	err error
}

func (r *costReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCost
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items that each take at least one byte, so a
// corrupt count cannot make the reader allocate more than the input.
func (r *costReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCost
		return 0
	}
	return int(n)
}

func (r *costReader) int() int64 { return int64(r.uvarint()) }

func (r *costReader) string() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeCost decodes a stored cost; the sums of each agent are added up
// again and the totals of the run set to its root's.
func decodeCost(raw string) (quota.RunCost, error) {
	if raw == "" || raw[0] != costFormat {
		return quota.RunCost{}, errCost
	}
	r := &costReader{b: []byte(raw[1:])}
	c := quota.RunCost{Origin: quota.Origin(r.uvarint())}
	if n := r.count(); n > 0 {
		c.FallbackModels = make([]string, n)
		for i := range c.FallbackModels {
			c.FallbackModels[i] = r.string()
		}
	}
	c.Root = r.agent(0)
	if r.err != nil {
		return quota.RunCost{}, r.err
	}
	c.TokenCost, c.ActionCost, c.TotalCost = c.Root.TokenCost, c.Root.ActionCost, c.Root.TotalCost
	return c, nil
}

func (r *costReader) agent(depth int) quota.AgentCost {
	if depth > quota.MaxDepth {
		r.err = errCost
		return quota.AgentCost{}
	}
	a := quota.AgentCost{AgentID: r.string()}
	if n := r.count(); n > 0 {
		a.Models = make([]quota.ModelCost, n)
		for i := range a.Models {
			m := &a.Models[i]
			m.Model = r.string()
			if m.PricedAs = r.string(); m.PricedAs == "" {
				m.PricedAs = m.Model
			}
			m.Fallback = r.uvarint()&1 == 1
			m.Tokens, m.Cost = r.int(), r.int()
			a.OwnTokenCost += m.Cost
		}
	}
	if n := r.count(); n > 0 {
		a.Actions = make([]quota.ActionCost, n)
		for i := range a.Actions {
			x := &a.Actions[i]
			x.Tool = r.string()
			x.Tier = quota.Tier(r.uvarint())
			x.Cost = r.int()
			x.Note = r.string()
			x.Uncatalogued = r.uvarint()&1 == 1
			a.OwnActionCost += x.Cost
		}
	}
	a.OwnCost = a.OwnTokenCost + a.OwnActionCost
	a.TokenCost, a.ActionCost = a.OwnTokenCost, a.OwnActionCost
	if n := r.count(); n > 0 {
		a.SubAgents = make([]quota.AgentCost, n)
		for i := range a.SubAgents {
			a.SubAgents[i] = r.agent(depth + 1)
			a.TokenCost += a.SubAgents[i].TokenCost
			a.ActionCost += a.SubAgents[i].ActionCost
		}
	}
	a.TotalCost = a.TokenCost + a.ActionCost
	return a
}
