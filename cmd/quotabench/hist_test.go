package main

import (
	"testing"
	"time"
)

// TestBucketsCoverEveryValue checks that a value falls in a bucket whose
// top is at or above it and within 1/histSub of it, and that buckets are
// contiguous.
func TestBucketsCoverEveryValue(t *testing.T) {
	var values []int64
	for v := range int64(5000) {
		values = append(values, v)
	}
	for v := int64(5000); v < histMax; v = v*9/8 + 7 {
		values = append(values, v-1, v, v+1)
	}
	values = append(values, histMax)
	for _, v := range values {
		i := bucketOf(v)
		top := bucketTop(i)
		if top < v {
			t.Fatalf("bucketTop(bucketOf(%d)) = %d, below the value", v, top)
		}
		if float64(top-v) > float64(v)/histSub {
			t.Fatalf("bucket of %d tops at %d: more than 1/%d above", v, top, histSub)
		}
		if i > 0 && bucketTop(i-1) >= v {
			t.Fatalf("%d is in bucket %d but the bucket before tops at %d", v, i, bucketTop(i-1))
		}
	}
	if got := bucketOf(histMax * 4); got != histBuckets-1 {
		t.Errorf("bucketOf(above the max) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestQuantilesOfKnownInputs(t *testing.T) {
	t.Run("1 to 1000 µs", func(t *testing.T) {
		h := new(hist)
		for i := 1000; i >= 1; i-- { // order does not matter
			h.Record(time.Duration(i) * time.Microsecond)
		}
		tests := []struct {
			q    float64
			want time.Duration
		}{
			{0.5, 500 * time.Microsecond},
			{0.99, 990 * time.Microsecond},
			{0.999, 999 * time.Microsecond},
			{1, 1000 * time.Microsecond},
		}
		for _, tt := range tests {
			got := h.Quantile(tt.q)
			if got < tt.want || float64(got-tt.want) > float64(tt.want)/histSub {
				t.Errorf("Quantile(%g) = %s, want %s to %s above", tt.q, got, tt.want, time.Duration(float64(tt.want)/histSub))
			}
		}
		if got, want := h.Max(), 1000*time.Microsecond; got != want {
			t.Errorf("Max = %s, want %s", got, want)
		}
		if got, want := h.Mean(), 500500*time.Nanosecond; got != want {
			t.Errorf("Mean = %s, want %s", got, want)
		}
		if got := h.Count(); got != 1000 {
			t.Errorf("Count = %d, want 1000", got)
		}
	})
	t.Run("small values are exact", func(t *testing.T) {
		h := new(hist)
		for i := 1; i <= 100; i++ {
			h.Record(time.Duration(i))
		}
		for q, want := range map[float64]time.Duration{0.01: 1, 0.5: 50, 0.99: 99, 0.999: 100, 1: 100} {
			if got := h.Quantile(q); got != want {
				t.Errorf("Quantile(%g) = %d ns, want %d ns", q, got, want)
			}
		}
	})
	t.Run("one outlier", func(t *testing.T) {
		h := new(hist)
		for range 999 {
			h.Record(time.Millisecond)
		}
		h.Record(3 * time.Second)
		if got := h.Quantile(0.99); got < time.Millisecond || got > time.Millisecond*129/128 {
			t.Errorf("p99 = %s, want 1ms", got)
		}
		if got := h.Quantile(0.999); got < time.Millisecond || got > time.Millisecond*129/128 {
			t.Errorf("p99.9 = %s, want 1ms (the 999th of 1000 values)", got)
		}
		if got := h.Quantile(1); got != 3*time.Second {
			t.Errorf("p100 = %s, want the max, 3s", got)
		}
	})
	t.Run("empty", func(t *testing.T) {
		h := new(hist)
		if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
			t.Errorf("an empty histogram reports %s, %s, %s; want zeros", h.Quantile(0.5), h.Max(), h.Mean())
		}
	})
}
