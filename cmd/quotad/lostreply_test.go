package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/store/redistest"
)

// Lost replies (issue 10): a proxy the test controls loses the answer of
// a call that was applied, between quotad and Redis and between the
// client and quotad. Whoever retries (go-redis, then the client, with the
// same request_id) never makes it apply twice: balances and ledger are
// exact to the µcredit.

// packageRedis returns a client on a fresh database of the package's
// redis-server (see redistest.Main), and that database's redis:// URL
// through addr (the server's own address, or a proxy's in front of it).
func packageRedis(t *testing.T) (rdb *redis.Client, url func(addr string) string) {
	t.Helper()
	rdb = redistest.Backends()[0].New(t).(*redis.Client)
	db := rdb.Options().DB
	return rdb, func(addr string) string { return fmt.Sprintf("redis://%s/%d", addr, db) }
}

// quiet stops quotad's background Redis traffic (health PINGs, sweeps,
// price refreshes) for the length of a test, so that a fault injected on
// its Redis connections hits the test's own call.
func quiet(c *Config) {
	c.HealthInterval, c.SweepInterval, c.PricingRefresh = time.Hour, time.Hour, time.Hour
}

// scriptCalls returns how many script calls (FCALL, EVALSHA, EVAL) Redis
// has run, from INFO commandstats.
func scriptCalls(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for line := range strings.SplitSeq(info, "\r\n") {
		for _, cmd := range []string{"fcall", "evalsha", "eval"} {
			if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
				calls, _, _ := strings.Cut(rest, ",")
				v, err := strconv.ParseInt(calls, 10, 64)
				if err != nil {
					t.Fatalf("INFO commandstats: %q: %v", line, err)
				}
				n += v
			}
		}
	}
	return n
}

// once checks a's books after its reservations were committed with the
// answers in commits: nothing held, spent what they charged, the
// invariant, and one ledger entry per request id in reqs.
func once(t *testing.T, c *client, rdb redis.UniversalClient, a account, commits []*quotav1.Reservation, reqs ...string) {
	t.Helper()
	var spent int64
	for _, r := range commits {
		spent += r.GetCharged()
	}
	b := getBalance(t, c, a.ws, a.member)
	checkInvariant(t, b)
	if tt := b.GetTotals(); tt.GetHeld() != 0 || tt.GetSpent() != spent || tt.GetAvailable() != tt.GetAllocated()-spent {
		t.Errorf("%s: totals %v; want held 0 and spent %d, once each", a, tt, spent)
	}
	ledger := ledgerByRequest(t, rdb, a.ws)
	for _, req := range reqs {
		if ledger[req] != 1 {
			t.Errorf("%d ledger entries of request %s, want 1", ledger[req], req)
		}
	}
}

