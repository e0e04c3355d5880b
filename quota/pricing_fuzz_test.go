package quota

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Fuzzing of the pricing (issue 10): FuzzPrice builds a price table and
// an agent chain from the fuzzer's bytes and checks Price against
// refPrice, its big.Int specification; FuzzTokenCost checks the 128-bit
// arithmetic alone. The seed corpus is in testdata/fuzz/; `go test` replays
// it. To fuzz longer:
//
//	go test ./quota -run '^$' -fuzz '^FuzzPrice$' -fuzztime 5m

// fuzzBytes reads values from the front of a fuzzer's input; once the
// bytes run out every read is zero, so that any input is a case.
type fuzzBytes struct{ b []byte }

func (in *fuzzBytes) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzBytes) bool() bool { return in.byte()&1 == 1 }

// uint64 reads 8 bytes, big-endian.
func (in *fuzzBytes) uint64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(in.byte())
	}
	return v
}

// number reads a number for a field whose valid range is 0..hi: mostly
// one of edges (the bounds and what lies just past them), else a small
// number, a number in 0..hi+1, or any int64.
func (in *fuzzBytes) number(edges []int64, hi int64) int64 {
	sel := in.byte()
	switch {
	case sel < 128:
		return edges[int(sel)%len(edges)]
	case sel < 192:
		return int64(in.byte())
	case sel < 240:
		return int64(in.uint64() % uint64(hi+2))
	default:
		return int64(in.uint64())
	}
}

// pick returns one of names.
func (in *fuzzBytes) pick(names []string) string { return names[int(in.byte())%len(names)] }

// Names the fuzzer draws from: a few valid ones that the table and the
// chain share, and the hostile ones (empty, too long, the longest, not
// ASCII, a NUL).
var (
	fuzzModelNames = []string{"m0", "m1", "m2", "m3", "", strings.Repeat("m", MaxIDLen), strings.Repeat("m", MaxIDLen+1), "模型", "m\x00"}
	fuzzToolNames  = []string{"t0", "t1", "t2", "", strings.Repeat("t", MaxIDLen+1), "🔧"}
	fuzzAgentIDs   = []string{"a", "b", "", strings.Repeat("a", MaxIDLen), strings.Repeat("a", MaxIDLen+1), "агент", "a\x00b"}
	fuzzTokens     = []int64{0, 1, 2, 999_999, 1_000_000, 1_000_001, MaxTokens / 2, MaxTokens - 1, MaxTokens, MaxTokens + 1, -1, math.MaxInt64, math.MinInt64, maxAmountTokens}
	fuzzRates      = []int64{0, 1, 999_999, 1_000_000, 3 * Credit, MaxRate / 3, MaxRate - 1, MaxRate, MaxRate + 1, -1, math.MaxInt64, math.MinInt64}
	fuzzCounts     = []int{MaxNodes - 1, MaxNodes, MaxNodes + 1, MaxItems - 1, MaxItems, MaxItems + 1}
)

// maxAmountTokens tokens at MaxRate cost MaxAmount exactly.
const maxAmountTokens = MaxAmount / MaxRate * 1_000_000

// table reads a price table: up to 4 models and 3 tools, each field from
// the fuzzer, and a fallback that is listed, not listed, or chosen by
// WithFallback.
func (in *fuzzBytes) table() PriceTable {
	var t PriceTable
	for range int(in.byte() % 5) {
		t.Models = append(t.Models, ModelPrice{
			Model:     in.pick(fuzzModelNames),
			InputRate: in.number(fuzzRates, MaxRate), OutputRate: in.number(fuzzRates, MaxRate),
			CacheReadRate: in.number(fuzzRates, MaxRate), CacheWriteRate: in.number(fuzzRates, MaxRate),
		})
	}
	for range int(in.byte() % 4) {
		t.Tools = append(t.Tools, ToolPrice{Tool: in.pick(fuzzToolNames), Tier: Tier(int(in.byte()%6) - 1), Platform: in.bool()})
	}
	switch in.byte() % 3 {
	case 0:
		if len(t.Models) > 0 {
			t.FallbackModel = t.Models[int(in.byte())%len(t.Models)].Model
		}
	case 1:
		t.FallbackModel = in.pick(fuzzModelNames)
	}
	return t
}

