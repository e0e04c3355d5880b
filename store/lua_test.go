package store

import (
	"os"
	"strings"
	"testing"

	"github.com/quota-svc/quota/store/internal/schema"
)

// TestGeneratedLuaIsCurrent fails when lua/gen_const.lua differs from what
// Go generates (store/internal/schema): run `go generate ./store`.
func TestGeneratedLuaIsCurrent(t *testing.T) {
	got, err := os.ReadFile("lua/gen_const.lua")
	if err != nil {
		t.Fatal(err)
	}
	if want := schema.Lua(); string(got) != string(want) {
		t.Fatal("lua/gen_const.lua is not what Go generates: run `go generate ./store` and commit it")
	}
}

// TestEveryEntryPointDeclaresItsModules checks that each stand-alone
// script carries the modules its entry point uses, and only those.
func TestEveryEntryPointDeclaresItsModules(t *testing.T) {
	if len(lib.entries) == 0 {
		t.Fatal("no entry points")
	}
	for name, e := range lib.entries {
		if !strings.Contains(lib.code, "redis.register_function('"+e.fn+"', "+name+")") {
			t.Errorf("%s is not registered in the library", name)
		}
		if e.size >= len(lib.code) {
			t.Errorf("%s: its script (%d bytes) is not smaller than the whole library (%d)", name, e.size, len(lib.code))
		}
	}
	// Entry points that touch no reservation carry no reservation code.
	for _, name := range []string{"set_workspace", "set_policy", "set_pricing", "retain"} {
		if strings.Contains(scriptSource(t, name), "local function void_kids") {
			t.Errorf("%s carries the reservation module it does not use", name)
		}
	}
}

// scriptSource rebuilds an entry point's stand-alone script.
func scriptSource(t *testing.T, name string) string {
	t.Helper()
	l, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if l.entries[name] == nil {
		t.Fatalf("no entry point %s", name)
	}
	return l.scripts[name]
}

// TestLayoutsHaveUniqueFields guards the generated codecs.
func TestLayoutsHaveUniqueFields(t *testing.T) {
	for _, l := range append(append(append([]*schema.Layout{}, schema.Records...), schema.Replies...), schema.Counters...) {
		seen := map[string]bool{}
		for _, f := range l.Fields {
			if seen[f.Name] {
				t.Errorf("layout %s repeats %s", l.Name, f.Name)
			}
			seen[f.Name] = true
		}
	}
}

// TestIndexCopiesSpreadOverTheSlots checks the workspace index's copies
// against Redis's own slot numbers (CLUSTER KEYSLOT's algorithm, CRC16).
func TestIndexCopiesSpreadOverTheSlots(t *testing.T) {
	// Known slots (redis.io, "Cluster specification").
	for tag, want := range map[string]int{"123456789": 12739, "user1000": 3443, "foo": 12182} {
		if got := keySlot(tag); got != want {
			t.Errorf("keySlot(%q) = %d, want %d", tag, got, want)
		}
	}
	keys := indexKeys()
	for i, k := range keys {
		tag := k[strings.Index(k, "{")+1 : strings.Index(k, "}")]
		if s := keySlot(tag); s < i*clusterSlots/indexCopies || s >= (i+1)*clusterSlots/indexCopies {
			t.Errorf("copy %d (%s) is in slot %d, outside its third", i, k, s)
		}
	}
}
