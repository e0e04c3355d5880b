package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// End-to-end tests of the workspace pool, its caps, overage and
// programmatic usage, through the generated gRPC clients on every backend.
// Each scenario uses a workspace of its own.

// TestEndToEndPool runs the pool scenarios on each backend.
func TestEndToEndPool(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			q := startQuotad(t, backend)
			c := &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)}
			t.Run("draw order seat then pool by priority", func(t *testing.T) { testPoolDrawOrder(t, c) })
			t.Run("personal caps and denials", func(t *testing.T) { testPoolCapsAndDenials(t, c) })
			t.Run("programmatic usage within its cap", func(t *testing.T) { testPoolProgrammatic(t, c) })
			t.Run("grants admin", func(t *testing.T) { testPoolGrantsAdmin(t, c) })
			t.Run("overage and shortfall", func(t *testing.T) { testPoolOverageShortfall(t, c) })
		})
	}
}

// poolWorkspace sets up workspace ws (subscription start
// 2026-01-31T09:00Z) with policy, failing t on error.
func poolWorkspace(t *testing.T, c *client, ws string, policy *quotav1.WorkspacePolicy) {
	t.Helper()
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{
		WorkspaceId: ws, RequestId: "set-workspace",
		SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
	}); err != nil {
		t.Fatalf("SetWorkspace(%s): %v", ws, err)
	}
	resp, err := c.admin.SetWorkspacePolicy(rpcCtx(t), &quotav1.SetWorkspacePolicyRequest{
		WorkspaceId: ws, RequestId: "set-policy", Policy: policy,
	})
	if err != nil {
		t.Fatalf("SetWorkspacePolicy(%s): %v", ws, err)
	}
	if diff := cmp.Diff(policy, resp.GetWorkspace().GetPolicy(), protocmp.Transform()); diff != "" {
		t.Errorf("SetWorkspacePolicy(%s) policy as stored (-sent +stored):\n%s", ws, diff)
	}
}

// addGrant adds a top-up of amount µcredits with priority to ws's pool
// (expire nil: the default lifetime), failing t on error.
func addGrant(t *testing.T, c *client, ws, requestID string, amount, priority int64, expire *timestamppb.Timestamp) *quotav1.PoolGrant {
	t.Helper()
	resp, err := c.admin.AddPoolGrant(rpcCtx(t), &quotav1.AddPoolGrantRequest{
		WorkspaceId: ws, RequestId: requestID, Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP,
		Amount: amount, Priority: priority, ExpireTime: expire,
	})
	if err != nil {
		t.Fatalf("AddPoolGrant(%s, %s): %v", ws, requestID, err)
	}
	g := resp.GetGrant()
	if g.GetGrantId() == "" || g.GetAmount() != amount || g.GetAvailable() != amount || g.GetState() != quotav1.GrantState_GRANT_STATE_ACTIVE {
		t.Errorf("AddPoolGrant(%s, %s) = id %q amount %d available %d state %v, want an id, %d %d ACTIVE",
			ws, requestID, g.GetGrantId(), g.GetAmount(), g.GetAvailable(), g.GetState(), amount, amount)
	}
	return g
}

// setSeat gives member a seat in ws and returns the balance, failing t on
// error.
func setSeat(t *testing.T, c *client, ws, member string, seat quotav1.Seat) *quotav1.Balance {
	t.Helper()
	resp, err := c.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{
		WorkspaceId: ws, MemberId: member, RequestId: "seat-" + member, Seat: seat,
	})
	if err != nil {
		t.Fatalf("SetSeat(%s, %s): %v", ws, member, err)
	}
	return resp.GetBalance()
}

