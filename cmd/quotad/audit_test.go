package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// TestScheduledAuditCountsDrift runs quotad with audits every 200 ms: a
// clean workspace counts clean audits; once a held reservation's record
// is deleted behind the service's back, the audits count the drift, and
// AuditWorkspace reports it.
func TestScheduledAuditCountsDrift(t *testing.T) {
	q := startQuotad(t, "redis", func(c *Config) { c.AuditInterval = 200 * time.Millisecond })
	c := clientOn(q.Conn)
	const ws = "audited"
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: "ws",
		SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{WorkspaceId: ws, MemberId: "dan", RequestId: "seat",
		Seat: quotav1.Seat_SEAT_PRO}); err != nil {
		t.Fatal(err)
	}
	res, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{WorkspaceId: ws, MemberId: "dan", RequestId: "r1",
		Amount: 7 * credit, Ttl: durationpb.New(time.Hour), Origin: quotav1.Origin_ORIGIN_CONVERSATION})
	if err != nil {
		t.Fatal(err)
	}
	// waitFor polls the metrics until cond holds (at most 30 s).
	waitFor := func(what string, cond func(clean, drifts float64) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			m := scrape(t, q.Addrs.Metrics)
			clean, drifts := sum(m, "quota_audits_total", "result", "clean"), sum(m, "quota_audit_drifts_total")
			if cond(clean, drifts) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 30 s, %g clean audits and %g drifts", what, clean, drifts)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("a clean audit", func(clean, drifts float64) bool { return clean >= 1 && drifts == 0 })

	opt, err := redis.ParseURL(q.Config.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	hex := strings.Split(res.GetReservation().GetReservationId(), "_")[1]
	if err := rdb.Del(context.Background(), "q:{ws:"+ws+"}:res:"+hex).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor("the drift counted", func(_, drifts float64) bool { return drifts >= 1 })

	rep, err := c.admin.AuditWorkspace(rpcCtx(t), &quotav1.AuditWorkspaceRequest{WorkspaceId: ws})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range rep.GetDrifts() {
		if d.GetSubject() == "account dan" && d.GetField() == "held" && d.GetRecorded() == 7*credit && d.GetRecomputed() == 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("AuditWorkspace drifts = %v, want account dan's held 7 credits against 0", rep.GetDrifts())
	}
}
