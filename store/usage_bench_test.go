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

// redisCPU returns the CPU time Redis's main thread used so far, in µs
// (INFO cpu): unlike the time spent in commands, it does not grow when
// other processes take the machine's cores.
func redisCPU(b *testing.B, rdb redis.UniversalClient) float64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_user_main_thread" || k == "used_cpu_sys_main_thread" {
			s, _ := strconv.ParseFloat(v, 64)
			total += s * 1e6
		}
	}
	return total
}

// BenchmarkCommitRedisTime measures what one Commit of quotabench's run (a
// main agent and a sub-agent: 3 usage groups besides member, origin and
// day) costs Redis, usage buckets included, on a real redis-server: the
// time spent in the script (redis-µs/op, INFO commandstats) and the CPU
// time of Redis's main thread (redis-cpu-µs/op, steadier on a busy
// machine). The reservations, 100 members' each day, are made first,
// outside the measure.
func BenchmarkCommitRedisTime(b *testing.B) {
	rdb := redistest.Backends()[0].New(b)
	ctx := context.Background()
	const members = 100
	svc := fixedService(b, rdb, "bench", numbered("m", members)...)
	run := agentRun("researcher")
	var ids []string
	for i := range b.N {
		o, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: quota.Idem{RequestID: fmt.Sprint("r", i), Fingerprint: "f"},
			WorkspaceID: "bench", MemberID: fmt.Sprint("m", i%members), Amount: 2 * C, Origin: quota.OriginConversation, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, o.Reservation.ID)
	}
	micros, cpu := fcallMicros(b, rdb), redisCPU(b, rdb)
	b.ResetTimer()
	for i, id := range ids {
		if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: quota.Idem{RequestID: fmt.Sprint("c", i), Fingerprint: "f"},
			WorkspaceID: "bench", ReservationID: id, Usage: run}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fcallMicros(b, rdb)-micros)/float64(b.N), "redis-µs/op")
	b.ReportMetric((redisCPU(b, rdb)-cpu)/float64(b.N), "redis-cpu-µs/op")
}
