package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// scriptCalls returns the longest script call (FCALL, EVALSHA, EVAL) in
// the slow log since resetSlowLog, their time in all and how many there
// were.
func scriptCalls(tb testing.TB, rdb redis.UniversalClient) (longest, total time.Duration, n int) {
	tb.Helper()
	logs, err := rdb.SlowLogGet(context.Background(), -1).Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range logs {
		if len(l.Args) == 0 {
			continue
		}
		switch l.Args[0] {
		case "fcall", "evalsha", "eval", "FCALL", "EVALSHA", "EVAL":
			n++
			total += l.Duration
			longest = max(longest, l.Duration)
		}
	}
	return longest, total, n
}

// scriptStats sums what scriptCalls reads over a benchmark's iterations.
type scriptStats struct {
	longest, total time.Duration
	calls          int
}

// add reads the slow log into s.
func (s *scriptStats) add(tb testing.TB, rdb redis.UniversalClient) {
	tb.Helper()
	l, t, n := scriptCalls(tb, rdb)
	s.longest, s.total, s.calls = max(s.longest, l), s.total+t, s.calls+n
}

// report reports the longest script call (longest-ms), the mean one
// (mean-ms) and the script calls per iteration (calls/op).
func (s *scriptStats) report(b *testing.B) {
	b.ReportMetric(float64(s.longest.Microseconds())/1000, "longest-ms")
	if s.calls > 0 {
		b.ReportMetric(float64(s.total.Microseconds())/1000/float64(s.calls), "mean-ms")
	}
	b.ReportMetric(float64(s.calls)/float64(b.N), "calls/op")
}

// resetSlowLog makes the slow log record every command from now on.
func resetSlowLog(tb testing.TB, rdb redis.UniversalClient) {
	tb.Helper()
	ctx := context.Background()
	for _, err := range []error{
		rdb.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(),
		rdb.ConfigSet(ctx, "slowlog-max-len", "100000").Err(),
		rdb.Do(ctx, "SLOWLOG", "RESET").Err(),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkBackgroundWork measures the calls that catch up on work that
// piled up (issue 7: no script call over 1 ms): releasing 1,000 holds that
// expired together (a client that crashed with its runs held), by the
// sweeper and by a Reserve that meets them, and deleting settled runs of
// the most reservations a run may have past the run retention. It
// reports the longest and the mean script call (longest-ms, mean-ms:
// Redis's time, from the slow log) and the script calls the work took
// (calls/op). Its set-up is heavy: run it with
// -benchtime 3x.
func BenchmarkBackgroundWork(b *testing.B) {
	const due = 1000
	ctx := context.Background()
	expired := func(b *testing.B, svc *quota.Service, now *time.Time, i int) {
		for k := range due {
			member := fmt.Sprintf("m%d", k%50)
			if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: quota.Idem{RequestID: fmt.Sprintf("r%d-%d", i, k), Fingerprint: "f"},
				WorkspaceID: "bg", MemberID: member, Amount: C, Origin: quota.OriginConversation, TTL: time.Second}); err != nil {
				b.Fatal(err)
			}
		}
		*now = now.Add(time.Minute)
	}
	bench(b, "sweep_1000_expired", store.Options{}, expired, func(b *testing.B, svc *quota.Service, i int) {
		if st, err := svc.Sweep(ctx, due); err != nil || st.Released != due {
			b.Fatalf("sweep: %+v, %v", st, err)
		}
	}, nil)
	bench(b, "reserve_meets_1000_expired", store.Options{}, expired, func(b *testing.B, svc *quota.Service, i int) {
		// It releases its bound of them before it decides and answers.
		if _, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: quota.Idem{RequestID: fmt.Sprint("big", i), Fingerprint: "f"},
			WorkspaceID: "bg", MemberID: "m0", Amount: C, Origin: quota.OriginConversation, TTL: time.Second}); err != nil {
			b.Fatal(err)
		}
	}, func(b *testing.B, svc *quota.Service) {
		if _, err := svc.Sweep(ctx, 100*due); err != nil { // the rest, before the next round
			b.Fatal(err)
		}
	})
	settled := func(b *testing.B, svc *quota.Service, now *time.Time, i int) {
		for r := range 2 {
			req := func(s string, k int) quota.Idem {
				return quota.Idem{RequestID: fmt.Sprintf("%d-%d-%s%d", i, r, s, k), Fingerprint: "f"}
			}
			o, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: req("root", 0), WorkspaceID: "bg", MemberID: "m1",
				Amount: 1000 * C, Origin: quota.OriginConversation, TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			for k := range quota.MaxRunReservations - 1 {
				c, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: req("kid", k), WorkspaceID: "bg", ParentID: o.Reservation.ID, Amount: 1})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: req("kc", k), WorkspaceID: "bg", ReservationID: c.Reservation.ID,
					Usage: agents("k", 1)}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: req("commit", 0), WorkspaceID: "bg", ReservationID: o.Reservation.ID,
				Usage: agents("main", 1)}); err != nil {
				b.Fatal(err)
			}
		}
		*now = now.Add(2 * time.Hour)
	}
	bench(b, "retain_2_full_runs", store.Options{RunRetention: time.Hour}, settled, func(b *testing.B, svc *quota.Service, i int) {
		if st, err := svc.Sweep(ctx, due); err != nil || st.Purged != 2 {
			b.Fatalf("sweep: %+v, %v", st, err)
		}
	}, nil)
}

// bench runs a sub-benchmark of BenchmarkBackgroundWork on a Redis of its
// own: each iteration runs setup, then work, timed and with the slow log
// recording every script call, then after (if any), and it reports the
// script calls' times (scriptStats).
func bench(b *testing.B, name string, o store.Options, setup func(*testing.B, *quota.Service, *time.Time, int),
	work func(*testing.B, *quota.Service, int), after func(*testing.B, *quota.Service)) {
	b.Run(name, func(b *testing.B) {
		rdb := redistest.Backends()[0].New(b)
		svc, now := clockedService(b, rdb, o)
		var stats scriptStats
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			setup(b, svc, now, i)
			resetSlowLog(b, rdb)
			b.StartTimer()
			work(b, svc, i)
			b.StopTimer()
			stats.add(b, rdb)
			if after != nil {
				after(b, svc)
			}
			b.StartTimer()
		}
		stats.report(b)
	})
}
