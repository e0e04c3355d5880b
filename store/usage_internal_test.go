package store

import (
	"strings"
	"testing"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// TestUsageCounterOrderIsTheScripts guards lua/fn_commit.lua's usage_add,
// which names a usage counter's values by position.
func TestUsageCounterOrderIsTheScripts(t *testing.T) {
	var names []string
	for _, f := range schema.Usage.Fields {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "tcost acost tokens actions commits charged sf"; got != want {
		t.Errorf("schema.Usage is %q; usage_add adds %q, in that order: change both", got, want)
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
