package main

import (
	"reflect"
	"strings"
	"testing"
)

// The same histograms as Redis 7 answers them in RESP3 (maps, which Go
// iterates in any order) and in RESP2 (arrays of keys and values).
func TestParseLatencyHistogram(t *testing.T) {
	want := map[string]latencyHist{
		"fcall":   {Calls: 10, Buckets: []latencyBucket{{16, 2}, {33, 7}, {66, 9}, {1056, 10}}},
		"evalsha": {Calls: 1, Buckets: []latencyBucket{{4, 1}}},
	}
	resp3 := map[any]any{
		"fcall":   map[any]any{"calls": int64(10), "histogram_usec": map[any]any{int64(66): int64(9), int64(16): int64(2), int64(1056): int64(10), int64(33): int64(7)}},
		"evalsha": map[any]any{"calls": int64(1), "histogram_usec": map[any]any{int64(4): int64(1)}},
	}
	resp2 := []any{
		"fcall", []any{"calls", int64(10), "histogram_usec", []any{int64(16), int64(2), int64(33), int64(7), int64(66), int64(9), int64(1056), int64(10)}},
		"evalsha", []any{"calls", int64(1), "histogram_usec", []any{int64(4), int64(1)}},
	}
	for name, v := range map[string]any{"RESP3": resp3, "RESP2": resp2} {
		got, err := parseLatencyHistogram(v)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: parseLatencyHistogram = %+v, %v; want %+v", name, got, err, want)
		}
	}
	for name, v := range map[string]any{
		"not pairs":          "fcall",
		"odd array":          []any{"fcall"},
		"calls not a number": []any{"fcall", []any{"calls", "ten"}},
		"bucket not numbers": []any{"fcall", []any{"histogram_usec", []any{"16", int64(2)}}},
		"name not a string":  []any{int64(1), []any{}},
	} {
		if _, err := parseLatencyHistogram(v); err == nil || !strings.Contains(err.Error(), "LATENCY HISTOGRAM") {
			t.Errorf("%s: error %v, want one that names LATENCY HISTOGRAM", name, err)
		}
	}
}

// A phase's distribution is what each bound gained between the readings,
// over every script command; a bound met only after counts what was below
// it before.
func TestLatencyDeltaAndQuantiles(t *testing.T) {
	before := map[string]latencyHist{
		"fcall":   {Calls: 100, Buckets: []latencyBucket{{33, 90}, {66, 100}}},
		"evalsha": {Calls: 5, Buckets: []latencyBucket{{16, 5}}},
	}
	after := map[string]latencyHist{
		// 1,000 more calls: 890 up to 33 µs, 100 up to 66, 9 up to 264, 1 up to 2,112.
		"fcall": {Calls: 1100, Buckets: []latencyBucket{{33, 980}, {66, 1090}, {264, 1099}, {2112, 1100}}},
		// Unchanged.
		"evalsha": {Calls: 5, Buckets: []latencyBucket{{16, 5}}},
		// A command that was not called.
		"eval": {},
	}
	l := latencyDelta(before, after)
	want := []latencyBucket{{16, 0}, {33, 890}, {66, 990}, {264, 999}, {2112, 1000}}
	if l.Calls != 1000 || !reflect.DeepEqual(l.Buckets, want) {
		t.Fatalf("latencyDelta = %+v, want 1000 calls in %+v", l, want)
	}
	for q, b := range map[float64]int64{0.5: 33, 0.89: 33, 0.9: 66, 0.99: 66, 0.999: 264, 1: 2112} {
		if got := l.Quantile(q); got != b {
			t.Errorf("Quantile(%g) = %d µs, want %d", q, got, b)
		}
	}
	if got, want := l.String(), "p50 ≤ 33 µs, p99 ≤ 66 µs, p99.9 ≤ 264 µs"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if none := latencyDelta(after, after); none.Calls != 0 || none.Quantile(0.99) != 0 {
		t.Errorf("latencyDelta of one reading = %+v, want no calls", none)
	}
	// The first reading of a server that never ran a script is empty.
	if first := latencyDelta(nil, after); first.Calls != 1105 {
		t.Errorf("latencyDelta from nothing = %d calls, want 1105", first.Calls)
	}
}