// workspaceBalance returns ws's balance, failing t on error, and checks the
// pool's invariant.
func workspaceBalance(t *testing.T, c *client, ws string) *quotav1.WorkspaceBalance {
	t.Helper()
	resp, err := c.admin.GetWorkspaceBalance(rpcCtx(t), &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: ws})
	if err != nil {
		t.Fatalf("GetWorkspaceBalance(%s): %v", ws, err)
	}
	b := resp.GetBalance()
	p := b.GetPool()
	if p == nil {
		t.Errorf("GetWorkspaceBalance(%s) has no pool", ws)
	} else if p.GetGranted() != p.GetAvailable()+p.GetPending()+p.GetHeld()+p.GetSpent()+p.GetForfeited() {
		t.Errorf("pool invariant broken in %s: granted %d != available %d + pending %d + held %d + spent %d + forfeited %d",
			ws, p.GetGranted(), p.GetAvailable(), p.GetPending(), p.GetHeld(), p.GetSpent(), p.GetForfeited())
	}
	return b
}

// dataRetrievals is an agent run of n data_retrieval actions: 3 credits
// each in any origin but Sidekick.
func dataRetrievals(n int) *quotav1.AgentRun {
	actions := make([]*quotav1.ToolAction, n)
	for i := range actions {
		actions[i] = &quotav1.ToolAction{Tool: "data_retrieval"}
	}
	return &quotav1.AgentRun{AgentId: "main", Actions: actions}
}

// src is one SourceAmount, for comparisons.
func src(s quotav1.Source, amount int64, grant string) *quotav1.SourceAmount {
	return &quotav1.SourceAmount{Source: s, Amount: amount, GrantId: grant}
}

// checkSources compares amounts per source.
func checkSources(t *testing.T, what string, got, want []*quotav1.SourceAmount) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// checkQuotaFailure checks that st carries a QuotaFailure with one
// violation about subject.
func checkQuotaFailure(t *testing.T, st *status.Status, subject string) {
	t.Helper()
	if st == nil {
		return
	}
	qf := detail[*errdetails.QuotaFailure](st)
	if qf == nil || len(qf.GetViolations()) != 1 || qf.GetViolations()[0].GetSubject() != subject || qf.GetViolations()[0].GetDescription() == "" {
		t.Errorf("QuotaFailure = %v, want one described violation of subject %q", qf, subject)
	}
}

func testPoolDrawOrder(t *testing.T, c *client) {
	const ws, member = "pool-order", "olga"
	poolWorkspace(t, c, ws, &quotav1.WorkspacePolicy{Pooled: false})
	low := addGrant(t, c, ws, "grant-low", 100*credit, 0,
		timestamppb.New(time.Now().Add(180*24*time.Hour))) // before the default year of the other
	high := addGrant(t, c, ws, "grant-high", 100*credit, 5, nil)
	if b := setSeat(t, c, ws, member, quotav1.Seat_SEAT_PRO); b.GetAllocated() != 8_000*credit {
		t.Errorf("SetSeat allocated %d, want %d", b.GetAllocated(), 8_000*credit)
	}

	res, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, MemberId: member, RequestId: "reserve-1", Amount: 8_150_000_000,
		Ttl: durationpb.New(10 * time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	r := res.GetReservation()
	if r.GetHeld() != 8_150*credit || r.GetState() != quotav1.ReservationState_RESERVATION_STATE_HELD {
		t.Errorf("Reserve: held %d state %v, want %d HELD", r.GetHeld(), r.GetState(), 8_150*credit)
	}
	checkSources(t, "Reserve held_from", r.GetHeldFrom(), []*quotav1.SourceAmount{
		src(quotav1.Source_SOURCE_SEAT, 8_000*credit, ""),
		src(quotav1.Source_SOURCE_POOL, 100*credit, high.GetGrantId()),
		src(quotav1.Source_SOURCE_POOL, 50*credit, low.GetGrantId()),
	})

	com, err := c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{
		WorkspaceId: ws, ReservationId: r.GetReservationId(), RequestId: "commit-1", Usage: dataRetrievals(2_700),
	})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	cr := com.GetReservation()
	if cr.GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED || cr.GetCost().GetTotalCost() != 8_100*credit ||
		cr.GetCharged() != 8_100*credit || cr.GetReleased() != 50*credit || cr.GetShortfall() != 0 || cr.GetHeld() != 0 {
		t.Errorf("Commit: state %v cost %d charged %d released %d shortfall %d held %d, want COMMITTED %d %d %d 0 0",
			cr.GetState(), cr.GetCost().GetTotalCost(), cr.GetCharged(), cr.GetReleased(), cr.GetShortfall(), cr.GetHeld(),
			8_100*credit, 8_100*credit, 50*credit)
	}
	checkSources(t, "Commit charged_from", cr.GetChargedFrom(), []*quotav1.SourceAmount{
		src(quotav1.Source_SOURCE_SEAT, 8_000*credit, ""),
		src(quotav1.Source_SOURCE_POOL, 100*credit, high.GetGrantId()),
	})

	p := workspaceBalance(t, c, ws).GetPool()
	if p.GetGranted() != 200*credit || p.GetAvailable() != 100*credit || p.GetHeld() != 0 || p.GetSpent() != 100*credit || p.GetForfeited() != 0 {
		t.Errorf("pool after Commit: %v, want granted %d available %d held 0 spent %d forfeited 0",
			p, 200*credit, 100*credit, 100*credit)
	}
	checkInvariant(t, getBalance(t, c, ws, member))
}