// chain reads an agent chain of at most maxNodes nodes read from the
// bytes (and depth at most MaxDepth+3), where a node may also carry
// MaxNodes or MaxItems copies of one sub-agent, model line or action
// (fuzzCounts), to reach the bounds.
func (in *fuzzBytes) chain(depth int, budget *int) AgentRun {
	*budget--
	run := AgentRun{AgentID: in.pick(fuzzAgentIDs)}
	n := in.count(4)
	for range n.read {
		run.Models = append(run.Models, in.modelLine())
	}
	if n.copies > 0 {
		run.Models = append(run.Models, repeat(in.modelLine(), n.copies)...)
	}
	n = in.count(4)
	for range n.read {
		run.Actions = append(run.Actions, in.action())
	}
	if n.copies > 0 {
		run.Actions = append(run.Actions, repeat(in.action(), n.copies)...)
	}
	n = in.count(3)
	for range n.read {
		if *budget <= 0 || depth > MaxDepth+2 {
			break
		}
		run.SubAgents = append(run.SubAgents, in.chain(depth+1, budget))
	}
	if n.copies > 0 {
		run.SubAgents = append(run.SubAgents, repeat(AgentRun{AgentID: in.pick(fuzzAgentIDs), Models: []ModelUsage{in.modelLine()}}, n.copies)...)
	}
	return run
}

// fuzzCount is how many items to read and how many copies of one to add.
type fuzzCount struct{ read, copies int }

// count reads a fuzzCount: mostly 0..max-1 items, rarely one of
// fuzzCounts copies.
func (in *fuzzBytes) count(max int) fuzzCount {
	sel := in.byte()
	if sel >= 250 {
		return fuzzCount{copies: fuzzCounts[int(sel-250)%len(fuzzCounts)]}
	}
	return fuzzCount{read: int(sel) % max}
}

func (in *fuzzBytes) modelLine() ModelUsage {
	return ModelUsage{
		Model:       in.pick(fuzzModelNames),
		InputTokens: in.number(fuzzTokens, MaxTokens), OutputTokens: in.number(fuzzTokens, MaxTokens),
		CacheRead: in.number(fuzzTokens, MaxTokens), CacheWrite: in.number(fuzzTokens, MaxTokens),
	}
}

