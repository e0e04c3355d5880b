package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// lockTable is a price table with one model at rate µcredits per million
// input tokens.
func lockTable(rate int64) *quotav1.PriceTable {
	return &quotav1.PriceTable{Models: []*quotav1.ModelPrice{{Model: "m-lock", InputRate: rate}}, FallbackModel: "m-lock"}
}

// lockUsage is one million input tokens of m-lock: rate µcredits.
func lockUsage() *quotav1.AgentRun {
	return &quotav1.AgentRun{AgentId: "main", Models: []*quotav1.ModelUsage{{Model: "m-lock", InputTokens: 1_000_000}}}
}

// TestPriceLockAcrossReplicas sets prices through one quotad and reserves
// and commits through another on the same Redis: the second uses a new
// version within its refresh interval without a restart; a run is priced
// with the version of its root's Reserve, its children included, whatever
// was set in between.
func TestPriceLockAcrossReplicas(t *testing.T) {
	a := startQuotad(t, "redis", func(c *Config) { c.PricingRefresh = 100 * time.Millisecond })
	b := startQuotad(t, "redis", func(c *Config) { c.RedisURL = a.Config.RedisURL })
	ca := &client{quota: quotav1.NewQuotaServiceClient(a.Conn), admin: quotav1.NewAdminServiceClient(a.Conn)}
	cb := &client{quota: quotav1.NewQuotaServiceClient(b.Conn), admin: quotav1.NewAdminServiceClient(b.Conn)}

	const ws = "lock"
	if _, err := cb.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: "ws",
		SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))}); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{WorkspaceId: ws, MemberId: "eve", RequestId: "seat",
		Seat: quotav1.Seat_SEAT_MAX}); err != nil {
		t.Fatal(err)
	}
	setPrices := func(rate int64, id string) int64 {
		t.Helper()
		resp, err := cb.admin.SetPricing(rpcCtx(t), &quotav1.SetPricingRequest{RequestId: id, Pricing: lockTable(rate)})
		if err != nil {
			t.Fatalf("SetPricing: %v", err)
		}
		v := resp.GetVersion().GetVersion()
		// Replica a follows within its refresh interval (bounded wait).
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := ca.admin.GetPricing(rpcCtx(t), &quotav1.GetPricingRequest{})
			if err == nil && got.GetVersion().GetVersion() == v {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica a still prices with %v (%v) 10 s after version %d was set", got.GetVersion().GetVersion(), err, v)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	reserve := func(id, parent string) *quotav1.Reservation {
		t.Helper()
		req := &quotav1.ReserveRequest{WorkspaceId: ws, RequestId: id, Amount: 20 * credit,
			Ttl: durationpb.New(time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION}
		if parent == "" {
			req.MemberId = "eve"
		} else {
			req.ParentReservationId, req.AllowTopUp = parent, true
		}
		resp, err := ca.quota.Reserve(rpcCtx(t), req)
		if err != nil {
			t.Fatalf("Reserve %s: %v", id, err)
		}
		return resp.GetReservation()
	}
	commit := func(r *quotav1.Reservation, id string) *quotav1.Reservation {
		t.Helper()
		resp, err := ca.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{WorkspaceId: ws, ReservationId: r.GetReservationId(),
			RequestId: id, Usage: lockUsage()})
		if err != nil {
			t.Fatalf("Commit %s: %v", id, err)
		}
		return resp.GetReservation()
	}

	v1 := setPrices(1*credit, "prices-1")
	root := reserve("root", "")
	v2 := setPrices(10*credit, "prices-2")
	if v2 != v1+1 {
		t.Fatalf("versions %d then %d", v1, v2)
	}
	child := reserve("child", root.GetReservationId())
	other := reserve("other-root", "")
	for _, c := range []struct {
		r    *quotav1.Reservation
		want int64
	}{{root, v1}, {child, v1}, {other, v2}} {
		if got := c.r.GetPricingVersion(); got != c.want {
			t.Errorf("%s: pricing_version %d, want %d", c.r.GetReservationId(), got, c.want)
		}
	}

	if got := commit(child, "commit-child").GetCost().GetTotalCost(); got != 1*credit {
		t.Errorf("child reserved after the change costs %d, want %d (its root's version %d)", got, 1*credit, v1)
	}
	r := commit(root, "commit-root")
	if got := r.GetCost().GetTotalCost(); got != 2*credit || r.GetCharged() != 2*credit {
		t.Errorf("root: cost %d charged %d, want %d for the run at version %d", got, r.GetCharged(), 2*credit, v1)
	}
	if got := commit(other, "commit-other").GetCost().GetTotalCost(); got != 10*credit {
		t.Errorf("a root reserved after the change costs %d, want %d (version %d)", got, 10*credit, v2)
	}

	// The versions, newest first, page by page; each one's table.
	var seen []int64
	token := ""
	for range 10 {
		resp, err := ca.admin.ListPricingVersions(rpcCtx(t), &quotav1.ListPricingVersionsRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range resp.GetVersions() {
			seen = append(seen, v.GetVersion())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) < 2 || seen[0] != v2 || seen[1] != v1 {
		t.Errorf("ListPricingVersions = %v, want %d, %d first", seen, v2, v1)
	}
	old, err := ca.admin.GetPricing(rpcCtx(t), &quotav1.GetPricingRequest{Version: &v1})
	if err != nil || old.GetPricing().GetModels()[0].GetInputRate() != 1*credit {
		t.Errorf("GetPricing(%d) = %v, %v", v1, old, err)
	}
}