func testPoolCapsAndDenials(t *testing.T, c *client) {
	const ws, pro, free = "pool-caps", "pia", "fred"
	poolWorkspace(t, c, ws, &quotav1.WorkspacePolicy{Pooled: true, DefaultMemberPoolCap: proto.Int64(100 * credit)})
	grant := addGrant(t, c, ws, "grant-1", 1_000*credit, 0, nil)

	b := setSeat(t, c, ws, pro, quotav1.Seat_SEAT_PRO)
	if b.GetAllocated() != 0 || b.GetSpendable() != 100*credit || b.PoolCap == nil || b.GetPoolCap() != 100*credit {
		t.Errorf("pooled Pro member: allocated %d spendable %d pool_cap %v, want 0 %d %d",
			b.GetAllocated(), b.GetSpendable(), poolCapString(b), 100*credit, 100*credit)
	}

	reserve := func(member, requestID string, amount int64) (*quotav1.ReserveResponse, error) {
		return c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
			WorkspaceId: ws, MemberId: member, RequestId: requestID, Amount: amount,
			Ttl: durationpb.New(10 * time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		})
	}
	res, err := reserve(pro, "reserve-cap", 100*credit)
	if err != nil {
		t.Fatalf("Reserve up to the cap: %v", err)
	}
	checkSources(t, "Reserve up to the cap held_from", res.GetReservation().GetHeldFrom(), []*quotav1.SourceAmount{
		src(quotav1.Source_SOURCE_POOL, 100*credit, grant.GetGrantId()),
	})
	if b := res.GetBalance(); b.GetPoolUsed() != 100*credit || b.GetSpendable() != 0 {
		t.Errorf("balance at the cap: pool_used %d spendable %d, want %d 0", b.GetPoolUsed(), b.GetSpendable(), 100*credit)
	}

	_, err = reserve(pro, "reserve-over-cap", 1*credit)
	checkQuotaFailure(t, checkStatus(t, err, codes.ResourceExhausted, "POOL_CAP_REACHED"), "member:"+pro)

	// A Free seat never draws from the pool: its 500 lifetime credits are
	// all it has.
	if fb := setSeat(t, c, ws, free, quotav1.Seat_SEAT_FREE); fb.GetSpendable() != 500*credit {
		t.Errorf("Free member spendable %d, want %d", fb.GetSpendable(), 500*credit)
	}
	_, err = reserve(free, "reserve-free", 600*credit)
	checkQuotaFailure(t, checkStatus(t, err, codes.ResourceExhausted, "CREDITS_EXHAUSTED"), "member:"+free)

	capResp, err := c.admin.SetMemberPoolCap(rpcCtx(t), &quotav1.SetMemberPoolCapRequest{
		WorkspaceId: ws, MemberId: pro, RequestId: "cap-unlimited", Unlimited: true,
	})
	if err != nil {
		t.Fatalf("SetMemberPoolCap: %v", err)
	}
	if b := capResp.GetBalance(); b.PoolCap != nil || b.GetSpendable() != 900*credit {
		t.Errorf("unlimited member: pool_cap %s spendable %d, want unset %d", poolCapString(b), b.GetSpendable(), 900*credit)
	}
	if b := getBalance(t, c, ws, pro); b.PoolCap != nil || b.GetSpendable() != 900*credit {
		t.Errorf("GetBalance of the unlimited member: pool_cap %s spendable %d, want unset %d", poolCapString(b), b.GetSpendable(), 900*credit)
	}
	workspaceBalance(t, c, ws)
}