func (in *fuzzBytes) action() ToolAction {
	return ToolAction{Tool: in.pick(fuzzToolNames), Tier: Tier(int(in.byte()%6) - 1), ExternalMCP: in.bool(), NotRun: in.bool()}
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// FuzzPrice prices a fuzzed chain with a fuzzed table for a fuzzed origin:
// Price never panics, returns exactly refPrice's cost (every model line,
// action and total, to the µcredit: no overflow, the rounding of the
// credit rules) or refPrice's error on its field, and Validate and
// WithFallback agree with the specification.
func FuzzPrice(f *testing.F) {
	f.Add(uint8(OriginConversation), []byte{}, []byte{})
	// Models m0 at MaxRate per input token and m1 at 1; a main agent with
	// maxAmountTokens of m0 (MaxAmount) and one token of m1 (1 µcredit),
	// or none: one µcredit over the bound, and the bound itself.
	table := []byte{2, 0, 7, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}
	f.Add(uint8(OriginAutomation+1), table, []byte{0, 2, 0, 13, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0})
	f.Add(uint8(OriginAutomation+1), table, []byte{0, 2, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, origin uint8, tableBytes, chainBytes []byte) {
		in := &fuzzBytes{b: tableBytes}
		table := in.table()
		if table.FallbackModel == "" && refRatesValid(table) {
			if got, want := table.WithFallback().FallbackModel, refFallback(table); got != want {
				t.Fatalf("WithFallback chose %q, want %q (the highest sum of rates, the first on a tie)", got, want)
			}
			table = table.WithFallback()
		}
		if err := table.Validate(); (err == nil) != refTableValid(table) {
			t.Fatalf("Validate(%+v) = %v, want valid %v", table, err, refTableValid(table))
		}
		budget := 48
		run := (&fuzzBytes{b: chainBytes}).chain(1, &budget)
		o := Origin(int(origin%5) - 1) // -1..3: the unknown ones too

		want := refPrice(table, o, run)
		got, err := table.Price(o, run)
		checkPriceError(t, err, want.err)
		if want.err != nil {
			return
		}
		if !reflect.DeepEqual(want.cost, got) { // cmp.Diff only to explain: it is slow on big trees
			t.Fatalf("Price mismatch (-want +got):\n%s", cmp.Diff(want.cost, got))
		}
		if got.TotalCost < 0 || got.TotalCost > MaxAmount || got.TotalCost != got.TokenCost+got.ActionCost {
			t.Fatalf("total %d = tokens %d + actions %d, want within 0..%d", got.TotalCost, got.TokenCost, got.ActionCost, MaxAmount)
		}
	})
}

// refRatesValid tells whether every rate of t is in 0..MaxRate (where
// WithFallback's choice is specified).
func refRatesValid(t PriceTable) bool {
	for _, m := range t.Models {
		for _, r := range []int64{m.InputRate, m.OutputRate, m.CacheReadRate, m.CacheWriteRate} {
			if r < 0 || r > MaxRate {
				return false
			}
		}
	}
	return true
}

// checkPriceError fails t unless err is what want describes.
func checkPriceError(t *testing.T, err error, want *refErr) {
	t.Helper()
	var e *Error
	isQuota := errors.As(err, &e)
	switch {
	case want == nil && err != nil:
		t.Fatalf("Price = %v, want no error", err)
	case want == nil:
	case err == nil:
		t.Fatalf("Price succeeded, want %v", want)
	case want.plain && isQuota:
		t.Fatalf("Price = %v (%s), want a plain error for an invalid table", err, e.Reason())
	case want.plain:
	case !isQuota:
		t.Fatalf("Price = %v (%T), want %v", err, err, want)
	case e.Field != want.field:
		t.Fatalf("Price = %v on field %q, want %v", err, e.Field, want)
	case want.limit == "" && e.Code != CodeInvalidField:
		t.Fatalf("Price = %v (%s), want INVALID_FIELD on %q", err, e.Reason(), want.field)
	case want.limit != "" && (e.Code != CodeLimitExceeded || e.Limit == nil || e.Limit.Name != want.limit):
		t.Fatalf("Price = %v (%s), want the limit %s", err, e.Reason(), want.limit)
	}
}

// FuzzTokenCost checks tokenCost's 128-bit arithmetic against big.Int
// over its whole domain: token sums in 0..MaxItems×MaxTokens, rates in
// 0..MaxRate.
func FuzzTokenCost(f *testing.F) {
	f.Add(int64(1), int64(1), int64(1), int64(0), int64(400_000), int64(400_000), int64(400_000), int64(0))
	f.Add(MaxTokens*MaxItems, MaxTokens*MaxItems, MaxTokens*MaxItems, MaxTokens*MaxItems, MaxRate, MaxRate, MaxRate, MaxRate)
	f.Add(MaxTokens, int64(1), int64(0), int64(0), int64(1_000_000_000), int64(1), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, t0, t1, t2, t3, r0, r1, r2, r3 int64) {
		const maxSum = MaxItems * MaxTokens
		tokens := [4]int64{clampTo(t0, maxSum), clampTo(t1, maxSum), clampTo(t2, maxSum), clampTo(t3, maxSum)}
		rates := [4]int64{clampTo(r0, MaxRate), clampTo(r1, MaxRate), clampTo(r2, MaxRate), clampTo(r3, MaxRate)}
		got, ok := tokenCost(tokens, rates)
		want, wantOK := refTokenCost(tokens, rates)
		if got != want || ok != wantOK {
			t.Fatalf("tokenCost(%v, %v) = %d, %v; want %d, %v", tokens, rates, got, ok, want, wantOK)
		}
	})
}
