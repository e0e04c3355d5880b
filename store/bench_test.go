package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// fcallMicros returns the µs Redis spent in script calls so far (INFO
// commandstats: FCALL, EVALSHA and EVAL).
func fcallMicros(b *testing.B, rdb redis.UniversalClient) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for line := range strings.SplitSeq(info, "\n") {
		for _, cmd := range []string{"cmdstat_fcall:", "cmdstat_evalsha:", "cmdstat_eval:"} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				for f := range strings.SplitSeq(rest, ",") {
					if v, ok := strings.CutPrefix(f, "usec="); ok {
						n, _ := strconv.ParseInt(v, 10, 64)
						total += n
					}
				}
			}
		}
	}
	return total
}

// BenchmarkRootCommitOfAFullRun measures the root Commit of a run with the
// most reservations a run may have (quota.MaxRunReservations): with every
// child committed (each with a 10-agent usage tree: the run's agents at
// the limit), and with the most children a run may hold at once
// (quota.MaxRunHeld) still held, which the root's Commit voids. It
// reports the Redis time of that one call (redis-ms/op).
func BenchmarkRootCommitOfAFullRun(b *testing.B) {
	for _, state := range []string{"committed", "held"} {
		b.Run("children_"+state, func(b *testing.B) {
			rdb := redistest.Backends()[0].New(b)
			ctx := context.Background()
			svc := fixedService(b, rdb, "full")
			var redisMicros int64
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				member := fmt.Sprintf("m%d", i)
				if _, err := svc.SetSeat(ctx, quota.Idem{RequestID: "seat-" + member, Fingerprint: "s"}, "full", member, quota.SeatMax); err != nil {
					b.Fatal(err)
				}
				req := func(s string) quota.Idem { return quota.Idem{RequestID: member + "-" + s, Fingerprint: "f"} }
				o, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: req("root"), WorkspaceID: "full", MemberID: member,
					Amount: 30_000 * C, Origin: quota.OriginConversation, TTL: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				root := o.Reservation.ID
				for k := range quota.MaxRunReservations - 1 {
					c, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: req(fmt.Sprint("kid", k)), WorkspaceID: "full", ParentID: root, Amount: 10 * C})
					if err != nil {
						b.Fatal(err)
					}
					if state == "committed" || k < quota.MaxRunReservations-1-quota.MaxRunHeld {
						if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: req(fmt.Sprint("kc", k)), WorkspaceID: "full",
							ReservationID: c.Reservation.ID, Usage: agents(fmt.Sprint("k", k), 10)}); err != nil {
							b.Fatal(err)
						}
					}
				}
				before := fcallMicros(b, rdb)
				b.StartTimer()
				if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: req("commit"), WorkspaceID: "full", ReservationID: root,
					Usage: tokens("main", 1)}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				redisMicros += fcallMicros(b, rdb) - before
				b.StartTimer()
			}
			b.ReportMetric(float64(redisMicros)/float64(b.N)/1000, "redis-ms/op")
		})
	}
}
