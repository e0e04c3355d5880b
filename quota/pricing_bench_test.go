package quota

import (
	"fmt"
	"testing"
)

// BenchmarkCommitPricing prices the run of a Commit (a main agent and a
// sub-agent, a model and a tool each) as Service.Commit does, with the
// version's table indexed once, against Table.Price, which validates and
// indexes the table at every call: with the default table and with one
// of MaxPriceEntries models and tools.
func BenchmarkCommitPricing(b *testing.B) {
	large := DefaultPriceTable()
	for i := len(large.Models); i < MaxPriceEntries; i++ {
		large.Models = append(large.Models, ModelPrice{Model: fmt.Sprintf("model-%04d", i), InputRate: 3_000, OutputRate: 15_000})
	}
	for i := len(large.Tools); i < MaxPriceEntries; i++ {
		large.Tools = append(large.Tools, ToolPrice{Tool: fmt.Sprintf("tool-%04d", i), Tier: TierBasic})
	}
	run := AgentRun{AgentID: "main",
		Models:  []ModelUsage{{Model: "claude-sonnet-4-5", InputTokens: 12_000, OutputTokens: 1_500}},
		Actions: []ToolAction{{Tool: "web_search"}},
		SubAgents: []AgentRun{{AgentID: "researcher",
			Models:  []ModelUsage{{Model: "gpt-5-mini", InputTokens: 30_000, OutputTokens: 2_000}},
			Actions: []ToolAction{{Tool: "data_retrieval"}}}}}
	for _, tc := range []struct {
		name  string
		table PriceTable
	}{{"default", DefaultPriceTable()}, {"1000", large}} {
		if err := tc.table.Validate(); err != nil {
			b.Fatal(err)
		}
		v := PriceVersion{Version: 1, Table: tc.table}
		var c versionCache
		c.put(&v) // indexes it, as the Service does
		b.Run(tc.name+"/version", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.price(OriginConversation, run); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/table", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Table.Price(OriginConversation, run); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
