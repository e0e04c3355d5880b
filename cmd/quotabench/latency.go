package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis's own latency of the scripts. Since 7.0 Redis keeps a histogram of
// every command's time (latency-tracking, on by default): LATENCY
// HISTOGRAM reports it as cumulative counts of calls at bucket bounds
// about a power of two of µs apart (1, 2, 4, ... 33, 66, ... 1056, ...).
// Read before and after a phase, it gives the phase's distribution of
// the time Redis spent in each script call: which part of the ops' tail
// latency the scripts themselves account for, and which part is spent
// elsewhere (quotad, the network, waiting for a core).

// latencyBucket says how many calls took at most UpTo µs (cumulative).
type latencyBucket struct{ UpTo, Calls int64 }

// latencyHist is one command's histogram: its calls and its buckets in
// ascending order of UpTo.
type latencyHist struct {
	Calls   int64
	Buckets []latencyBucket
}

// at returns how many calls took at most b µs by the histogram: the
// cumulative count of the largest bucket bound not above b.
func (h latencyHist) at(b int64) int64 {
	var n int64
	for _, k := range h.Buckets {
		if k.UpTo > b {
			break
		}
		n = k.Calls
	}
	return n
}

// readLatency returns Redis's latency histograms of the script commands
// called so far. A server without LATENCY HISTOGRAM (before Redis 7, the
// embedded one) answers an error.
func readLatency(ctx context.Context, rdb redis.UniversalClient) (map[string]latencyHist, error) {
	args := []any{"LATENCY", "HISTOGRAM"}
	for _, c := range scriptCommands {
		args = append(args, c)
	}
	v, err := rdb.Do(ctx, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("LATENCY HISTOGRAM: %w", err)
	}
	return parseLatencyHistogram(v)
}

// parseLatencyHistogram reads a LATENCY HISTOGRAM reply, as RESP3 maps or
// RESP2 arrays of pairs: {command: {"calls": n, "histogram_usec": {bound:
// cumulative calls, ...}}, ...}.
func parseLatencyHistogram(v any) (map[string]latencyHist, error) {
	top, err := pairs(v)
	if err != nil {
		return nil, fmt.Errorf("LATENCY HISTOGRAM: %w", err)
	}
	out := map[string]latencyHist{}
	for _, p := range top {
		name, ok := p[0].(string)
		if !ok {
			return nil, fmt.Errorf("LATENCY HISTOGRAM: command name %v", p[0])
		}
		fields, err := pairs(p[1])
		if err != nil {
			return nil, fmt.Errorf("LATENCY HISTOGRAM %s: %w", name, err)
		}
		var h latencyHist
		for _, f := range fields {
			switch f[0] {
			case "calls":
				h.Calls, ok = f[1].(int64)
				if !ok {
					return nil, fmt.Errorf("LATENCY HISTOGRAM %s: calls %v", name, f[1])
				}
			case "histogram_usec":
				buckets, err := pairs(f[1])
				if err != nil {
					return nil, fmt.Errorf("LATENCY HISTOGRAM %s: %w", name, err)
				}
				for _, b := range buckets {
					upTo, ok1 := b[0].(int64)
					calls, ok2 := b[1].(int64)
					if !ok1 || !ok2 {
						return nil, fmt.Errorf("LATENCY HISTOGRAM %s: bucket %v", name, b)
					}
					h.Buckets = append(h.Buckets, latencyBucket{UpTo: upTo, Calls: calls})
				}
				// A RESP3 map comes unordered.
				slices.SortFunc(h.Buckets, func(a, b latencyBucket) int { return int(a.UpTo - b.UpTo) })
			}
		}
		out[strings.ToLower(name)] = h
	}
	return out, nil
}

// pairs returns the key-value pairs of a RESP3 map or of a RESP2 array
// of keys and values one after the other.
func pairs(v any) ([][2]any, error) {
	switch t := v.(type) {
	case map[any]any:
		out := make([][2]any, 0, len(t))
		for k, v := range t {
			out = append(out, [2]any{k, v})
		}
		return out, nil
	case []any:
		if len(t)%2 != 0 {
			return nil, fmt.Errorf("an odd number of values (%d) for key-value pairs", len(t))
		}
		out := make([][2]any, 0, len(t)/2)
		for i := 0; i < len(t); i += 2 {
			out = append(out, [2]any{t[i], t[i+1]})
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %T where key-value pairs were expected", v)
}

// scriptLatency is the distribution of the time Redis spent in the script
// calls of a phase, all script commands together.
type scriptLatency struct {
	Calls   int64
	Buckets []latencyBucket
}

// latencyDelta returns the script calls' distribution between two
// readings: at each bucket bound, the calls counted after less those
// counted before, summed over the script commands.
func latencyDelta(before, after map[string]latencyHist) scriptLatency {
	var bounds []int64
	for _, c := range scriptCommands {
		for _, b := range after[c].Buckets {
			bounds = append(bounds, b.UpTo)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var l scriptLatency
	for _, b := range bounds {
		var n int64
		for _, c := range scriptCommands {
			n += after[c].at(b) - before[c].at(b)
		}
		l.Buckets = append(l.Buckets, latencyBucket{UpTo: b, Calls: n})
	}
	if k := len(l.Buckets); k > 0 {
		l.Calls = l.Buckets[k-1].Calls
	}
	return l
}

// Quantile returns the bucket bound (µs) that q of the calls took at
// most, 0 with no call.
func (l scriptLatency) Quantile(q float64) int64 {
	if l.Calls == 0 {
		return 0
	}
	for _, b := range l.Buckets {
		if float64(b.Calls) >= q*float64(l.Calls) {
			return b.UpTo
		}
	}
	return l.Buckets[len(l.Buckets)-1].UpTo
}

// String renders the percentiles of the reports, e.g. "p50 ≤ 66 µs,
// p99 ≤ 262 µs, p99.9 ≤ 1056 µs".
func (l scriptLatency) String() string {
	parts := make([]string, len(percentiles))
	for i, p := range percentiles {
		parts[i] = fmt.Sprintf("%s ≤ %d µs", p.name, l.Quantile(p.q))
	}
	return strings.Join(parts, ", ")
}
