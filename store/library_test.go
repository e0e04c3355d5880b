package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/quota-svc/quota/store/redistest"
)

// functionLoads is how many FUNCTION LOAD calls Redis has served.
func functionLoads(t *testing.T, rdb redis.UniversalClient) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_function|load:calls="); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest+",", ',')], 10, 64)
			return n
		}
	}
	return 0
}

// TestALostLibraryIsLoadedOnce flushes Redis's functions under a store
// that has loaded its library (as a restart or a failover to a replica
// without it would lose it), then makes 50 calls at once: every one
// succeeds, and the library is loaded again once, not once per call that
// found it missing (each load blocks Redis while it compiles the
// library).
func TestALostLibraryIsLoadedOnce(t *testing.T) {
	for _, b := range redistest.Backends() {
		if b.Name != "redis" { // the embedded server has no Functions
			continue
		}
		rdb := b.New(t)
		ctx := context.Background()
		now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
		svc := quota.NewService(store.New(rdb, store.Options{}), quota.Config{Now: func() time.Time { return now }})
		if _, err := svc.SetWorkspace(ctx, quota.Idem{RequestID: "ws", Fingerprint: "ws"}, quota.Workspace{ID: "ws1", SubscriptionStart: anchor}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetSeat(ctx, quota.Idem{RequestID: "seat", Fingerprint: "seat"}, "ws1", "m", quota.SeatPro); err != nil {
			t.Fatal(err)
		}
		if err := rdb.FunctionFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		before := functionLoads(t, rdb)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				<-start
				if _, err := svc.GetBalance(ctx, "ws1", "m"); err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a call after the library was lost: %v", err)
		}
		if loads := functionLoads(t, rdb) - before; loads != 1 {
			t.Errorf("the library was loaded %d times for 50 calls that found it missing, want once", loads)
		}
	}
}