// poolCapString shows a balance's pool_cap, "unset" when it has none.
func poolCapString(b *quotav1.Balance) string {
	if b.PoolCap == nil {
		return "unset"
	}
	return fmt.Sprint(b.GetPoolCap())
}

func testPoolProgrammatic(t *testing.T, c *client) {
	const ws, bot, other = "pool-prog", "key:ci-bot", "trigger:nightly"
	poolWorkspace(t, c, ws, &quotav1.WorkspacePolicy{ProgrammaticCap: proto.Int64(300 * credit)})
	grant := addGrant(t, c, ws, "grant-1", 1_000*credit, 0, nil)

	res, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, SpenderId: bot, RequestId: "reserve-bot", Amount: 200 * credit,
		Ttl: durationpb.New(10 * time.Minute), Origin: quotav1.Origin_ORIGIN_AUTOMATION,
	})
	if err != nil {
		t.Fatalf("programmatic Reserve: %v", err)
	}
	r := res.GetReservation()
	if r.GetSpenderId() != bot || r.GetMemberId() != "" || r.GetHeld() != 200*credit {
		t.Errorf("programmatic Reserve: spender_id %q member_id %q held %d, want %q \"\" %d",
			r.GetSpenderId(), r.GetMemberId(), r.GetHeld(), bot, 200*credit)
	}
	checkSources(t, "programmatic Reserve held_from", r.GetHeldFrom(), []*quotav1.SourceAmount{
		src(quotav1.Source_SOURCE_POOL, 200*credit, grant.GetGrantId()),
	})

	_, err = c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, SpenderId: other, RequestId: "reserve-other", Amount: 150 * credit,
		Origin: quotav1.Origin_ORIGIN_AUTOMATION,
	})
	checkQuotaFailure(t, checkStatus(t, err, codes.ResourceExhausted, "PROGRAMMATIC_CAP_REACHED"), "spender:"+other)

	com, err := c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{
		WorkspaceId: ws, ReservationId: r.GetReservationId(), RequestId: "commit-bot", Usage: dataRetrievals(50),
	})
	if err != nil {
		t.Fatalf("programmatic Commit: %v", err)
	}
	if cr := com.GetReservation(); cr.GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED ||
		cr.GetCharged() != 150*credit || cr.GetReleased() != 50*credit || cr.GetSpenderId() != bot {
		t.Errorf("programmatic Commit: state %v charged %d released %d spender_id %q, want COMMITTED %d %d %q",
			cr.GetState(), cr.GetCharged(), cr.GetReleased(), cr.GetSpenderId(), 150*credit, 50*credit, bot)
	}
	wb := workspaceBalance(t, c, ws)
	if wb.GetProgrammaticUsed() != 150*credit || wb.GetProgrammaticHeld() != 0 {
		t.Errorf("workspace balance: programmatic_used %d programmatic_held %d, want %d 0",
			wb.GetProgrammaticUsed(), wb.GetProgrammaticHeld(), 150*credit)
	}
	if p := wb.GetPool(); p.GetSpent() != 150*credit || p.GetHeld() != 0 || p.GetAvailable() != 850*credit {
		t.Errorf("pool after the programmatic Commit: %v, want spent %d held 0 available %d", p, 150*credit, 850*credit)
	}

	_, err = c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, MemberId: "mia", SpenderId: bot, RequestId: "reserve-both", Amount: 10 * credit,
		Origin: quotav1.Origin_ORIGIN_AUTOMATION,
	})
	checkStatus(t, err, codes.InvalidArgument, "MEMBER_OR_SPENDER")
}

