package quota

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testTable is a small table with round rates: "small" costs 1 µcredit per
// input token, "big" (the fallback) 10.
func testTable() PriceTable {
	return PriceTable{
		Models: []ModelPrice{
			{Model: "unit", InputRate: 1, OutputRate: 1, CacheReadRate: 1, CacheWriteRate: 1},
			{Model: "fifths", InputRate: 400_000, OutputRate: 400_000, CacheReadRate: 400_000, CacheWriteRate: 400_000},
			{Model: "small", InputRate: 1_000_000, OutputRate: 2_000_000, CacheReadRate: 100_000, CacheWriteRate: 1_500_000},
			{Model: "big", InputRate: 10_000_000, OutputRate: 50_000_000, CacheReadRate: 1_000_000, CacheWriteRate: 12_500_000},
			{Model: "max", InputRate: MaxRate, OutputRate: MaxRate, CacheReadRate: MaxRate, CacheWriteRate: MaxRate},
		},
		FallbackModel: "big",
		Tools: []ToolPrice{
			{Tool: "memory", Tier: TierBasic, Platform: true},
			{Tool: "web_search", Tier: TierBasic},
			{Tool: "warehouse", Tier: TierAdvanced},
			{Tool: "think", Tier: TierFree},
		},
	}
}

// mustPrice prices run and fails the test on an error.
func mustPrice(t *testing.T, table PriceTable, origin Origin, run AgentRun) RunCost {
	t.Helper()
	rc, err := table.Price(origin, run)
	if err != nil {
		t.Fatalf("Price: %v", err)
	}
	return rc
}

// wantInvalid checks that err is an invalid-argument *Error on field.
func wantInvalid(t *testing.T, err error, field string) *Error {
	t.Helper()
	var ie *Error
	if !errors.As(err, &ie) || ie.Kind() != KindInvalid {
		t.Fatalf("error = %v (%T), want an invalid-argument *Error on %q", err, err, field)
	}
	if ie.Field != field {
		t.Fatalf("error field = %q (%v), want %q", ie.Field, err, field)
	}
	return ie
}

