package store

import (
	"math"
	"strings"
	"testing"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// TestUsageCounterOrderIsTheScripts guards lua/usage.lua's usage_fold,
// which names a usage counter's values by position.
func TestUsageCounterOrderIsTheScripts(t *testing.T) {
	var names []string
	for _, f := range schema.Usage.Fields {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "tcost acost tokens actions commits charged sf"; got != want {
		t.Errorf("schema.Usage is %q; usage_fold adds %q, in that order: change both", got, want)
	}
	// Seven integers one after the other, as cmsgpack.pack(a, b, ...)
	// writes them: 1, 200, 300 (uint16), 70000 (uint32), 0, 5, 2^40.
	raw := "\x01\xcc\xc8\xcd\x01\x2c\xce\x00\x01\x11\x70\x00\x05\xcf\x00\x00\x01\x00\x00\x00\x00\x00"
	g, err := usageGroup("k", raw)
	want := quota.UsageGroup{Key: "k", Cost: 201, TokenCost: 1, ActionCost: 200, Tokens: 300, Actions: 70_000, Charged: 5, Shortfall: 1 << 40}
	if err != nil || g != want {
		t.Errorf("usageGroup = %+v, %v; want %+v", g, err, want)
	}
	for _, bad := range []string{raw[:len(raw)-1], raw + "\x00", "\x93\x01\x02\x03"} {
		if _, err := usageGroup("k", bad); err == nil {
			t.Errorf("usageGroup(%q) read it", bad)
		}
	}
}

// TestPackIntsIsMessagePack reads packInts's output back with the records'
// MessagePack reader: every value exact, in its shortest form at each
// boundary (TestPackedNumbersReadExactlyInLua reads the same bytes in Lua).
func TestPackIntsIsMessagePack(t *testing.T) {
	vals := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<53 - 1, 1 << 53, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	sizes := []int{1, 1, 1, 2, 2, 3, 3, 5, 5, 9, 9, 9, 9, 1, 1, 2, 2, 3, 3, 5, 5, 9, 9}
	b := packInts(vals...)
	d := &mpReader{b: string(b)}
	for i, want := range vals {
		before := len(d.b)
		got := d.value()
		if got.kind != mpInt || got.n != want || before-len(d.b) != sizes[i] {
			t.Errorf("value %d: read %v in %d bytes, want %d in %d", i, got, before-len(d.b), want, sizes[i])
		}
	}
	if d.err != nil || len(d.b) != 0 {
		t.Errorf("after the values: err %v, %d bytes left", d.err, len(d.b))
	}
}