func testPoolGrantsAdmin(t *testing.T, c *client) {
	const ws = "pool-grants"
	poolWorkspace(t, c, ws, &quotav1.WorkspacePolicy{})

	_, err := c.admin.AddPoolGrant(rpcCtx(t), &quotav1.AddPoolGrantRequest{
		WorkspaceId: ws, RequestId: "grant-commitment", Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: 1_000 * credit,
	})
	if st := checkStatus(t, err, codes.InvalidArgument, "INVALID_FIELD"); st != nil {
		br := detail[*errdetails.BadRequest](st)
		if br == nil || len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != "expire_time" {
			t.Errorf("BadRequest = %v, want one violation of field expire_time", br)
		}
	}

	g1 := addGrant(t, c, ws, "grant-1", 100*credit, 0, nil)
	g2 := addGrant(t, c, ws, "grant-2", 200*credit, 0, nil)
	g3 := addGrant(t, c, ws, "grant-3", 300*credit, 0, nil)

	void, err := c.admin.VoidPoolGrant(rpcCtx(t), &quotav1.VoidPoolGrantRequest{
		WorkspaceId: ws, GrantId: g1.GetGrantId(), RequestId: "void-1",
	})
	if err != nil {
		t.Fatalf("VoidPoolGrant: %v", err)
	}
	if g := void.GetGrant(); g.GetGrantId() != g1.GetGrantId() || g.GetState() != quotav1.GrantState_GRANT_STATE_VOIDED ||
		g.GetForfeited() != g1.GetAmount() || g.GetAvailable() != 0 {
		t.Errorf("VoidPoolGrant = id %q state %v forfeited %d available %d, want %q VOIDED %d 0",
			g.GetGrantId(), g.GetState(), g.GetForfeited(), g.GetAvailable(), g1.GetGrantId(), g1.GetAmount())
	}
	_, err = c.admin.VoidPoolGrant(rpcCtx(t), &quotav1.VoidPoolGrantRequest{
		WorkspaceId: ws, GrantId: g1.GetGrantId(), RequestId: "void-1-again",
	})
	checkStatus(t, err, codes.FailedPrecondition, "GRANT_ENDED")
	_, err = c.admin.VoidPoolGrant(rpcCtx(t), &quotav1.VoidPoolGrantRequest{
		WorkspaceId: ws, GrantId: "g999", RequestId: "void-999",
	})
	checkStatus(t, err, codes.NotFound, "GRANT_NOT_FOUND")

	page1, err := c.admin.ListPoolGrants(rpcCtx(t), &quotav1.ListPoolGrantsRequest{WorkspaceId: ws, PageSize: 2})
	if err != nil {
		t.Fatalf("ListPoolGrants page 1: %v", err)
	}
	if got := grantIDs(page1.GetGrants()); !cmp.Equal(got, []string{g1.GetGrantId(), g2.GetGrantId()}) || page1.GetNextPageToken() == "" {
		t.Errorf("ListPoolGrants page 1: grants %v token %q, want [%s %s] and a token",
			got, page1.GetNextPageToken(), g1.GetGrantId(), g2.GetGrantId())
	}
	if gs := page1.GetGrants(); len(gs) > 0 && (gs[0].GetState() != quotav1.GrantState_GRANT_STATE_VOIDED || gs[0].GetForfeited() != g1.GetAmount()) {
		t.Errorf("listed voided grant: state %v forfeited %d, want VOIDED %d", gs[0].GetState(), gs[0].GetForfeited(), g1.GetAmount())
	}
	page2, err := c.admin.ListPoolGrants(rpcCtx(t), &quotav1.ListPoolGrantsRequest{
		WorkspaceId: ws, PageSize: 2, PageToken: page1.GetNextPageToken(),
	})
	if err != nil {
		t.Fatalf("ListPoolGrants page 2: %v", err)
	}
	if got := grantIDs(page2.GetGrants()); !cmp.Equal(got, []string{g3.GetGrantId()}) || page2.GetNextPageToken() != "" {
		t.Errorf("ListPoolGrants page 2: grants %v token %q, want [%s] and no token", got, page2.GetNextPageToken(), g3.GetGrantId())
	}

	p := workspaceBalance(t, c, ws).GetPool()
	if p.GetForfeited() != g1.GetAmount() || p.GetGranted() != 600*credit || p.GetAvailable() != 500*credit {
		t.Errorf("pool after the void: %v, want forfeited %d granted %d available %d", p, g1.GetAmount(), 600*credit, 500*credit)
	}
}

