package store

import (
	"math"
	"testing"

	"github.com/quota-svc/quota/store/internal/schema"
)

// FuzzUnpackValues feeds the MessagePack readers of script replies
// (unpackValues) and of records (decodeRecord) arbitrary bytes: neither
// panics, the two agree (a record decodes where its layout has as many
// fields as the reply reader reads values, field by field; else it fails),
// and values written by appendInt and appendStr read back as written,
// whatever precedes them (the fuzzed bytes, when they are whole values).
// That appendInt and appendStr write what Redis's cmsgpack and
// lua/msgpack.lua read is TestPackedStringsReadExactlyInLua's.
func FuzzUnpackValues(f *testing.F) {
	f.Add([]byte{}, int64(0), "")
	f.Add([]byte{0x01, 0xa3, 'a', 'b', 'c', 0xc0}, int64(-1), "member-1")
	f.Add([]byte{0xcf, 0, 0, 0, 0, 0, 0, 0, 1}, int64(math.MaxInt64), "x")
	f.Add([]byte{0xd9, 0x05, 'a'}, int64(1<<53), "")                                 // a str8 cut short
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff}, int64(-129), "")                     // a length past the end
	f.Add([]byte{0xc1}, int64(256), "")                                              // an unused type byte
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0xa1, 'x', 0xcd, 1, 0, 9, 10, 11}, int64(7), "g") // a grant's 11 fields
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7}, int64(8), "u")                                // a usage counter's 7
	f.Fuzz(func(t *testing.T, prefix []byte, n int64, s string) {
		vals, err := unpackValues(string(prefix))
		c, cerr := countValues(string(prefix))
		if (err == nil) != (cerr == nil) || (err == nil && c != len(vals)) {
			t.Fatalf("unpackValues: %d values, err %v; countValues: %d, err %v", len(vals), err, c, cerr)
		}
		for _, l := range append(schema.Records, schema.Counters...) {
			rec, rerr := decodeRecord(string(prefix), l)
			if (rerr == nil) != (err == nil && len(vals) == l.Len()) {
				t.Fatalf("%s: decodeRecord err %v; unpackValues %d values, err %v", l.Name, rerr, len(vals), err)
			}
			for i := 0; rerr == nil && i < l.Len(); i++ {
				if got := rec.field(i); got != vals[i] {
					t.Fatalf("%s field %d: decodeRecord %+v, unpackValues %+v", l.Name, i, got, vals[i])
				}
			}
		}
		if err != nil {
			return
		}
		b := appendStr(appendInt(append([]byte{}, prefix...), n), s)
		all, err := unpackValues(string(b))
		if err != nil || len(all) != len(vals)+2 {
			t.Fatalf("%d whole values, then %d and %q: read %d values, err %v", len(vals), n, s, len(all), err)
		}
		if got := all[len(vals)]; got.kind != mpInt || got.n != n {
			t.Errorf("appendInt(%d) read back as %+v", n, got)
		}
		if got := all[len(vals)+1]; got.kind != mpStr || got.s != s {
			t.Errorf("appendStr(%q) read back as %+v", s, got)
		}
	})
}
