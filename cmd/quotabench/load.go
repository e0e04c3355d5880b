package main

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// plan says how a phase paces its ops and when it stops.
type plan struct {
	// Workers is how many ops run at once.
	Workers int
	// Count, when not 0, is the most ops the phase runs.
	Count int64
	// Duration bounds the phase: no op starts after it (closed loop), no
	// op is due after it (open loop).
	Duration time.Duration
	// Rate, when not 0, makes an open loop: op i is due at start +
	// i/Rate seconds, whether or not earlier ops have ended.
	Rate float64
	// Grace is how long past Duration an open loop may still start ops
	// that were due before it (its backlog); those it cannot start by then
	// are counted as Missed.
	Grace time.Duration
}

// opFunc runs op number i (0, 1, ...) on worker w (0 ≤ w < Workers). due is
// when the op was due: its scheduled time in an open loop, the time it
// starts in a closed loop. Its latency counts from due. ctx is not
// canceled when the phase is interrupted; each call bounds itself.
type opFunc func(ctx context.Context, w int, i int64, due time.Time)

// loopResult is what runLoop did.
type loopResult struct {
	// Started is how many ops started.
	Started int64
	// Scheduled is, in an open loop, how many ops were due within the
	// phase (Started + Missed); in a closed loop, Started.
	Scheduled int64
	// Missed is, in an open loop, how many due ops were never started
	// because the backlog outlived Grace or the phase was interrupted.
	Missed int64
	// Elapsed is from the start to the end of the last op.
	Elapsed time.Duration
}

// progressEvery is the period of the progress callback.
const progressEvery = time.Second

// runLoop runs op on p.Workers workers until p's count or duration is
// reached or ctx ends, and calls tick every progressEvery meanwhile. It
// returns once every op started has ended.
func runLoop(ctx context.Context, p plan, op opFunc, tick func(elapsed time.Duration)) loopResult {
	start := time.Now()
	end := start.Add(p.Duration)
	opCtx := context.WithoutCancel(ctx)
	var next, started atomic.Int64
	var wg sync.WaitGroup
	for w := range p.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if p.Count > 0 && i >= p.Count {
					return
				}
				due := time.Now()
				if p.Rate > 0 {
					due = start.Add(dueOffset(i, p.Rate))
					if !due.Before(end) {
						return
					}
					if !sleepUntil(ctx, due) || time.Now().After(end.Add(p.Grace)) {
						return
					}
				} else if !due.Before(end) {
					return
				}
				started.Add(1)
				op(opCtx, w, i, due)
			}
		})
	}
	done := make(chan struct{})
	var ticks sync.WaitGroup
	if tick != nil {
		ticks.Go(func() {
			t := time.NewTicker(progressEvery)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case now := <-t.C:
					tick(now.Sub(start))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(done)
	ticks.Wait()
	r := loopResult{Started: started.Load(), Elapsed: elapsed}
	r.Scheduled = r.Started
	if p.Rate > 0 {
		r.Scheduled = scheduledOps(p)
		r.Missed = r.Scheduled - r.Started
	}
	return r
}

// dueOffset is when op i of an open loop at rate ops/s is due, from the
// start.
func dueOffset(i int64, rate float64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// scheduledOps is how many ops an open loop schedules: those due before
// p.Duration, at most p.Count.
func scheduledOps(p plan) int64 {
	n := int64(math.Ceil(p.Duration.Seconds() * p.Rate))
	// Settle float rounding with the very test the loop makes.
	for n > 0 && dueOffset(n-1, p.Rate) >= p.Duration {
		n--
	}
	for dueOffset(n, p.Rate) < p.Duration {
		n++
	}
	if p.Count > 0 {
		n = min(n, p.Count)
	}
	return n
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
