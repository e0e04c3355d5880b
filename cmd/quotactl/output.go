package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// out writes a command's human output: "key  value" lines and tables,
// their columns aligned (a blank line ends a block of aligned lines), no
// line ending in spaces.
type out struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

// newOut returns an out on w; call flush when done.
func newOut(w io.Writer) *out {
	o := &out{w: w}
	o.tw = tabwriter.NewWriter(&o.buf, 0, 0, 2, ' ', 0)
	return o
}

// kv writes a "key  value" line.
func (o *out) kv(key, value string) { o.row(key, value) }

// row writes one line of cells.
func (o *out) row(cells ...string) {
	o.tw.Write([]byte(strings.Join(cells, "\t") + "\n")) // a bytes.Buffer does not fail
}

// blank writes an empty line, which ends a block of aligned lines.
func (o *out) blank() { o.tw.Write([]byte("\n")) }

// flush writes the lines, trailing spaces (of empty last cells) cut.
func (o *out) flush() error {
	if err := o.tw.Flush(); err != nil {
		return err
	}
	var b bytes.Buffer
	for line := range strings.Lines(o.buf.String()) {
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	_, err := o.w.Write(b.Bytes())
	return err
}

// printJSON writes m as proto JSON, indented by two spaces. protojson
// varies its whitespace on purpose; the output is re-indented with
// encoding/json so that it is stable.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return err
	}
	if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
		return err
	}
	indented.WriteByte('\n')
	_, err = w.Write(indented.Bytes())
	return err
}

// credits spells µcredits as decimal credits.
func credits(micro int64) string { return quota.FormatCredits(micro) }

// capValue spells an optional cap: unset is "unlimited", 0 "0 (none)".
func capValue(c *int64) string {
	switch {
	case c == nil:
		return "unlimited"
	case *c == 0:
		return "0 (none)"
	}
	return credits(*c)
}

// timestamp spells a time in RFC 3339 UTC, to the second (to the
// millisecond when it has a fraction); unset is "-".
func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	tt := t.AsTime().UTC()
	if tt.Nanosecond() != 0 {
		return tt.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return tt.Format(time.RFC3339)
}

// enumName spells an enum value in lower case without its type's prefix,
// dashes for underscores: SEAT_PRO is "pro", GRANT_KIND_TOP_UP "top-up";
// the zero value (..._UNSPECIFIED) is "-".
func enumName(e protoreflect.Enum) string {
	if e.Number() == 0 {
		return "-"
	}
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	return spell(v, enumPrefix(e.Descriptor()))
}

// spell is the name enumName gives the value v of an enum whose value
// names start with prefix.
func spell(v protoreflect.EnumValueDescriptor, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix)), "_", "-")
}

// enumPrefix is the prefix every value name of an enum carries (buf's
// ENUM_VALUE_PREFIX rule): its zero value's name less UNSPECIFIED.
func enumPrefix(d protoreflect.EnumDescriptor) string {
	return strings.TrimSuffix(string(d.Values().ByNumber(0).Name()), "UNSPECIFIED")
}

// parseEnum returns the number of the value of d that enumName spells
// name, ignoring case; the zero value is never one.
func parseEnum(d protoreflect.EnumDescriptor, name string) (protoreflect.EnumNumber, bool) {
	want := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	vals, prefix := d.Values(), enumPrefix(d)
	for i := 1; i < vals.Len(); i++ {
		v := vals.Get(i)
		if v.Number() != 0 && strings.TrimPrefix(string(v.Name()), prefix) == want {
			return v.Number(), true
		}
	}
	return 0, false
}

// enumNames lists the names enumName gives d's values, zero excepted.
func enumNames(d protoreflect.EnumDescriptor) []string {
	var names []string
	vals := d.Values()
	prefix := enumPrefix(d)
	for i := 0; i < vals.Len(); i++ {
		if v := vals.Get(i); v.Number() != 0 {
			names = append(names, spell(v, prefix))
		}
	}
	return names
}

// sourceAmounts spells amounts per source: "seat 50, pool g1 30"; none is
// "-".
func sourceAmounts(s []*quotav1.SourceAmount) string {
	if len(s) == 0 {
		return "-"
	}
	parts := make([]string, len(s))
	for i, a := range s {
		p := enumName(a.GetSource())
		if a.GetGrantId() != "" {
			p += " " + a.GetGrantId()
		}
		parts[i] = p + " " + credits(a.GetAmount())
	}
	return strings.Join(parts, ", ")
}

// yesNo spells a bool.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// integer spells a count (of tokens) with thousands separated by
// commas, as credits are.
func integer(n int64) string {
	if n > math.MaxInt64/quota.Credit || n < math.MinInt64/quota.Credit {
		return strconv.FormatInt(n, 10) // 9.2 trillion: beyond any count the API returns
	}
	return quota.FormatCredits(n * quota.Credit)
}