// TestLostRedisReplyAppliesOnce puts a proxy between quotad and Redis.
// A script's reply lost once: go-redis sends the script again on a new
// connection (-redis-max-retries), which answers from the idempotency
// record, and the caller sees success. Every reply held past the store
// timeout: the caller gets UNAVAILABLE for a Commit that was applied, and
// its retry with the same request_id answers the same without charging
// again.
func TestLostRedisReplyAppliesOnce(t *testing.T) {
	rdb, url := packageRedis(t)
	p := redistest.NewProxy(t, rdb.Options().Addr)
	q := startQuotad(t, "embedded", onRedis(func(c *Config) { c.RedisURL = url(p.Addr()); quiet(c) }))
	c := q.client()
	a := account{"lost-redis", "ann"}
	setUpAccounts(t, c, []account{a})
	var commits []*quotav1.Reservation
	var reqs []string

	// Lost once, retried by go-redis.
	for i := range 2 {
		cy := &cycle{acct: a, n: i}
		calls, dropped := scriptCalls(t, rdb), p.Stats().DroppedReplies
		p.DropReplies(1)
		reserve, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
			WorkspaceId: a.ws, MemberId: a.member, RequestId: cy.reserveID(), Amount: loadHold,
			Ttl: durationpb.New(loadHoldTTL), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		})
		if err != nil {
			t.Fatalf("Reserve with its Redis reply lost once: %v", err)
		}
		ran := scriptCalls(t, rdb) - calls
		if got := reserve.GetBalance().GetHeld(); got != loadHold {
			t.Errorf("held %d after a Reserve of %d whose reply was lost once", got, loadHold)
		}
		calls = scriptCalls(t, rdb)
		p.DropReplies(1)
		commit, err := c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{
			WorkspaceId: a.ws, ReservationId: reserve.GetReservation().GetReservationId(), RequestId: cy.commitID(), Usage: cy.usage(),
		})
		if err != nil {
			t.Fatalf("Commit with its Redis reply lost once: %v", err)
		}
		ran += scriptCalls(t, rdb) - calls
		if got := p.Stats().DroppedReplies - dropped; got != 2 || ran != 4 {
			t.Fatalf("%d replies dropped, %d script calls run; want 2 and 4 (each call run twice)", got, ran)
		}
		commits, reqs = append(commits, commit.GetReservation()), append(reqs, cy.reserveID(), cy.commitID())
	}
	once(t, c, rdb, a, commits, reqs...)
	t.Logf("2 Reserves and 2 Commits whose Redis replies were lost: each script ran twice (go-redis's retry), applied once")

	// Held past the store timeout: UNAVAILABLE, applied, retried by the client.
	cy := &cycle{acct: a, n: 2}
	reserve, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: a.ws, MemberId: a.member, RequestId: cy.reserveID(), Amount: loadHold,
		Ttl: durationpb.New(loadHoldTTL), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	})
	if err != nil {
		t.Fatal(err)
	}
	req := &quotav1.CommitRequest{
		WorkspaceId: a.ws, ReservationId: reserve.GetReservation().GetReservationId(), RequestId: cy.commitID(), Usage: cy.usage(),
	}
	calls := scriptCalls(t, rdb)
	p.PauseReplies()
	start := time.Now()
	_, err = c.quota.Commit(rpcCtx(t), req)
	took := time.Since(start)
	p.Heal()
	checkStatus(t, err, codes.Unavailable, "STORE_UNAVAILABLE")
	ran := scriptCalls(t, rdb) - calls
	got, err := c.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{WorkspaceId: a.ws, ReservationId: req.GetReservationId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetReservation().GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED {
		t.Fatalf("the Commit answered UNAVAILABLE left its reservation %v; the script ran, so want COMMITTED", got.GetReservation().GetState())
	}
	retry, err := c.quota.Commit(rpcCtx(t), req)
	if err != nil {
		t.Fatalf("the client's retry: %v", err)
	}
	if diff := cmp.Diff(got.GetReservation(), retry.GetReservation(), protocmp.Transform()); diff != "" {
		t.Errorf("the retry's answer differs from the reservation (-stored +retry):\n%s", diff)
	}
	commits, reqs = append(commits, retry.GetReservation()), append(reqs, cy.reserveID(), cy.commitID())
	once(t, c, rdb, a, commits, reqs...)
	t.Logf("a Commit whose Redis replies were held: UNAVAILABLE after %v, its script run %d times; the client's retry answered the same, charged once",
		took.Round(time.Millisecond), ran)
}

