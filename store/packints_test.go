package store_test

import (
	"context"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/redistest"
)

// TestPackedNumbersReadExactlyInLua reads store.PackInts's output in Lua,
// as the scripts do: with Redis's built-in cmsgpack, and with
// lua/msgpack.lua (the stand-alone scripts' codec, for the embedded server
// and a Redis without Functions) on every backend. Every value of every
// encoding width must come back exact, down to -(2^53-1).
func TestPackedNumbersReadExactlyInLua(t *testing.T) {
	vals := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<53 - 1,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, -(1 << 40) - 1, -(1<<53 - 1)}
	read := `local t = {cmsgpack.unpack(ARGV[1])}
local out = {}
for i = 1, #t do out[i] = string.format('%.0f', t[i]) end
return out`
	eachLuaReader(t, read, string(store.PackInts(vals...)), func(t *testing.T, name string, res []string) {
		if len(res) != len(vals) {
			t.Fatalf("%s: %d values, want %d", name, len(res), len(vals))
		}
		for i, v := range vals {
			if res[i] != strconv.FormatInt(v, 10) {
				t.Errorf("%s: value %d read as %s", name, v, res[i])
			}
		}
	})
}

// eachLuaReader runs the script read on packed (its ARGV[1]) with Redis's
// built-in cmsgpack and with lua/msgpack.lua (the stand-alone scripts'
// codec) on every backend (the embedded server has no cmsgpack of its
// own), and passes check what each returned.
func eachLuaReader(t *testing.T, read, packed string, check func(t *testing.T, name string, res []string)) {
	for _, b := range redistest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.New(t)
			// msgpack.lua's cmsgpack is a local: it shadows Redis's own.
			scripts := map[string]string{"msgpack.lua": store.MsgpackLua() + "\n" + read}
			if b.Name != "embedded" {
				scripts["cmsgpack"] = read
			}
			for name, script := range scripts {
				res, err := rdb.Eval(context.Background(), script, nil, packed).StringSlice()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				check(t, name, res)
			}
		})
	}
}

// TestPackedStringsReadExactlyInLua reads store.AppendStr's output (the
// bucket fields of the usage queue's entries) in Lua, with Redis's
// cmsgpack and with lua/msgpack.lua on every backend, at every string
// encoding's boundaries.
func TestPackedStringsReadExactlyInLua(t *testing.T) {
	var packed []byte
	var want []string
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("ab", n/2+1)[:n]
		packed = store.AppendStr(packed, s)
		want = append(want, s)
	}
	eachLuaReader(t, `return {cmsgpack.unpack(ARGV[1])}`, string(packed), func(t *testing.T, name string, res []string) {
		if len(res) != len(want) {
			t.Fatalf("%s: %d strings, want %d", name, len(res), len(want))
		}
		for i, s := range want {
			if res[i] != s {
				t.Errorf("%s: a string of %d bytes read as one of %d", name, len(s), len(res[i]))
			}
		}
	})
}

// TestLuaPackWritesWhatGoReads packs numbers in Lua, with Redis's
// built-in cmsgpack and with lua/msgpack.lua on every backend, and checks
// the bytes are store.PackInts's (the smallest MessagePack encoding of
// each), every width down to -(2^53-1): what a script writes into a
// record, the other codec and Go must read the same.
func TestLuaPackWritesWhatGoReads(t *testing.T) {
	vals := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<53 - 1,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, -5_000_000_000, -(1 << 40) - 1, -(1<<53 - 1)}
	var list []string
	for _, v := range vals {
		list = append(list, strconv.FormatInt(v, 10))
	}
	// Each value of the comma-separated list packed alone, returned as
	// hex: the reply carries no number through Redis's own conversion.
	pack := `local out = {}
for n in string.gmatch(ARGV[1], '[^,]+') do
  local b = cmsgpack.pack(tonumber(n))
  out[#out + 1] = (b:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end
return out`
	eachLuaReader(t, pack, strings.Join(list, ","), func(t *testing.T, name string, res []string) {
		for i, v := range vals {
			if want := hex.EncodeToString(store.PackInts(v)); i >= len(res) || res[i] != want {
				t.Errorf("%s: %d packed as %v, want %s", name, v, res[i:min(i+1, len(res))], want)
			}
		}
	})
}

// TestLuaPackRefusesFractions: lua/msgpack.lua writes integers and
// strings only (records hold no fractions); a fraction is an error, not a
// number silently cut to another.
func TestLuaPackRefusesFractions(t *testing.T) {
	for _, b := range redistest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.New(t)
			err := rdb.Eval(context.Background(), store.MsgpackLua()+"\nreturn cmsgpack.pack(1.5)", nil).Err()
			if err == nil || !strings.Contains(err.Error(), "not an integer: 1.5") {
				t.Errorf("packing 1.5: %v, want a 'not an integer' error", err)
			}
		})
	}
}
