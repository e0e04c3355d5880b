package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// Memory bounds of issue 7, per record and per run, on Redis (the
// embedded server does not size memory like Redis).
const (
	maxIdemBytes    = 200
	maxHeldResBytes = 512
	maxAccountBytes = 1024
	maxLedgerEntry  = 256
	maxRunBytes     = 1536
)

// usage sums MEMORY USAGE (exact: SAMPLES 0) of every key of rdb's
// database.
func usage(t *testing.T, rdb redis.UniversalClient, pattern string) (total int64, keys int) {
	t.Helper()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		n, err := rdb.MemoryUsage(ctx, iter.Val(), 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		total += n
		keys++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return total, keys
}

// TestRecordsAreCompact checks the memory of each record and of a whole
// Reserve→Commit run with one sub-agent while its records are kept.
func TestRecordsAreCompact(t *testing.T) {
	rdb := redistest.Backends()[0].New(t)
	ctx := context.Background()
	const members = 10
	svc := fixedService(t, rdb, "mem", numbered("member-", members)...)
	run := agentRun("sub")
	// Request ids of a typical caller: UUIDs.
	req := func(kind string, i int) quota.Idem {
		id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i, i%65536, i%4096, i%4096, i)
		return quota.Idem{RequestID: kind + "-" + id, Fingerprint: fmt.Sprintf("%064x", i)}
	}
	cycle := func(i int) quota.Reservation {
		o, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: req("r", i), WorkspaceID: "mem", MemberID: fmt.Sprintf("member-%d", i%members),
			Amount: 10 * C, Origin: quota.OriginConversation})
		if err != nil {
			t.Fatal(err)
		}
		return o.Reservation
	}
	// Warm up: first runs create the indexes and streams.
	for i := range 50 {
		r := cycle(i)
		if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: req("c", i), WorkspaceID: "mem", ReservationID: r.ID, Usage: run}); err != nil {
			t.Fatal(err)
		}
	}
	held := cycle(1_000_000)
	ref, _ := quota.ParseReservationID(held.ID)
	for _, c := range []struct {
		name string
		key  string
		max  int64
	}{
		{"a held reservation", "q:{ws:mem}:res:" + ref.Hex, maxHeldResBytes},
		{"an account", "q:{ws:mem}:acct:member-0", maxAccountBytes},
		{"an idempotency record", "q:{ws:mem}:idem:" + req("c", 7).RequestID, maxIdemBytes},
	} {
		n, err := rdb.MemoryUsage(ctx, c.key, 0).Result()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: %d bytes (at most %d)", c.name, n, c.max)
		if n > c.max {
			t.Errorf("%s takes %d bytes, want at most %d", c.name, n, c.max)
		}
	}

	before, _ := usage(t, rdb, "*")
	beforeLedger, _ := usage(t, rdb, "q:{ws:mem}:ledger")
	entries0, _ := rdb.XLen(ctx, "q:{ws:mem}:ledger").Result()
	const runs = 500
	for i := 100; i < 100+runs; i++ {
		r := cycle(i)
		if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: req("c", i), WorkspaceID: "mem", ReservationID: r.ID, Usage: run}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := usage(t, rdb, "*")
	afterLedger, _ := usage(t, rdb, "q:{ws:mem}:ledger")
	entries1, _ := rdb.XLen(ctx, "q:{ws:mem}:ledger").Result()
	perRun := (after - before) / runs
	perEntry := (afterLedger - beforeLedger) / (entries1 - entries0)
	t.Logf("a Reserve→Commit run with one sub-agent: %d bytes; a ledger entry: %d bytes", perRun, perEntry)
	if perRun > maxRunBytes {
		t.Errorf("a run takes %d bytes of Redis, want at most %d", perRun, maxRunBytes)
	}
	if perEntry > maxLedgerEntry {
		t.Errorf("a ledger entry takes %d bytes, want at most %d", perEntry, maxLedgerEntry)
	}
}
