package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
	"github.com/redis/go-redis/v9"
)

// retentionEnv is an env whose store has short retentions.
func retentionEnv(t *testing.T, f func(t *testing.T, e *env)) {
	optionsEnv(t, store.Options{RunRetention: time.Hour, LedgerRetention: 2 * time.Hour, EventsRetention: 2 * time.Hour}, f)
}

func TestSettledRunsAreDeletedAfterTheRetention(t *testing.T) {
	retentionEnv(t, func(t *testing.T, e *env) {
		e.seat("ann", quota.SeatPro)
		root := e.mustReserve("ann", 50*C)
		kid := e.mustChild(root.ID, 10*C)
		if _, err := e.commit(kid.ID, tokens("sub", 2)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.commit(root.ID, tokens("main", 1)); err != nil {
			t.Fatal(err)
		}
		open := e.mustReserve("ann", 5*C) // held: never deleted
		e.advance(59 * time.Minute)
		if st, err := e.svc.Sweep(e.ctx, 100); err != nil || st.Purged != 0 {
			t.Fatalf("sweep before the retention: %+v, %v", st, err)
		}
		e.get(root.ID)
		e.advance(2 * time.Minute)
		st, err := e.svc.Sweep(e.ctx, 100)
		if err != nil || st.Purged != 1 {
			t.Fatalf("sweep after the retention: %+v, %v", st, err)
		}
		for _, id := range []string{root.ID, kid.ID} {
			_, err := e.svc.GetReservation(e.ctx, "ws1", id)
			var qe *quota.Error
			if !errors.As(err, &qe) || qe.Code != quota.CodeReservationNotFound || !strings.Contains(qe.Message, "run retention") {
				t.Errorf("GetReservation(%s) after the retention: %v, want NOT_FOUND naming the retention", id, err)
			}
		}
		if r := e.get(open.ID); r.State != quota.StateExpired {
			t.Errorf("the open hold: %+v", r) // expired by now, settled 60 min ago: kept one more hour
		}
		keys, err := e.rdb.Keys(e.ctx, "q:{ws:ws1}:run:*").Result()
		if err != nil || len(keys) != 0 {
			t.Errorf("run indexes left: %v, %v", keys, err)
		}
		if b := e.balance("ann"); b.Spent != 3*C {
			t.Errorf("balance after the deletion: %+v", b)
		}
	})
}

// TestStreamsAreTrimmedButNeverPastAConsumerGroup trims the ledger by age
// and checks that an entry a consumer group has not acknowledged is kept.
func TestStreamsAreTrimmedButNeverPastAConsumerGroup(t *testing.T) {
	retentionEnv(t, func(t *testing.T, e *env) {
		e.seat("bo", quota.SeatPro)
		ledger := "q:{ws:ws1}:ledger"
		if err := e.rdb.XGroupCreate(e.ctx, ledger, "exporter", "0").Err(); err != nil {
			t.Fatal(err)
		}
		// The exporter reads and acknowledges the first entries, and
		// reads one more that it does not acknowledge.
		first, err := e.rdb.XReadGroup(e.ctx, &redis.XReadGroupArgs{Group: "exporter", Consumer: "c1", Streams: []string{ledger, ">"}, Count: 100}).Result()
		if err != nil {
			t.Fatal(err)
		}
		var acked []string
		for _, m := range first[0].Messages {
			acked = append(acked, m.ID)
		}
		if err := e.rdb.XAck(e.ctx, ledger, "exporter", acked...).Err(); err != nil {
			t.Fatal(err)
		}
		e.advance(time.Hour)
		r := e.mustReserve("bo", C) // a new entry an hour later
		pending, err := e.rdb.XReadGroup(e.ctx, &redis.XReadGroupArgs{Group: "exporter", Consumer: "c1", Streams: []string{ledger, ">"}, Count: 1}).Result()
		if err != nil {
			t.Fatal(err)
		}
		unacked := pending[0].Messages[0].ID
		e.advance(30 * time.Minute)
		e.refund(r.ID)
		before, _ := e.rdb.XLen(e.ctx, ledger).Result()

		// 3 hours after the first entries: they are past the ledger's
		// retention (2h) and acknowledged, so they go; the one the
		// exporter has not acknowledged (1h30 old) and later ones stay.
		e.advance(90 * time.Minute)
		st, err := e.svc.Sweep(e.ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := e.rdb.XLen(e.ctx, ledger).Result()
		if st.Trimmed != int(before-after) || after >= before {
			t.Fatalf("trim: %+v, ledger %d -> %d entries", st, before, after)
		}
		if n, _ := e.rdb.XRange(e.ctx, ledger, unacked, unacked).Result(); len(n) != 1 {
			t.Fatalf("the entry the exporter has not acknowledged was trimmed")
		}
		// Later still, the unacknowledged entry is past the retention:
		// the group holds the stream above it, and the sweep says so.
		e.advance(3 * time.Hour)
		st, err = e.svc.Sweep(e.ctx, 100)
		if err != nil || st.Held != 1 {
			t.Fatalf("sweep with a lagging group: %+v, %v", st, err)
		}
		if n, _ := e.rdb.XRange(e.ctx, ledger, unacked, unacked).Result(); len(n) != 1 {
			t.Fatalf("the entry the exporter has not acknowledged was trimmed")
		}
		// Once the exporter has read and acknowledged everything, the
		// entries past the retention go.
		rest, err := e.rdb.XReadGroup(e.ctx, &redis.XReadGroupArgs{Group: "exporter", Consumer: "c1", Streams: []string{ledger, ">"}, Count: 1000}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{unacked}
		for _, m := range rest[0].Messages {
			ids = append(ids, m.ID)
		}
		if err := e.rdb.XAck(e.ctx, ledger, "exporter", ids...).Err(); err != nil {
			t.Fatal(err)
		}
		st, err = e.svc.Sweep(e.ctx, 100)
		if err != nil || st.Held != 0 {
			t.Fatalf("sweep once acknowledged: %+v, %v", st, err)
		}
		if n, _ := e.rdb.XRange(e.ctx, ledger, unacked, unacked).Result(); len(n) != 0 {
			t.Fatalf("the acknowledged entry past the retention was kept")
		}
	})
}