// grantIDs lists the grants' ids.
func grantIDs(gs []*quotav1.PoolGrant) []string {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.GetGrantId()
	}
	return ids
}

func testPoolOverageShortfall(t *testing.T, c *client) {
	const ws, member = "pool-overage", "max"
	poolWorkspace(t, c, ws, &quotav1.WorkspacePolicy{Pooled: true, OverageEnabled: true, OverageCap: 50 * credit})
	grant := addGrant(t, c, ws, "grant-1", 100*credit, 0, nil)
	if b := setSeat(t, c, ws, member, quotav1.Seat_SEAT_MAX); b.GetAllocated() != 0 || b.GetSpendable() != 150*credit {
		t.Errorf("pooled Max member: allocated %d spendable %d, want 0 %d", b.GetAllocated(), b.GetSpendable(), 150*credit)
	}

	res, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, MemberId: member, RequestId: "reserve-1", Amount: 200 * credit, MinAmount: 1,
		Ttl: durationpb.New(10 * time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	r := res.GetReservation()
	if r.GetHeld() != 150*credit || r.GetRequested() != 200*credit {
		t.Errorf("Reserve: held %d requested %d, want %d %d", r.GetHeld(), r.GetRequested(), 150*credit, 200*credit)
	}
	checkSources(t, "Reserve held_from", r.GetHeldFrom(), []*quotav1.SourceAmount{
		src(quotav1.Source_SOURCE_POOL, 100*credit, grant.GetGrantId()),
		src(quotav1.Source_SOURCE_OVERAGE, 50*credit, ""),
	})

	com, err := c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{
		WorkspaceId: ws, ReservationId: r.GetReservationId(), RequestId: "commit-1", Usage: dataRetrievals(60),
	})
	if err != nil {
		t.Fatalf("Commit beyond every source: %v", err)
	}
	cr := com.GetReservation()
	if cr.GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED || cr.GetCost().GetTotalCost() != 180*credit ||
		cr.GetCharged() != 150*credit || cr.GetChargedFromHold() != 150*credit || cr.GetShortfall() != 30*credit || cr.GetReleased() != 0 {
		t.Errorf("Commit: state %v cost %d charged %d from hold %d shortfall %d released %d, want COMMITTED %d %d %d %d 0",
			cr.GetState(), cr.GetCost().GetTotalCost(), cr.GetCharged(), cr.GetChargedFromHold(), cr.GetShortfall(), cr.GetReleased(),
			180*credit, 150*credit, 150*credit, 30*credit)
	}
	checkSources(t, "Commit charged_from", cr.GetChargedFrom(), []*quotav1.SourceAmount{
		src(quotav1.Source_SOURCE_POOL, 100*credit, grant.GetGrantId()),
		src(quotav1.Source_SOURCE_OVERAGE, 50*credit, ""),
	})

	wb := workspaceBalance(t, c, ws)
	if wb.GetOverageUsed() != 50*credit || wb.GetOverageHeld() != 0 {
		t.Errorf("workspace balance: overage_used %d overage_held %d, want %d 0", wb.GetOverageUsed(), wb.GetOverageHeld(), 50*credit)
	}
	if p := wb.GetPool(); p.GetSpent() != 100*credit || p.GetAvailable() != 0 || p.GetHeld() != 0 {
		t.Errorf("pool after the Commit: %v, want spent %d available 0 held 0", p, 100*credit)
	}
	if b := getBalance(t, c, ws, member); b.GetSpendable() != 0 || b.GetHeld() != 0 {
		t.Errorf("member after the Commit: spendable %d held %d, want 0 0", b.GetSpendable(), b.GetHeld())
	}
}
