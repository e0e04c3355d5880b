package main

import (
	"context"
	"testing"
	"time"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// idempotencyWindow is how long the README says a request_id is kept.
const idempotencyWindow = 48 * time.Hour

// TestIdempotencyWindow checks the README's window on a real Redis: the
// record of a Commit and of a Refund expires 48 hours after the call
// (Redis's PTTL of its key), so a retry within 48 hours answers from it;
// a Reserve's record is its reservation, kept while its run lives and
// for the run retention (72 h) after the run settled
// (TestSettledRunsAreDeletedAfterTheRetention checks that in the store).
func TestIdempotencyWindow(t *testing.T) {
	rdb, url := packageRedis(t)
	q := startQuotad(t, "embedded", onRedis(func(c *Config) { c.RedisURL = url(rdb.Options().Addr) }))
	c := q.client()
	a := account{"window", "ann"}
	setUpAccounts(t, c, []account{a})
	cy := &cycle{acct: a}
	l := &load{c: c}
	l.run(cy, 0)
	if cy.err != nil {
		t.Fatal(cy.err)
	}
	other, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: a.ws, MemberId: a.member, RequestId: "window-refunded", Amount: loadHold, Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{
		WorkspaceId: a.ws, ReservationId: other.GetReservation().GetReservationId(), RequestId: "window-refund",
	}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{cy.commitID(), "window-refund"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ttl, err := rdb.PTTL(ctx, "q:{ws:"+a.ws+"}:idem:"+req).Result()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if ttl > idempotencyWindow || ttl < idempotencyWindow-time.Minute {
			t.Errorf("the record of request %s expires in %v, want %v", req, ttl, idempotencyWindow)
		}
	}
}