// TestLostGRPCReplyAppliesOnce puts a proxy between the client and
// quotad, holds quotad's answers until the call is applied, then cuts the
// connection: the client gets UNAVAILABLE for a Reserve or Commit that
// was applied, and its retry with the same request_id answers the same
// and changes nothing. A client with the README's retry policy retries
// by itself, and the caller sees only the success.
func TestLostGRPCReplyAppliesOnce(t *testing.T) {
	rdb, url := packageRedis(t)
	q := startQuotad(t, "embedded", onRedis(func(c *Config) { c.RedisURL = url(rdb.Options().Addr) }))
	direct := q.client()
	p := redistest.NewProxy(t, q.Addrs.GRPC)
	proxied := clientOn(dial(t, p.Addr()))
	retrying := clientOn(dial(t, p.Addr(), grpc.WithDefaultServiceConfig(readmeRetryPolicy(t))))
	a := account{"lost-grpc", "ann"}
	setUpAccounts(t, direct, []account{a})
	var commits []*quotav1.Reservation
	var reqs []string

	for i, c := range []*client{proxied, retrying} {
		cy := &cycle{acct: a, n: i}
		reserveReq := &quotav1.ReserveRequest{
			WorkspaceId: a.ws, MemberId: a.member, RequestId: cy.reserveID(), Amount: loadHold,
			Ttl: durationpb.New(loadHoldTTL), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		}
		reserve := loseReply(t, p, c, c.quota.Reserve, reserveReq, func() bool {
			return getBalance(t, direct, a.ws, a.member).GetHeld() == loadHold
		}, i == 1)
		commitReq := &quotav1.CommitRequest{
			WorkspaceId: a.ws, ReservationId: reserve.GetReservation().GetReservationId(), RequestId: cy.commitID(), Usage: cy.usage(),
		}
		commit := loseReply(t, p, c, c.quota.Commit, commitReq, func() bool {
			r, err := direct.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{WorkspaceId: a.ws, ReservationId: commitReq.GetReservationId()})
			return err == nil && r.GetReservation().GetState() == quotav1.ReservationState_RESERVATION_STATE_COMMITTED
		}, i == 1)
		got, err := direct.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{WorkspaceId: a.ws, ReservationId: commitReq.GetReservationId()})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got.GetReservation(), commit.GetReservation(), protocmp.Transform()); diff != "" {
			t.Errorf("the retried Commit's answer differs from the reservation (-stored +answer):\n%s", diff)
		}
		commits, reqs = append(commits, commit.GetReservation()), append(reqs, cy.reserveID(), cy.commitID())
	}
	once(t, direct, rdb, a, commits, reqs...)
	t.Logf("gRPC answers lost after the call was applied (Reserve and Commit, twice each): retried with the same request_id, applied once; the README's retry policy retried by itself")
}

// loseReply sends req with call, a method of c, through p with quotad's
// answers held, waits (at most 10 s) until applied says quotad applied
// it, then cuts the connection and heals the proxy. With byPolicy, the
// client's retry policy must have retried by itself: the call succeeds.
// Without, it must fail UNAVAILABLE, and loseReply retries it once with
// the same request. It returns the successful answer.
func loseReply[Req proto.Message, Resp proto.Message](t *testing.T, p *redistest.Proxy, c *client,
	call func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req, applied func() bool, byPolicy bool) Resp {
	t.Helper()
	// Connect first: the HTTP/2 handshake needs quotad's answers.
	if _, err := c.admin.GetPricing(rpcCtx(t), &quotav1.GetPricingRequest{}); err != nil {
		t.Fatalf("GetPricing through the proxy: %v", err)
	}
	p.PauseReplies()
	type result struct {
		resp Resp
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := call(rpcCtx(t), req)
		done <- result{resp, err}
	}()
	for end := time.Now().Add(10 * time.Second); !applied(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			p.Heal()
			t.Fatalf("%T was not applied within 10 s", req)
		}
	}
	p.CutAll()
	p.Heal()
	r := <-done
	if byPolicy {
		if r.err != nil {
			t.Fatalf("%T with its answer lost, with the README's retry policy: %v; want the policy's retry to succeed", req, r.err)
		}
		return r.resp
	}
	checkStatus(t, r.err, codes.Unavailable, "")
	resp, err := call(rpcCtx(t), req)
	if err != nil {
		t.Fatalf("%T retried with the same request_id: %v", req, err)
	}
	return resp
}

// readmeRetryPolicy returns the gRPC service config that the README's
// Retries section gives clients.
func readmeRetryPolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "A gRPC retry policy for clients")
	if ok {
		_, rest, ok = strings.Cut(rest, "```json\n")
	}
	policy, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(policy, "retryPolicy") {
		t.Fatal("no retry policy (a ```json block after \"A gRPC retry policy for clients\") in README.md")
	}
	return policy
}
