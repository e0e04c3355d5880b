package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/quota-svc/quota/store/internal/schema"
)

// record is a record read from Redis by Go (for GetWorkspace, audits and
// tests): the fields of its layout, by name.
type record struct {
	l *schema.Layout
	v []any // int64 or string
}

// errRecord is a record this code cannot read.
var errRecord = errors.New("store: unreadable record")

// decodeRecord reads a record of layout l: its fields as MessagePack
// values one after the other (lua/gen_const.lua).
func decodeRecord(raw string, l *schema.Layout) (record, error) {
	vals, err := unpackValues(raw)
	if err != nil {
		return record{}, fmt.Errorf("%w (%s)", err, l.Name)
	}
	if len(vals) != l.Len() {
		return record{}, fmt.Errorf("%w: a %s record has %d fields, want %d", errRecord, l.Name, len(vals), l.Len())
	}
	return record{l: l, v: vals}, nil
}

// unpackValues reads MessagePack values one after the other: a record,
// or a packed reply (lua/core.lua, packed). It reads what Redis's
// cmsgpack and lua/msgpack.lua write: integers, strings (or binary) and
// nil.
func unpackValues(s string) ([]any, error) {
	d := &mpReader{b: []byte(s)}
	var vals []any
	for len(d.b) > 0 && d.err == nil {
		vals = append(vals, d.value())
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", errRecord, d.err)
	}
	return vals, nil
}

// emptyRecord is a record of l whose fields are all 0 and "".
func emptyRecord(l *schema.Layout) record {
	return record{l: l, v: make([]any, l.Len())}
}

func (r record) str(name string) string { return asStr(r.v[r.l.Index(name)]) }

func (r record) int(name string) int64 { return asInt(r.v[r.l.Index(name)]) }

// packInts packs integers as MessagePack values one after the other, each
// in its shortest form (as cmsgpack.pack writes them), for a script that
// reads them with one cmsgpack.unpack: cheaper in Redis's Lua than a
// tonumber of text per value, and exact below 2^53.
func packInts(vs ...int64) []byte {
	b := make([]byte, 0, 9*len(vs))
	for _, v := range vs {
		b = appendInt(b, v)
	}
	return b
}

// appendInt appends v to b as a MessagePack integer in its shortest form.
func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= -32 && v <= math.MaxInt8:
		return append(b, byte(v)) // positive or negative fixint
	case v >= 0 && v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v >= 0 && v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v >= 0 && v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	case v >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
	}
}

// appendStr appends s to b as a MessagePack string (as cmsgpack.pack
// writes a Lua string).
func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// mpReader reads MessagePack.
type mpReader struct {
	b   []byte
	err error
}

func (d *mpReader) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errors.New("short input")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *mpReader) uint(n int) uint64 {
	b := d.take(n)
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// value reads one scalar: an int64, a string, or nil.
func (d *mpReader) value() any {
	b := d.take(1)
	if b == nil {
		return nil
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	case c >= 0xa0 && c <= 0xbf:
		return string(d.take(int(c - 0xa0)))
	}
	switch c {
	case 0xc0:
		return nil
	case 0xc2:
		return int64(0)
	case 0xc3:
		return int64(1)
	case 0xcc:
		return int64(d.uint(1))
	case 0xcd:
		return int64(d.uint(2))
	case 0xce:
		return int64(d.uint(4))
	case 0xcf:
		return int64(d.uint(8))
	case 0xd0:
		return int64(int8(d.uint(1)))
	case 0xd1:
		return int64(int16(d.uint(2)))
	case 0xd2:
		return int64(int32(d.uint(4)))
	case 0xd3:
		return int64(d.uint(8))
	case 0xca:
		return int64(math.Float32frombits(uint32(d.uint(4))))
	case 0xcb:
		return int64(math.Float64frombits(d.uint(8)))
	case 0xd9, 0xc4:
		return string(d.take(int(d.uint(1))))
	case 0xda, 0xc5:
		return string(d.take(int(d.uint(2))))
	case 0xdb, 0xc6:
		return string(d.take(int(d.uint(4))))
	}
	d.err = errors.New("unsupported type byte " + strconv.Itoa(int(c)))
	return nil
}

// Record decodes a record of kind "ws", "acct", "res" or "grant" (the value
// of the key of that kind, keys.go) as a map of its fields: integers as
// int64, text as string. It is for audits, debugging and tests.
func Record(raw string, kind string) (map[string]any, error) {
	l, ok := map[string]*schema.Layout{"ws": schema.Workspace, "acct": schema.Account,
		"res": schema.Reservation, "grant": schema.Grant}[kind]
	if !ok {
		return nil, fmt.Errorf("store: no record kind %q", kind)
	}
	r, err := decodeRecord(raw, l)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, l.Len())
	for i, f := range l.Fields {
		if f.Str {
			out[f.Name] = asStr(r.v[i])
		} else {
			out[f.Name] = asInt(r.v[i])
		}
	}
	return out, nil
}
