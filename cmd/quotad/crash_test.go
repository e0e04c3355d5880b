//go:build linux

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/durationpb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

const (
	// abandonedHolds is how many holds the crash leaves without a Commit.
	abandonedHolds = 5
	// abandonedTTL is their TTL: they expire while the new quotad runs.
	abandonedTTL = 2 * time.Second
	// crashSweep is both quotads' -sweep-interval.
	crashSweep = 200 * time.Millisecond
)

// TestQuotadKilledMidRun kills quotad (SIGKILL, a process of its own)
// under a load of Reserve→Commit cycles, with holds open whose runs will
// never commit, and starts a new quotad on the same address and Redis.
// The calls in flight failed UNAVAILABLE; the clients retry them with the
// same request_id against the new quotad and each is applied exactly
// once. The abandoned holds expire: the new quotad's sweeper releases
// each once (one expire entry in the ledger), and the account is whole
// again.
func TestQuotadKilledMidRun(t *testing.T) {
	rdb, url := packageRedis(t)
	addr := freeAddr(t)
	first := startProcess(t, quotadCommand(t, "-listen", addr, "-metrics-listen", "", "-redis-url", url(rdb.Options().Addr),
		"-allow-unauthenticated", "-shutdown-grace", "0s", "-log-format", "text", "-sweep-interval", crashSweep.String()))
	c := clientOn(dial(t, addr))
	accts := []account{{"crash-1", "ann"}, {"crash-1", "bob"}, {"crash-2", "cid"}, {"crash-2", "dee"}}
	// The abandoned holds' workspace, which no load touches: only the
	// sweeper releases them (a call releases the expired holds of its own
	// workspace).
	idle := account{"crash-idle", "ida"}
	setUpAccounts(t, c, []account{idle})
	var holds []string
	for i := range abandonedHolds {
		resp, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
			WorkspaceId: idle.ws, MemberId: idle.member, RequestId: fmt.Sprintf("abandoned-%d", i), Amount: loadHold,
			Ttl: durationpb.New(abandonedTTL), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		})
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, resp.GetReservation().GetReservationId())
	}

	l, f := underLoad(t, c, accts, func(account) bool { return true }, func() error { first.kill(t); return nil },
		func(context.Context) error {
			cfg := testConfig(t, "embedded")
			onRedis(func(c *Config) { c.RedisURL, c.Listen, c.SweepInterval = url(rdb.Options().Addr), addr, crashSweep })(&cfg)
			startConfig(t, cfg)
			return nil
		})
	noneLost(t, settleAndCheck(t, l, accts, rdb, f.at), f.at)

	// The abandoned holds: released by the new quotad's sweeper once past
	// their deadline, each once. An entry's id is the time of the release.
	released := map[string][]time.Time{}
	for end := time.Now().Add(abandonedTTL + 10*time.Second); len(released) < len(holds) && time.Now().Before(end); time.Sleep(crashSweep) {
		released = expiries(t, rdb, idle.ws)
	}
	var lag time.Duration
	for _, id := range holds {
		r, err := c.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{WorkspaceId: idle.ws, ReservationId: id})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.GetReservation().GetState(); got != quotav1.ReservationState_RESERVATION_STATE_EXPIRED {
			t.Errorf("hold %s is %v, want EXPIRED", id, got)
		}
		if len(released[id]) != 1 {
			t.Errorf("hold %s: %d expire entries in the ledger, want 1", id, len(released[id]))
			continue
		}
		lag = max(lag, released[id][0].Sub(r.GetReservation().GetDeadline().AsTime()))
	}
	b := getBalance(t, c, idle.ws, idle.member)
	checkInvariant(t, b)
	if tt := b.GetTotals(); tt.GetHeld() != 0 || tt.GetSpent() != 0 || tt.GetAvailable() != tt.GetAllocated() {
		t.Errorf("%s after its holds expired: totals %v; want everything available again", idle, tt)
	}
	t.Logf("%d holds abandoned by the crash: released by the new quotad's sweeper (-sweep-interval %v) at most %v after their deadline, once each",
		len(holds), crashSweep, lag.Round(time.Millisecond))
}

// expiries returns when each reservation of workspace ws was released as
// expired, from the ids of the ledger's expire entries (quotad's time in
// ms).
func expiries(t *testing.T, rdb *redis.Client, ws string) map[string][]time.Time {
	t.Helper()
	out := map[string][]time.Time{}
	for _, e := range readLedger(t, rdb, ws) {
		if e.Values["op"] != "expire" {
			continue
		}
		ms, _, _ := strings.Cut(e.ID, "-")
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			t.Fatalf("ledger entry id %q: %v", e.ID, err)
		}
		res, _ := e.Values["res"].(string)
		out[res] = append(out[res], time.UnixMilli(n))
	}
	return out
}
