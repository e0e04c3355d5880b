package quota

// TODO(helper): pricing of an agent chain. Placeholder signatures only.

// DefaultPriceTable is the price table a fresh start uses.
func DefaultPriceTable() PriceTable { return PriceTable{} }

// Validate checks a price table; errors are *InvalidError with fields
// spelled "pricing.models[0].input_rate".
func (t PriceTable) Validate() error { return nil }

// Price prices an agent chain for an origin; errors are *InvalidError with
// fields spelled "usage.sub_agents[0].models[1].input_tokens".
func (t *PriceTable) Price(origin Origin, run AgentRun) (RunCost, error) { return RunCost{}, nil }
