package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/quota-svc/quota/store/internal/schema"
)

// record is a record read from Redis by Go (for replies, GetWorkspace,
// audits and tests): the fields of its layout, by name. It keeps the
// record as stored and where each field starts in it, and reads a field
// when asked: 4 bytes a field instead of a value (32).
type record struct {
	l   *schema.Layout
	raw string
	off []uint32 // nil: every field is 0 or ""
}

// errRecord is a record this code cannot read.
var errRecord = errors.New("store: unreadable record")

// decodeRecord reads a record of layout l: its fields as MessagePack
// values one after the other (lua/gen_const.lua).
func decodeRecord(raw string, l *schema.Layout) (record, error) {
	if uint64(len(raw)) > math.MaxUint32 {
		return record{}, fmt.Errorf("%w: a %s record of %d bytes", errRecord, l.Name, len(raw))
	}
	off := make([]uint32, 0, l.Len())
	d := mpReader{b: raw}
	for len(d.b) > 0 && d.err == nil {
		off = append(off, uint32(len(raw)-len(d.b)))
		d.next()
	}
	if d.err != nil {
		return record{}, fmt.Errorf("%w: %v (%s)", errRecord, d.err, l.Name)
	}
	if len(off) != l.Len() {
		return record{}, fmt.Errorf("%w: a %s record has %d fields, want %d", errRecord, l.Name, len(off), l.Len())
	}
	return record{l: l, raw: raw, off: off}, nil
}

// unpackValues reads the MessagePack values of parts, one after the
// other: the parts of a packed reply (lua/core.lua, packed), in order. It
// reads what Redis's cmsgpack and lua/msgpack.lua write: integers,
// strings (or binary) and nil. It counts the values first, so that the
// slice is allocated once, and its strings share the parts' memory (no
// copy).
func unpackValues(parts ...string) ([]value, error) {
	n := 0
	for _, s := range parts {
		c, err := countValues(s)
		if err != nil {
			return nil, err
		}
		n += c
	}
	vals := make([]value, 0, n)
	for _, s := range parts {
		var err error
		if vals, err = readValues(vals, s); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// countValues returns how many MessagePack values s holds.
func countValues(s string) (int, error) {
	d := mpReader{b: s}
	n := 0
	for len(d.b) > 0 && d.err == nil {
		d.next()
		n++
	}
	if d.err != nil {
		return 0, fmt.Errorf("%w: %v", errRecord, d.err)
	}
	return n, nil
}

// readValues appends the MessagePack values of s to vals.
func readValues(vals []value, s string) ([]value, error) {
	d := mpReader{b: s}
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
	return record{l: l}
}

// field reads field i (0-based, in layout order).
func (r record) field(i int) value {
	if r.off == nil {
		return value{}
	}
	d := mpReader{b: r.raw[r.off[i]:]}
	return d.value()
}

func (r record) str(name string) string { return r.field(r.l.Index(name)).str() }

func (r record) int(name string) int64 { return r.field(r.l.Index(name)).int() }

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

// mpReader reads MessagePack from a string: the strings it returns are
// substrings of it.
type mpReader struct {
	b   string
	err error
}

func (d *mpReader) take(n int) string {
	if d.err != nil {
		return ""
	}
	if n < 0 || n > len(d.b) {
		d.err = errors.New("short input")
		return ""
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *mpReader) uint(n int) uint64 {
	b := d.take(n)
	var v uint64
	for i := 0; i < len(b); i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// Kinds of value next reads.
const (
	mpNil = iota
	mpInt
	mpStr
)

// next reads one scalar: its kind, and the integer or the string it holds.
func (d *mpReader) next() (kind uint8, n int64, s string) {
	if d.err != nil || len(d.b) == 0 {
		d.take(1)
		return mpNil, 0, ""
	}
	c := d.b[0]
	d.b = d.b[1:]
	switch {
	case c <= 0x7f:
		return mpInt, int64(c), ""
	case c >= 0xe0:
		return mpInt, int64(int8(c)), ""
	case c >= 0xa0 && c <= 0xbf:
		return mpStr, 0, d.take(int(c - 0xa0))
	}
	switch c {
	case 0xc0:
		return mpNil, 0, ""
	case 0xc2:
		return mpInt, 0, ""
	case 0xc3:
		return mpInt, 1, ""
	case 0xcc:
		return mpInt, int64(d.uint(1)), ""
	case 0xcd:
		return mpInt, int64(d.uint(2)), ""
	case 0xce:
		return mpInt, int64(d.uint(4)), ""
	case 0xcf:
		return mpInt, int64(d.uint(8)), ""
	case 0xd0:
		return mpInt, int64(int8(d.uint(1))), ""
	case 0xd1:
		return mpInt, int64(int16(d.uint(2))), ""
	case 0xd2:
		return mpInt, int64(int32(d.uint(4))), ""
	case 0xd3:
		return mpInt, int64(d.uint(8)), ""
	case 0xca:
		return mpInt, int64(math.Float32frombits(uint32(d.uint(4)))), ""
	case 0xcb:
		return mpInt, int64(math.Float64frombits(d.uint(8))), ""
	case 0xd9, 0xc4:
		return mpStr, 0, d.take(int(d.uint(1)))
	case 0xda, 0xc5:
		return mpStr, 0, d.take(int(d.uint(2)))
	case 0xdb, 0xc6:
		return mpStr, 0, d.take(int(d.uint(4)))
	}
	d.err = errors.New("unsupported type byte " + strconv.Itoa(int(c)))
	return mpNil, 0, ""
}

// value reads one scalar.
func (d *mpReader) value() value {
	kind, n, s := d.next()
	return value{s: s, n: n, kind: kind}
}

// value is one scalar of a record or of a script's reply: an integer, a
// string, or nil. A struct rather than an any, so that reading a reply
// boxes no integer (an allocation each).
type value struct {
	s    string
	n    int64
	kind uint8 // mpNil, mpInt or mpStr
}

// valueOf is the value of what go-redis read from a RESP reply: an int64,
// a string, or anything else (nil).
func valueOf(x any) value {
	switch x := x.(type) {
	case int64:
		return value{n: x, kind: mpInt}
	case string:
		return value{s: x, kind: mpStr}
	}
	return value{}
}

// int is the value as an integer: a string is read as a decimal (0 if it
// is not one), nil is 0.
func (v value) int() int64 {
	switch v.kind {
	case mpInt:
		return v.n
	case mpStr:
		n, _ := strconv.ParseInt(v.s, 10, 64)
		return n
	}
	return 0
}

// str is the value as text: an integer in decimal, nil as "".
func (v value) str() string {
	switch v.kind {
	case mpStr:
		return v.s
	case mpInt:
		return strconv.FormatInt(v.n, 10)
	}
	return ""
}

// String formats the value for error messages.
func (v value) String() string {
	if v.kind == mpNil {
		return "nil"
	}
	return v.str()
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
			out[f.Name] = r.field(i).str()
		} else {
			out[f.Name] = r.field(i).int()
		}
	}
	return out, nil
}
