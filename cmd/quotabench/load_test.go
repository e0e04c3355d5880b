package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

// recorder is an opFunc that records which ops ran, and when they were due.
type recorder struct {
	mu   sync.Mutex
	due  map[int64]time.Time
	runs map[int64]int
	bad  []int
}

func newRecorder() *recorder {
	return &recorder{due: map[int64]time.Time{}, runs: map[int64]int{}}
}

func (r *recorder) op(workers int) opFunc {
	return func(_ context.Context, w int, i int64, due time.Time) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if w < 0 || w >= workers {
			r.bad = append(r.bad, w)
		}
		r.runs[i]++
		r.due[i] = due
	}
}

// check fails unless ops 0..n-1 each ran once and no other did.
func (r *recorder) check(t *testing.T, n int64) {
	t.Helper()
	if len(r.bad) > 0 {
		t.Errorf("ops ran on workers out of range: %v", r.bad)
	}
	if int64(len(r.runs)) != n {
		t.Errorf("%d distinct ops ran, want %d", len(r.runs), n)
	}
	for i := range n {
		if r.runs[i] != 1 {
			t.Errorf("op %d ran %d times, want once", i, r.runs[i])
		}
	}
}

func TestClosedLoopRunsCountOps(t *testing.T) {
	rec := newRecorder()
	p := plan{Workers: 8, Count: 1000, Duration: time.Hour}
	got := runLoop(context.Background(), p, rec.op(p.Workers), nil)
	if got.Started != 1000 || got.Scheduled != 1000 || got.Missed != 0 {
		t.Errorf("runLoop = %+v, want 1000 started and scheduled, none missed", got)
	}
	rec.check(t, 1000)
}

func TestOpenLoopIssuesTheScheduledOps(t *testing.T) {
	tests := []struct {
		name string
		p    plan
		want int64
	}{
		{"by duration", plan{Workers: 4, Rate: 2000, Duration: 100 * time.Millisecond, Grace: time.Hour}, 200},
		{"by count", plan{Workers: 3, Rate: 5000, Count: 70, Duration: time.Hour, Grace: time.Hour}, 70},
		{"fewer workers than ops at once", plan{Workers: 1, Rate: 1e5, Duration: 10 * time.Millisecond, Grace: time.Hour}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			got := runLoop(context.Background(), tt.p, rec.op(tt.p.Workers), nil)
			if got.Started != tt.want || got.Scheduled != tt.want || got.Missed != 0 {
				t.Errorf("runLoop = %+v, want %d started and scheduled, none missed", got, tt.want)
			}
			rec.check(t, tt.want)
			// Each op is due at a fixed offset from the first, whether or
			// not the ones before it had ended.
			for i := range tt.want {
				if got, want := rec.due[i].Sub(rec.due[0]), dueOffset(i, tt.p.Rate); got != want {
					t.Fatalf("op %d due %s after op 0, want %s", i, got, want)
				}
			}
		})
	}
}

// TestOpenLoopCountsMissedOps: ops due before the end that cannot start
// within the grace are missed, not silently dropped.
func TestOpenLoopCountsMissedOps(t *testing.T) {
	p := plan{Workers: 1, Rate: 1000, Duration: 50 * time.Millisecond}
	op := func(_ context.Context, _ int, i int64, due time.Time) {
		if i == 0 { // op 0 is due at the start: it outlives the phase and its grace
			time.Sleep(time.Until(due.Add(p.Duration + 10*time.Millisecond)))
		}
	}
	got := runLoop(context.Background(), p, op, nil)
	if got.Scheduled != 50 || got.Started != 1 || got.Missed != 49 {
		t.Errorf("runLoop = %+v, want 50 scheduled, 1 started, 49 missed", got)
	}
}

func TestScheduledOps(t *testing.T) {
	tests := []struct {
		p    plan
		want int64
	}{
		{plan{Rate: 3, Duration: time.Second}, 3}, // due at 0, 1/3 s, 2/3 s
		{plan{Rate: 1000, Duration: 100 * time.Millisecond}, 100},
		{plan{Rate: 0.5, Duration: 10 * time.Second}, 5},
		{plan{Rate: 0.5, Duration: 10*time.Second + 1}, 6},
		{plan{Rate: 1000, Duration: time.Second, Count: 10}, 10},
		{plan{Rate: 7, Duration: time.Nanosecond}, 1},
	}
	for _, tt := range tests {
		if got := scheduledOps(tt.p); got != tt.want {
			t.Errorf("scheduledOps(rate %g, %s, count %d) = %d, want %d", tt.p.Rate, tt.p.Duration, tt.p.Count, got, tt.want)
		}
	}
}

func TestInterruptedLoopStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n int64
	var mu sync.Mutex
	op := func(context.Context, int, int64, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if n++; n == 10 {
			cancel()
		}
	}
	got := runLoop(ctx, plan{Workers: 2, Duration: time.Hour}, op, nil)
	if got.Started < 10 || got.Started > 12 {
		t.Errorf("runLoop started %d ops after an interrupt at the 10th, want 10 to 12", got.Started)
	}
}

func TestMixPattern(t *testing.T) {
	counts := map[string]int{}
	for i := range int64(200) {
		counts[opKind(workloadMix, i)]++
	}
	want := map[string]int{kindCycle: 120, kindRefund: 30, kindExtend: 30, kindDeny: 20}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("mix: %d %s ops in 200, want %d", counts[k], k, n)
		}
	}
}

func TestRoundRobinKeys(t *testing.T) {
	k := keyspace{prefix: "b", workspaces: 2, members: 3, roundRobin: true}
	var got []string
	for i := range int64(7) {
		ws, m := k.pick(nil, i)
		got = append(got, ws+"/"+m)
	}
	want := []string{"b-0/m0", "b-1/m0", "b-0/m1", "b-1/m1", "b-0/m2", "b-1/m2", "b-0/m0"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("round-robin picks = %v, want %v", got, want)
		}
	}
}