func TestPriceTokenRounding(t *testing.T) {
	tests := []struct {
		name   string
		models []ModelUsage
		want   []ModelCost
	}{
		{"one token at rate 1 rounds up to 1 µcredit",
			[]ModelUsage{{Model: "unit", InputTokens: 1}},
			[]ModelCost{{Model: "unit", PricedAs: "unit", Tokens: 1, Cost: 1}}},
		{"zero tokens cost nothing",
			[]ModelUsage{{Model: "small"}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 0, Cost: 0}}},
		{"rounds up once per line, not per kind",
			[]ModelUsage{{Model: "fifths", InputTokens: 1, OutputTokens: 1, CacheRead: 1}},
			[]ModelCost{{Model: "fifths", PricedAs: "fifths", Tokens: 3, Cost: 2}}}, // ceil(1.2), not 3
		{"four kinds summed before rounding",
			[]ModelUsage{{Model: "fifths", InputTokens: 1, OutputTokens: 1, CacheRead: 1, CacheWrite: 2}},
			[]ModelCost{{Model: "fifths", PricedAs: "fifths", Tokens: 5, Cost: 2}}}, // exactly 2.0
		{"exact multiple of a million is not rounded",
			[]ModelUsage{{Model: "unit", InputTokens: 1_000_000}},
			[]ModelCost{{Model: "unit", PricedAs: "unit", Tokens: 1_000_000, Cost: 1}}},
		{"one token over a multiple rounds up",
			[]ModelUsage{{Model: "unit", InputTokens: 1_000_001}},
			[]ModelCost{{Model: "unit", PricedAs: "unit", Tokens: 1_000_001, Cost: 2}}},
		{"whole µcredits are exact",
			[]ModelUsage{{Model: "small", InputTokens: 5}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 5, Cost: 5}}},
		{"input rate",
			[]ModelUsage{{Model: "small", InputTokens: 1_000_000}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 1_000_000, Cost: 1_000_000}}},
		{"output rate",
			[]ModelUsage{{Model: "small", OutputTokens: 1_000_000}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 1_000_000, Cost: 2_000_000}}},
		{"cache read rate",
			[]ModelUsage{{Model: "small", CacheRead: 1_000_000}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 1_000_000, Cost: 100_000}}},
		{"cache write rate",
			[]ModelUsage{{Model: "small", CacheWrite: 1_000_000}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 1_000_000, Cost: 1_500_000}}},
		{"cache read of 15 tokens at 0.1 µcredit rounds up to 2",
			[]ModelUsage{{Model: "small", CacheRead: 15}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 15, Cost: 2}}},
		{"same model on two lines is summed and rounded once per (agent, model)",
			[]ModelUsage{{Model: "unit", InputTokens: 1}, {Model: "unit", InputTokens: 1}},
			[]ModelCost{{Model: "unit", PricedAs: "unit", Tokens: 2, Cost: 1}}},
		{"a model's lines are summed in the order the model first appears",
			[]ModelUsage{{Model: "fifths", InputTokens: 1}, {Model: "small", InputTokens: 1}, {Model: "fifths", OutputTokens: 1}},
			[]ModelCost{{Model: "fifths", PricedAs: "fifths", Tokens: 2, Cost: 1}, {Model: "small", PricedAs: "small", Tokens: 1, Cost: 1}}},
		{"several models in one agent",
			[]ModelUsage{{Model: "small", InputTokens: 10}, {Model: "big", InputTokens: 10}},
			[]ModelCost{{Model: "small", PricedAs: "small", Tokens: 10, Cost: 10}, {Model: "big", PricedAs: "big", Tokens: 10, Cost: 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := mustPrice(t, testTable(), OriginConversation, AgentRun{AgentID: "a", Models: tt.models})
			if diff := cmp.Diff(tt.want, rc.Root.Models); diff != "" {
				t.Errorf("models mismatch (-want +got):\n%s", diff)
			}
			var sum int64
			for _, m := range tt.want {
				sum += m.Cost
			}
			got := [4]int64{rc.Root.OwnTokenCost, rc.Root.TokenCost, rc.TokenCost, rc.TotalCost}
			if diff := cmp.Diff([4]int64{sum, sum, sum, sum}, got); diff != "" {
				t.Errorf("token totals mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPriceRulesOfTheCreditRules checks the three pricing rules the issue
// found broken, with the issue's own numbers.
func TestPriceRulesOfTheCreditRules(t *testing.T) {
	table := PriceTable{
		Models: []ModelPrice{
			{Model: "model-c", InputRate: 1_500_000, OutputRate: 2_500_000},
			{Model: "model-x", InputRate: 9_000_000},
		},
		FallbackModel: "model-c",
	}
	t.Run("token credits are rounded up once per (agent, model) across lines", func(t *testing.T) {
		rc := mustPrice(t, table, OriginConversation, AgentRun{AgentID: "a", Models: []ModelUsage{
			{Model: "model-c", InputTokens: 1}, {Model: "model-c", OutputTokens: 1},
		}})
		if rc.TotalCost != 4 {
			t.Errorf("1 input and 1 output token on two lines cost %d µcredits, want 4", rc.TotalCost)
		}
	})
	t.Run("an uncatalogued tool is advanced whatever tier the caller sends", func(t *testing.T) {
		for _, tier := range []Tier{TierUnknown, TierFree, TierBasic, TierAdvanced} {
			rc := mustPrice(t, table, OriginConversation, AgentRun{AgentID: "a", Actions: []ToolAction{{Tool: "made-up", Tier: tier}}})
			if a := rc.Root.Actions[0]; a.Cost != 3*Credit || a.Tier != TierAdvanced || !a.Uncatalogued {
				t.Errorf("tier %d: %+v, want advanced at 3 credits, flagged uncatalogued", tier, a)
			}
		}
	})
	t.Run("a table without a fallback model falls back to its most expensive one", func(t *testing.T) {
		noFallback := table
		noFallback.FallbackModel = ""
		got := noFallback.WithFallback()
		if got.FallbackModel != "model-x" {
			t.Errorf("fallback = %q, want model-x (the highest sum of rates)", got.FallbackModel)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("Validate: %v", err)
		}
		if err := noFallback.Validate(); err == nil {
			t.Error("a table with no fallback at all validated")
		}
	})
}

func TestPriceDefaultRates(t *testing.T) {
	table := DefaultPriceTable()
	for _, m := range table.Models {
		t.Run(m.Model, func(t *testing.T) {
			for _, k := range []struct {
				usage ModelUsage
				rate  int64
			}{
				{ModelUsage{Model: m.Model, InputTokens: 1_000_000}, m.InputRate},
				{ModelUsage{Model: m.Model, OutputTokens: 1_000_000}, m.OutputRate},
				{ModelUsage{Model: m.Model, CacheRead: 1_000_000}, m.CacheReadRate},
				{ModelUsage{Model: m.Model, CacheWrite: 1_000_000}, m.CacheWriteRate},
			} {
				rc := mustPrice(t, table, OriginConversation, AgentRun{AgentID: "a", Models: []ModelUsage{k.usage}})
				want := []ModelCost{{Model: m.Model, PricedAs: m.Model, Tokens: 1_000_000, Cost: k.rate}}
				if diff := cmp.Diff(want, rc.Root.Models); diff != "" {
					t.Errorf("a million tokens of one kind (-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("a million input tokens on claude-sonnet-4-5 cost 300 credits", func(t *testing.T) {
		rc := mustPrice(t, table, OriginConversation, AgentRun{AgentID: "a", Models: []ModelUsage{
			{Model: "claude-sonnet-4-5", InputTokens: 1_000_000},
		}})
		if diff := cmp.Diff(300*Credit, rc.TotalCost); diff != "" {
			t.Errorf("total mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestPriceUnknownModelChargedAtFallback(t *testing.T) {
	run := AgentRun{
		AgentID: "main",
		Models: []ModelUsage{
			{Model: "mystery", InputTokens: 10},
			{Model: "small", InputTokens: 10},
		},
		SubAgents: []AgentRun{{
			AgentID: "sub",
			Models: []ModelUsage{
				{Model: "mystery", OutputTokens: 1},
				{Model: "another", CacheWrite: 1},
			},
		}},
	}
	rc := mustPrice(t, testTable(), OriginAutomation, run)
	want := RunCost{
		Origin: OriginAutomation,
		Root: AgentCost{
			AgentID: "main",
			Models: []ModelCost{
				{Model: "mystery", PricedAs: "big", Fallback: true, Tokens: 10, Cost: 100},
				{Model: "small", PricedAs: "small", Tokens: 10, Cost: 10},
			},
			OwnTokenCost: 110, OwnCost: 110,
			TokenCost: 110 + 50 + 13, TotalCost: 110 + 50 + 13,
			SubAgents: []AgentCost{{
				AgentID: "sub",
				Models: []ModelCost{
					{Model: "mystery", PricedAs: "big", Fallback: true, Tokens: 1, Cost: 50},
					{Model: "another", PricedAs: "big", Fallback: true, Tokens: 1, Cost: 13}, // ceil(12.5)
				},
				OwnTokenCost: 63, OwnCost: 63, TokenCost: 63, TotalCost: 63,
			}},
		},
		TokenCost:      173,
		TotalCost:      173,
		FallbackModels: []string{"another", "mystery"},
	}
	if diff := cmp.Diff(want, rc); diff != "" {
		t.Errorf("RunCost mismatch (-want +got):\n%s", diff)
	}
}

func TestPriceNoFallbackModelsListedWhenAllKnown(t *testing.T) {
	rc := mustPrice(t, testTable(), OriginConversation, AgentRun{AgentID: "a", Models: []ModelUsage{{Model: "small", InputTokens: 1}}})
	if rc.FallbackModels != nil {
		t.Errorf("FallbackModels = %q, want nil", rc.FallbackModels)
	}
}

func TestPriceActions(t *testing.T) {
	tests := []struct {
		name   string
		origin Origin
		action ToolAction
		want   ActionCost
	}{
		{"free tier costs nothing", OriginConversation,
			ToolAction{Tool: "think"}, ActionCost{Tool: "think", Tier: TierFree}},
		{"basic tier costs 1 credit", OriginConversation,
			ToolAction{Tool: "web_search"}, ActionCost{Tool: "web_search", Tier: TierBasic, Cost: 1 * Credit}},
		{"advanced tier costs 3 credits", OriginConversation,
			ToolAction{Tool: "warehouse"}, ActionCost{Tool: "warehouse", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"unknown tool without a tier is advanced", OriginConversation,
			ToolAction{Tool: "custom"}, ActionCost{Tool: "custom", Tier: TierAdvanced, Cost: 3 * Credit, Note: "unknown tool", Uncatalogued: true}},
		{"caller basic tier ignored for an uncatalogued tool", OriginConversation,
			ToolAction{Tool: "custom", Tier: TierBasic}, ActionCost{Tool: "custom", Tier: TierAdvanced, Cost: 3 * Credit, Note: "unknown tool", Uncatalogued: true}},
		{"caller free tier cannot make an uncatalogued tool free", OriginAutomation,
			ToolAction{Tool: "custom", Tier: TierFree}, ActionCost{Tool: "custom", Tier: TierAdvanced, Cost: 3 * Credit, Note: "unknown tool", Uncatalogued: true}},
		{"catalogue wins over a higher caller tier", OriginConversation,
			ToolAction{Tool: "web_search", Tier: TierAdvanced}, ActionCost{Tool: "web_search", Tier: TierBasic, Cost: 1 * Credit}},
		{"catalogue wins over a lower caller tier", OriginConversation,
			ToolAction{Tool: "warehouse", Tier: TierFree}, ActionCost{Tool: "warehouse", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"external MCP is advanced", OriginConversation,
			ToolAction{Tool: "mcp_tool", ExternalMCP: true}, ActionCost{Tool: "mcp_tool", Tier: TierAdvanced, Cost: 3 * Credit, Note: "external MCP"}},
		{"external MCP is advanced whatever the caller tier", OriginConversation,
			ToolAction{Tool: "mcp_tool", Tier: TierFree, ExternalMCP: true}, ActionCost{Tool: "mcp_tool", Tier: TierAdvanced, Cost: 3 * Credit, Note: "external MCP"}},
		{"external MCP is advanced even if the catalogue lists the name", OriginConversation,
			ToolAction{Tool: "web_search", ExternalMCP: true}, ActionCost{Tool: "web_search", Tier: TierAdvanced, Cost: 3 * Credit, Note: "external MCP"}},
		{"external MCP named like a platform tool is charged in conversation", OriginConversation,
			ToolAction{Tool: "memory", ExternalMCP: true}, ActionCost{Tool: "memory", Tier: TierAdvanced, Cost: 3 * Credit, Note: "external MCP"}},
		{"not-run action is free", OriginConversation,
			ToolAction{Tool: "warehouse", NotRun: true}, ActionCost{Tool: "warehouse", Tier: TierAdvanced, Note: "not run"}},
		{"not-run unknown tool is free", OriginAutomation,
			ToolAction{Tool: "custom", NotRun: true}, ActionCost{Tool: "custom", Tier: TierAdvanced, Note: "not run", Uncatalogued: true}},
		{"sidekick action is free but keeps its tier", OriginSidekick,
			ToolAction{Tool: "warehouse"}, ActionCost{Tool: "warehouse", Tier: TierAdvanced, Note: "sidekick"}},
		{"sidekick external MCP is free", OriginSidekick,
			ToolAction{Tool: "mcp_tool", ExternalMCP: true}, ActionCost{Tool: "mcp_tool", Tier: TierAdvanced, Note: "sidekick"}},
		{"platform tool is free in a conversation", OriginConversation,
			ToolAction{Tool: "memory"}, ActionCost{Tool: "memory", Tier: TierBasic, Note: "platform tool in conversation"}},
		{"platform tool is basic in an automation", OriginAutomation,
			ToolAction{Tool: "memory"}, ActionCost{Tool: "memory", Tier: TierBasic, Cost: 1 * Credit}},
		{"platform tool is free in sidekick", OriginSidekick,
			ToolAction{Tool: "memory"}, ActionCost{Tool: "memory", Tier: TierBasic, Note: "sidekick"}},
		{"non-platform basic tool is charged in a conversation", OriginConversation,
			ToolAction{Tool: "web_search"}, ActionCost{Tool: "web_search", Tier: TierBasic, Cost: 1 * Credit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := mustPrice(t, testTable(), tt.origin, AgentRun{AgentID: "a", Actions: []ToolAction{tt.action}})
			if diff := cmp.Diff([]ActionCost{tt.want}, rc.Root.Actions); diff != "" {
				t.Errorf("actions mismatch (-want +got):\n%s", diff)
			}
			got := [4]int64{rc.Root.OwnActionCost, rc.ActionCost, rc.TotalCost, rc.TokenCost}
			if diff := cmp.Diff([4]int64{tt.want.Cost, tt.want.Cost, tt.want.Cost, 0}, got); diff != "" {
				t.Errorf("action totals mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriceDefaultCatalogueTiers(t *testing.T) {
	tests := []struct {
		tool   string
		origin Origin
		want   ActionCost
	}{
		{"agent_router", OriginConversation, ActionCost{Tool: "agent_router", Tier: TierBasic, Note: "platform tool in conversation"}},
		{"run_agent", OriginConversation, ActionCost{Tool: "run_agent", Tier: TierBasic, Note: "platform tool in conversation"}},
		{"memory", OriginConversation, ActionCost{Tool: "memory", Tier: TierBasic, Note: "platform tool in conversation"}},
		{"common_utilities", OriginConversation, ActionCost{Tool: "common_utilities", Tier: TierBasic, Note: "platform tool in conversation"}},
		{"agent_router", OriginAutomation, ActionCost{Tool: "agent_router", Tier: TierBasic, Cost: Credit}},
		{"common_utilities", OriginAutomation, ActionCost{Tool: "common_utilities", Tier: TierBasic, Cost: Credit}},
		{"web_search", OriginConversation, ActionCost{Tool: "web_search", Tier: TierBasic, Cost: Credit}},
		{"web_browse", OriginConversation, ActionCost{Tool: "web_browse", Tier: TierBasic, Cost: Credit}},
		{"data_retrieval", OriginConversation, ActionCost{Tool: "data_retrieval", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"data_warehouse", OriginConversation, ActionCost{Tool: "data_warehouse", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"notion_connector", OriginConversation, ActionCost{Tool: "notion_connector", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"slack_connector", OriginConversation, ActionCost{Tool: "slack_connector", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"file_generation", OriginConversation, ActionCost{Tool: "file_generation", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"image_generation", OriginConversation, ActionCost{Tool: "image_generation", Tier: TierAdvanced, Cost: 3 * Credit}},
		{"think", OriginConversation, ActionCost{Tool: "think", Tier: TierFree}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s origin %d", tt.tool, tt.origin), func(t *testing.T) {
			rc := mustPrice(t, DefaultPriceTable(), tt.origin, AgentRun{AgentID: "a", Actions: []ToolAction{{Tool: tt.tool}}})
			if diff := cmp.Diff([]ActionCost{tt.want}, rc.Root.Actions); diff != "" {
				t.Errorf("actions mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriceSidekickIsFreeButItemised(t *testing.T) {
	run := AgentRun{
		AgentID: "sidekick",
		Models:  []ModelUsage{{Model: "big", InputTokens: 1000, OutputTokens: 100}, {Model: "mystery", InputTokens: 5}},
		Actions: []ToolAction{{Tool: "web_search"}, {Tool: "memory"}, {Tool: "x", ExternalMCP: true}},
		SubAgents: []AgentRun{{
			AgentID: "helper",
			Models:  []ModelUsage{{Model: "small", InputTokens: 7}},
			Actions: []ToolAction{{Tool: "warehouse"}},
		}},
	}
	rc := mustPrice(t, testTable(), OriginSidekick, run)
	want := RunCost{
		Origin: OriginSidekick,
		Root: AgentCost{
			AgentID: "sidekick",
			Models: []ModelCost{
				{Model: "big", PricedAs: "big", Tokens: 1100},
				{Model: "mystery", PricedAs: "big", Fallback: true, Tokens: 5},
			},
			Actions: []ActionCost{
				{Tool: "web_search", Tier: TierBasic, Note: "sidekick"},
				{Tool: "memory", Tier: TierBasic, Note: "sidekick"},
				{Tool: "x", Tier: TierAdvanced, Note: "sidekick"},
			},
			SubAgents: []AgentCost{{
				AgentID: "helper",
				Models:  []ModelCost{{Model: "small", PricedAs: "small", Tokens: 7}},
				Actions: []ActionCost{{Tool: "warehouse", Tier: TierAdvanced, Note: "sidekick"}},
			}},
		},
		FallbackModels: []string{"mystery"},
	}
	if diff := cmp.Diff(want, rc); diff != "" {
		t.Errorf("RunCost mismatch (-want +got):\n%s", diff)
	}
}

func TestPricePlatformToolsFreeInConversationTokensStillCharged(t *testing.T) {
	run := AgentRun{
		AgentID: "router",
		Models:  []ModelUsage{{Model: "small", InputTokens: 250}},
		Actions: []ToolAction{{Tool: "memory"}, {Tool: "memory"}},
	}
	tests := []struct {
		name   string
		origin Origin
		want   [3]int64 // token, action, total
	}{
		{"conversation charges tokens only", OriginConversation, [3]int64{250, 0, 250}},
		{"automation charges platform tools as basic", OriginAutomation, [3]int64{250, 2 * Credit, 2*Credit + 250}},
		{"sidekick charges nothing", OriginSidekick, [3]int64{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := mustPrice(t, testTable(), tt.origin, run)
			if diff := cmp.Diff(tt.want, [3]int64{rc.TokenCost, rc.ActionCost, rc.TotalCost}); diff != "" {
				t.Errorf("totals mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriceNestedSubAgentsOwnVersusSubtree(t *testing.T) {
	run := AgentRun{
		AgentID: "main",
		Models:  []ModelUsage{{Model: "small", InputTokens: 1000}},
		Actions: []ToolAction{{Tool: "web_search"}, {Tool: "memory"}},
		SubAgents: []AgentRun{
			{
				AgentID: "researcher",
				Models:  []ModelUsage{{Model: "small", OutputTokens: 500}},
				Actions: []ToolAction{{Tool: "warehouse"}},
				SubAgents: []AgentRun{{
					AgentID: "analyst",
					Models:  []ModelUsage{{Model: "mystery", InputTokens: 10}},
					Actions: []ToolAction{{Tool: "think"}, {Tool: "mcp", ExternalMCP: true}},
				}},
			},
			{
				AgentID: "writer",
				Models:  []ModelUsage{{Model: "small", CacheRead: 15}},
			},
		},
	}
	rc := mustPrice(t, testTable(), OriginConversation, run)
	analyst := AgentCost{
		AgentID: "analyst",
		Models:  []ModelCost{{Model: "mystery", PricedAs: "big", Fallback: true, Tokens: 10, Cost: 100}},
		Actions: []ActionCost{
			{Tool: "think", Tier: TierFree},
			{Tool: "mcp", Tier: TierAdvanced, Cost: 3 * Credit, Note: "external MCP"},
		},
		OwnTokenCost: 100, OwnActionCost: 3 * Credit, OwnCost: 3*Credit + 100,
		TokenCost: 100, ActionCost: 3 * Credit, TotalCost: 3*Credit + 100,
	}
	researcher := AgentCost{
		AgentID:      "researcher",
		Models:       []ModelCost{{Model: "small", PricedAs: "small", Tokens: 500, Cost: 1000}},
		Actions:      []ActionCost{{Tool: "warehouse", Tier: TierAdvanced, Cost: 3 * Credit}},
		OwnTokenCost: 1000, OwnActionCost: 3 * Credit, OwnCost: 3*Credit + 1000,
		TokenCost: 1100, ActionCost: 6 * Credit, TotalCost: 6*Credit + 1100,
		SubAgents: []AgentCost{analyst},
	}
	writer := AgentCost{
		AgentID:      "writer",
		Models:       []ModelCost{{Model: "small", PricedAs: "small", Tokens: 15, Cost: 2}},
		OwnTokenCost: 2, OwnCost: 2, TokenCost: 2, TotalCost: 2,
	}
	want := RunCost{
		Origin: OriginConversation,
		Root: AgentCost{
			AgentID: "main",
			Models:  []ModelCost{{Model: "small", PricedAs: "small", Tokens: 1000, Cost: 1000}},
			Actions: []ActionCost{
				{Tool: "web_search", Tier: TierBasic, Cost: Credit},
				{Tool: "memory", Tier: TierBasic, Note: "platform tool in conversation"},
			},
			OwnTokenCost: 1000, OwnActionCost: Credit, OwnCost: Credit + 1000,
			TokenCost: 2102, ActionCost: 7 * Credit, TotalCost: 7*Credit + 2102,
			SubAgents: []AgentCost{researcher, writer},
		},
		TokenCost:      2102,
		ActionCost:     7 * Credit,
		TotalCost:      7*Credit + 2102,
		FallbackModels: []string{"mystery"},
	}
	if diff := cmp.Diff(want, rc); diff != "" {
		t.Errorf("RunCost mismatch (-want +got):\n%s", diff)
	}
}

func TestPriceHugeValues(t *testing.T) {
	tests := []struct {
		name      string
		run       AgentRun
		wantCost  int64
		wantField string // "" for success
	}{
		{"MaxTokens at MaxRate on every kind is an error, not an overflow",
			AgentRun{AgentID: "a", Models: []ModelUsage{{Model: "max", InputTokens: MaxTokens, OutputTokens: MaxTokens, CacheRead: MaxTokens, CacheWrite: MaxTokens}}},
			0, "usage.models[0]"},
		{"one line over MaxAmount names the line",
			AgentRun{AgentID: "a", SubAgents: []AgentRun{{AgentID: "b", Models: []ModelUsage{
				{Model: "small"}, {Model: "max", InputTokens: MaxAmount/1_000_000 + 1}}}}},
			0, "usage.sub_agents[0].models[1]"},
		{"one line of exactly MaxAmount is fine",
			AgentRun{AgentID: "a", Models: []ModelUsage{{Model: "max", InputTokens: MaxAmount / 1_000_000}}},
			MaxAmount, ""},
		{"MaxTokens of every kind on an ordinary model is fine",
			AgentRun{AgentID: "a", Models: []ModelUsage{{Model: "small", InputTokens: MaxTokens, OutputTokens: MaxTokens, CacheRead: MaxTokens, CacheWrite: MaxTokens}}},
			MaxTokens * 46 / 10, ""},
		{"a chain over MaxAmount is an error on usage",
			AgentRun{AgentID: "a", Models: []ModelUsage{{Model: "max", InputTokens: MaxAmount / 1_000_000}},
				SubAgents: []AgentRun{{AgentID: "b", Models: []ModelUsage{{Model: "unit", InputTokens: 1}}}}},
			0, "usage"},
		{"actions pushing a chain over MaxAmount are an error on usage",
			AgentRun{AgentID: "a", Models: []ModelUsage{{Model: "max", InputTokens: MaxAmount / 1_000_000}},
				Actions: []ToolAction{{Tool: "think"}, {Tool: "web_search"}}},
			0, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := testTable()
			rc, err := table.Price(OriginAutomation, tt.run)
			if tt.wantField != "" {
				ie := wantInvalid(t, err, tt.wantField)
				if !strings.Contains(ie.Message, "exceeds") {
					t.Errorf("message = %q, want it to say the cost exceeds the limit", ie.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("Price: %v", err)
			}
			if diff := cmp.Diff(tt.wantCost, rc.TotalCost); diff != "" {
				t.Errorf("total mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriceTokenCostArithmetic(t *testing.T) {
	tests := []struct {
		name   string
		tokens [4]int64
		rates  [4]int64
		want   int64
		wantOK bool
	}{
		{"nothing", [4]int64{}, [4]int64{MaxRate, MaxRate, MaxRate, MaxRate}, 0, true},
		{"one token at rate one", [4]int64{1}, [4]int64{1}, 1, true},
		{"sum then round up once", [4]int64{1, 1, 1}, [4]int64{400_000, 400_000, 400_000}, 2, true},
		{"product beyond 64 bits divides back exactly", [4]int64{MaxTokens}, [4]int64{1_000_000_000}, MaxAmount, true},
		{"products beyond 64 bits sum exactly", [4]int64{MaxTokens / 2, MaxTokens / 2}, [4]int64{1_000_000_000, 1_000_000_000}, MaxAmount, true},
		{"one µcredit over MaxAmount", [4]int64{MaxTokens, 1}, [4]int64{1_000_000_000, 1}, 0, false},
		{"every kind at the maximum", [4]int64{MaxTokens, MaxTokens, MaxTokens, MaxTokens}, [4]int64{MaxRate, MaxRate, MaxRate, MaxRate}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tokenCost(tt.tokens, tt.rates)
			if diff := cmp.Diff([2]any{tt.want, tt.wantOK}, [2]any{got, ok}); diff != "" {
				t.Errorf("tokenCost mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// chainOfDepth returns a chain of depth nodes, each the only sub-agent of
// the one above.
func chainOfDepth(depth int) AgentRun {
	run := AgentRun{AgentID: fmt.Sprintf("agent-%d", depth)}
	for d := depth - 1; d >= 1; d-- {
		run = AgentRun{AgentID: fmt.Sprintf("agent-%d", d), SubAgents: []AgentRun{run}}
	}
	return run
}

// wideChain returns a root with n-1 sub-agents: n nodes in all.
func wideChain(n int) AgentRun {
	run := AgentRun{AgentID: "root", SubAgents: make([]AgentRun, n-1)}
	for i := range run.SubAgents {
		run.SubAgents[i] = AgentRun{AgentID: fmt.Sprintf("sub-%d", i)}
	}
	return run
}

// withItems returns a root with n actions.
func withItems(n int) AgentRun {
	run := AgentRun{AgentID: "root", Actions: make([]ToolAction, n)}
	for i := range run.Actions {
		run.Actions[i] = ToolAction{Tool: "think"}
	}
	return run
}

func TestPriceValidatesUsage(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen+1)
	three := func(third AgentRun) AgentRun {
		return AgentRun{AgentID: "root", SubAgents: []AgentRun{{AgentID: "s0"}, {AgentID: "s1"}, third}}
	}
	tests := []struct {
		name      string
		origin    Origin
		run       AgentRun
		wantField string // "" for success
		wantIn    string // a substring of the reason
	}{
		{"depth 16 is allowed", OriginConversation, chainOfDepth(MaxDepth), "", ""},
		{"depth 17 is too deep", OriginConversation, chainOfDepth(MaxDepth + 1), "usage", "16"},
		{"1000 nodes are allowed", OriginConversation, wideChain(MaxNodes), "", ""},
		{"1001 nodes are too many", OriginConversation, wideChain(MaxNodes + 1), "usage", "1000"},
		{"10000 items are allowed", OriginConversation, withItems(MaxItems), "", ""},
		{"10001 items are too many", OriginConversation, withItems(MaxItems + 1), "usage", "10000"},
		{"empty agent_id", OriginConversation, AgentRun{}, "usage.agent_id", "required"},
		{"agent_id too long", OriginConversation, AgentRun{AgentID: long}, "usage.agent_id", "128"},
		{"agent_id of MaxIDLen is allowed", OriginConversation, AgentRun{AgentID: long[1:]}, "", ""},
		{"empty nested agent_id", OriginConversation,
			AgentRun{AgentID: "r", SubAgents: []AgentRun{{AgentID: "a", SubAgents: []AgentRun{{AgentID: "b"}, {}}}}},
			"usage.sub_agents[0].sub_agents[1].agent_id", "required"},
		{"negative input tokens", OriginConversation,
			three(AgentRun{AgentID: "s2", Models: []ModelUsage{{Model: "small", InputTokens: -1}}}),
			"usage.sub_agents[2].models[0].input_tokens", "between"},
		{"negative output tokens", OriginConversation,
			AgentRun{AgentID: "r", Models: []ModelUsage{{Model: "small"}, {Model: "small", OutputTokens: -5}}},
			"usage.models[1].output_tokens", "between"},
		{"cache read tokens over MaxTokens", OriginConversation,
			AgentRun{AgentID: "r", Models: []ModelUsage{{Model: "small", CacheRead: MaxTokens + 1}}},
			"usage.models[0].cache_read_tokens", "between"},
		{"negative cache write tokens", OriginConversation,
			AgentRun{AgentID: "r", Models: []ModelUsage{{Model: "small", CacheWrite: -1}}},
			"usage.models[0].cache_write_tokens", "between"},
		{"empty model name", OriginConversation,
			AgentRun{AgentID: "r", Models: []ModelUsage{{InputTokens: 1}}},
			"usage.models[0].model", "required"},
		{"model name too long", OriginConversation,
			AgentRun{AgentID: "r", Models: []ModelUsage{{Model: long}}},
			"usage.models[0].model", "128"},
		{"empty tool", OriginConversation,
			AgentRun{AgentID: "r", Actions: []ToolAction{{Tool: "think"}, {}}},
			"usage.actions[1].tool", "required"},
		{"tool too long", OriginConversation,
			AgentRun{AgentID: "r", Actions: []ToolAction{{Tool: long}}},
			"usage.actions[0].tool", "128"},
		{"bad tier value", OriginConversation,
			AgentRun{AgentID: "r", Actions: []ToolAction{{Tool: "think"}, {Tool: "custom", Tier: Tier(9)}}},
			"usage.actions[1].tier", "9"},
		{"negative tier value", OriginConversation,
			three(AgentRun{AgentID: "s2", Actions: []ToolAction{{Tool: "custom", Tier: Tier(-1)}}}),
			"usage.sub_agents[2].actions[0].tier", "-1"},
		{"unspecified origin", OriginUnknown, AgentRun{AgentID: "r"}, "origin", "CONVERSATION"},
		{"bad origin value", Origin(7), AgentRun{AgentID: "r"}, "origin", "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := testTable()
			_, err := table.Price(tt.origin, tt.run)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Price: %v", err)
				}
				return
			}
			ie := wantInvalid(t, err, tt.wantField)
			if !strings.Contains(ie.Message, tt.wantIn) {
				t.Errorf("message = %q, want it to contain %q", ie.Message, tt.wantIn)
			}
		})
	}
}

func TestPriceRejectsAnInvalidTable(t *testing.T) {
	tests := []struct {
		name  string
		table *PriceTable
	}{
		{"nil table", nil},
		{"empty table", &PriceTable{}},
		{"fallback not in the table", &PriceTable{Models: []ModelPrice{{Model: "a"}}, FallbackModel: "b"}},
		{"negative rate", &PriceTable{Models: []ModelPrice{{Model: "a", InputRate: -1}}, FallbackModel: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.table.Price(OriginConversation, AgentRun{AgentID: "r", Models: []ModelUsage{{Model: "a", InputTokens: 1}}})
			if err == nil {
				t.Fatal("Price succeeded, want an error")
			}
			// The caller's usage is fine: this is not an invalid argument.
			var ie *Error
			if errors.As(err, &ie) && ie.Kind() == KindInvalid {
				t.Errorf("error = %v is an invalid argument, want a plain error", err)
			}
		})
	}
}

func TestPriceIsSafeForConcurrentUse(t *testing.T) {
	table := DefaultPriceTable()
	run := AgentRun{
		AgentID:   "main",
		Models:    []ModelUsage{{Model: "gpt-5", InputTokens: 12345, OutputTokens: 678}, {Model: "unknown", InputTokens: 1}},
		Actions:   []ToolAction{{Tool: "web_search"}, {Tool: "memory"}},
		SubAgents: []AgentRun{{AgentID: "sub", Actions: []ToolAction{{Tool: "data_warehouse"}}}},
	}
	want := mustPrice(t, table, OriginAutomation, run)
	var wg sync.WaitGroup
	results := make([]RunCost, 16)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = table.Price(OriginAutomation, run) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("Price: %v", errs[i])
		}
		if diff := cmp.Diff(want, results[i]); diff != "" {
			t.Errorf("concurrent result %d mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestDefaultPriceTable(t *testing.T) {
	table := DefaultPriceTable()
	if err := table.Validate(); err != nil {
		t.Fatalf("DefaultPriceTable().Validate() = %v", err)
	}
	var fallback ModelPrice
	for _, m := range table.Models {
		if m.Model == table.FallbackModel {
			fallback = m
		}
	}
	for _, m := range table.Models {
		if m.InputRate <= 0 || m.OutputRate <= 0 || m.CacheReadRate <= 0 || m.CacheWriteRate <= 0 {
			t.Errorf("model %s has a rate that is not positive: %+v", m.Model, m)
		}
		if m.InputRate > fallback.InputRate || m.OutputRate > fallback.OutputRate ||
			m.CacheReadRate > fallback.CacheReadRate || m.CacheWriteRate > fallback.CacheWriteRate {
			t.Errorf("model %s is more expensive than the fallback %s", m.Model, table.FallbackModel)
		}
	}
	platform := map[string]bool{}
	for _, tp := range table.Tools {
		if tp.Platform {
			platform[tp.Tool] = true
		}
	}
	want := map[string]bool{"agent_router": true, "run_agent": true, "memory": true, "common_utilities": true}
	if diff := cmp.Diff(want, platform); diff != "" {
		t.Errorf("platform tools mismatch (-want +got):\n%s", diff)
	}
	if DefaultPriceTable().Models[0].Model != table.Models[0].Model {
		t.Error("DefaultPriceTable is not deterministic")
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("m", MaxIDLen+1)
	many := func(n int) []ModelPrice {
		ms := make([]ModelPrice, n)
		for i := range ms {
			ms[i] = ModelPrice{Model: fmt.Sprintf("m%d", i)}
		}
		return ms
	}
	manyTools := func(n int) []ToolPrice {
		ts := make([]ToolPrice, n)
		for i := range ts {
			ts[i] = ToolPrice{Tool: fmt.Sprintf("t%d", i), Tier: TierBasic}
		}
		return ts
	}
	tests := []struct {
		name      string
		edit      func(*PriceTable)
		wantField string // "" for valid
	}{
		{"default table is valid", func(*PriceTable) {}, ""},
		{"no tools is valid", func(p *PriceTable) { p.Tools = nil }, ""},
		{"zero and MaxRate are valid rates", func(p *PriceTable) { p.Models[0].InputRate, p.Models[0].OutputRate = 0, MaxRate }, ""},
		{"MaxPriceEntries models are valid", func(p *PriceTable) { p.Models, p.FallbackModel = many(MaxPriceEntries), "m0" }, ""},
		{"MaxPriceEntries tools are valid", func(p *PriceTable) { p.Tools = manyTools(MaxPriceEntries) }, ""},
		{"no models", func(p *PriceTable) { p.Models = nil }, "pricing.models"},
		{"too many models", func(p *PriceTable) { p.Models, p.FallbackModel = many(MaxPriceEntries+1), "m0" }, "pricing.models"},
		{"empty model name", func(p *PriceTable) { p.Models[2].Model = "" }, "pricing.models[2].model"},
		{"model name too long", func(p *PriceTable) { p.Models[0].Model = long }, "pricing.models[0].model"},
		{"duplicate model", func(p *PriceTable) { p.Models[3].Model = p.Models[1].Model }, "pricing.models[3].model"},
		{"negative input rate", func(p *PriceTable) { p.Models[0].InputRate = -1 }, "pricing.models[0].input_rate"},
		{"output rate over MaxRate", func(p *PriceTable) { p.Models[1].OutputRate = MaxRate + 1 }, "pricing.models[1].output_rate"},
		{"negative cache read rate", func(p *PriceTable) { p.Models[2].CacheReadRate = -5 }, "pricing.models[2].cache_read_rate"},
		{"cache write rate over MaxRate", func(p *PriceTable) { p.Models[3].CacheWriteRate = MaxRate + 1 }, "pricing.models[3].cache_write_rate"},
		{"no fallback model", func(p *PriceTable) { p.FallbackModel = "" }, "pricing.fallback_model"},
		{"fallback model not in the table", func(p *PriceTable) { p.FallbackModel = "gpt-9" }, "pricing.fallback_model"},
		{"too many tools", func(p *PriceTable) { p.Tools = manyTools(MaxPriceEntries + 1) }, "pricing.tools"},
		{"empty tool name", func(p *PriceTable) { p.Tools[3].Tool = "" }, "pricing.tools[3].tool"},
		{"tool name too long", func(p *PriceTable) { p.Tools[0].Tool = long }, "pricing.tools[0].tool"},
		{"duplicate tool", func(p *PriceTable) { p.Tools[5].Tool = p.Tools[4].Tool }, "pricing.tools[5].tool"},
		{"tool tier unknown", func(p *PriceTable) { p.Tools[3].Tier = TierUnknown }, "pricing.tools[3].tier"},
		{"tool tier out of range", func(p *PriceTable) { p.Tools[1].Tier = Tier(9) }, "pricing.tools[1].tier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := DefaultPriceTable()
			tt.edit(&table)
			err := table.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			wantInvalid(t, err, tt.wantField)
		})
	}
}
