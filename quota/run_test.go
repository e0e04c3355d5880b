package quota

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNestCosts(t *testing.T) {
	table := DefaultPriceTable()
	price := func(run AgentRun) RunCost {
		t.Helper()
		c, err := table.Price(OriginConversation, run)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	main := AgentRun{AgentID: "main", Models: []ModelUsage{{Model: "gpt-5", InputTokens: 1234}},
		Actions: []ToolAction{{Tool: "web_search"}}}
	researcher := AgentRun{AgentID: "researcher", Models: []ModelUsage{{Model: "mystery", OutputTokens: 99}}}
	writer := AgentRun{AgentID: "writer", Actions: []ToolAction{{Tool: "file_generation"}},
		SubAgents: []AgentRun{{AgentID: "checker", Models: []ModelUsage{{Model: "gpt-5-mini", InputTokens: 7}}}}}
	for _, tc := range []struct {
		name string
		own  AgentRun
		subs []AgentRun
	}{
		{"no children: unchanged", main, nil},
		{"one child under the main agent", main, []AgentRun{researcher}},
		{"children in order, with their own sub-agents", main, []AgentRun{researcher, writer}},
		{"a main agent that already has sub-agents", writer, []AgentRun{researcher}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Nesting priced runs equals pricing the run with the children's
			// usage nested: pricing is per agent and model, so it adds up.
			whole := tc.own
			whole.SubAgents = append(append([]AgentRun(nil), tc.own.SubAgents...), tc.subs...)
			subs := make([]RunCost, 0, len(tc.subs))
			for _, s := range tc.subs {
				subs = append(subs, price(s))
			}
			if diff := cmp.Diff(price(whole), NestCosts(price(tc.own), subs)); diff != "" {
				t.Errorf("NestCosts (-priced whole +nested):\n%s", diff)
			}
		})
	}
}
