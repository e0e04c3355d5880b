package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is HDR-style (log-linear): values below 2*histSub
// nanoseconds have a bucket each; above, every power of two is split into
// histSub buckets, so a bucket's width is under 1/histSub (0.8%) of its
// values. Values above histMax are counted as histMax; the true maximum is
// kept apart.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histMaxBits = 40 // 2^40 ns ≈ 18 minutes
	histMax     = 1<<histMaxBits - 1
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

// hist is a latency histogram safe for concurrent Record calls. Its memory
// is fixed (histBuckets counters), whatever the length of the run.
type hist struct {
	counts [histBuckets]atomic.Int64
	n      atomic.Int64
	sum    atomic.Int64 // ns
	max    atomic.Int64 // ns
}

// bucketOf returns the bucket of v nanoseconds.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > histMax {
		v = histMax
	}
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	e := bits.Len64(u) - histSubBits - 1
	return e*histSub + int(u>>e)
}

// bucketTop returns the largest value of bucket i, in nanoseconds.
func bucketTop(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	e := i/histSub - 1
	m := int64(i - e*histSub)
	return (m+1)<<e - 1
}

// Record adds one latency.
func (h *hist) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count returns how many latencies were recorded.
func (h *hist) Count() int64 { return h.n.Load() }

// Max returns the largest latency recorded.
func (h *hist) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the mean latency, 0 when none was recorded.
func (h *hist) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the latency at or below which a fraction q (0 < q ≤ 1)
// of the recorded latencies fall: the top of the bucket that holds the
// ceil(q·n)-th smallest value, never above the maximum. It is 0 when
// nothing was recorded.
func (h *hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketTop(i), h.max.Load()))
		}
	}
	return h.Max()
}
