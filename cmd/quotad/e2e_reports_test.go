package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// TestEndToEndReports runs a run with a sub-agent, a retried commit, a
// programmatic spender and an open hold through quotad, then reads them
// back with the four reports: usage, members, ledger and open holds.
func TestEndToEndReports(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			q := startQuotad(t, backend)
			testReports(t, &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)})
		})
	}
}

func testReports(t *testing.T, c *client) {
	const ws = "reports"
	poolWorkspace(t, c, ws, &quotav1.WorkspacePolicy{})
	addGrant(t, c, ws, "grant-1", 100*credit, 0, nil)
	setSeat(t, c, ws, "alice", quotav1.Seat_SEAT_PRO)
	setSeat(t, c, ws, "bob", quotav1.Seat_SEAT_MAX)
	reserve := func(req *quotav1.ReserveRequest) *quotav1.Reservation {
		t.Helper()
		req.WorkspaceId = ws
		resp, err := c.quota.Reserve(rpcCtx(t), req)
		if err != nil {
			t.Fatalf("Reserve(%s): %v", req.GetRequestId(), err)
		}
		return resp.GetReservation()
	}
	commit := func(id, req string, run *quotav1.AgentRun) *quotav1.Reservation {
		t.Helper()
		resp, err := c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{WorkspaceId: ws, ReservationId: id, RequestId: req, Usage: run})
		if err != nil {
			t.Fatalf("Commit(%s): %v", req, err)
		}
		return resp.GetReservation()
	}
	root := reserve(&quotav1.ReserveRequest{MemberId: "alice", RequestId: "root", Amount: 50 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
	kid := reserve(&quotav1.ReserveRequest{ParentReservationId: root.GetReservationId(), RequestId: "kid", Amount: 10 * credit})
	commit(kid.GetReservationId(), "kid-commit", &quotav1.AgentRun{AgentId: "researcher",
		Models: []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: 40_000}}})
	for range 2 { // the retry counts once
		commit(root.GetReservationId(), "root-commit", walkthroughRun())
	}
	bot := reserve(&quotav1.ReserveRequest{SpenderId: "bot", RequestId: "bot", Amount: 5 * credit, Origin: quotav1.Origin_ORIGIN_AUTOMATION})
	commit(bot.GetReservationId(), "bot-commit", dataRetrievals(1))
	open := reserve(&quotav1.ReserveRequest{MemberId: "bob", RequestId: "open", Amount: 20 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})

	// Usage by member: alice's run (the walkthrough's 12.6 credits and the
	// researcher's 1), charged once, and the spender's data retrieval.
	usage := func(g quotav1.UsageGrouping) map[string]*quotav1.UsageGroup {
		t.Helper()
		out := map[string]*quotav1.UsageGroup{}
		req := &quotav1.GetUsageRequest{WorkspaceId: ws, GroupBy: g, PageSize: 1}
		for range 100 {
			resp, err := c.admin.GetUsage(rpcCtx(t), req)
			if err != nil {
				t.Fatalf("GetUsage(%v): %v", g, err)
			}
			for _, grp := range resp.GetGroups() {
				out[grp.GetKey()] = grp
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return out
			}
		}
		t.Fatalf("GetUsage(%v) did not end", g)
		return nil
	}
	want := map[string]*quotav1.UsageGroup{
		"alice": {Key: "alice", Cost: 13_600_000, TokenCost: 9_600_000, ActionCost: 4 * credit, Tokens: 127_500, Actions: 3,
			Commits: 2, Charged: 13_600_000},
		"~bot": {Key: "~bot", Cost: 3 * credit, ActionCost: 3 * credit, Actions: 1, Commits: 1, Charged: 3 * credit},
	}
	if diff := cmp.Diff(want, usage(quotav1.UsageGrouping_USAGE_GROUPING_MEMBER), protocmp.Transform()); diff != "" {
		t.Errorf("usage by member (-want +got):\n%s", diff)
	}
	agents := usage(quotav1.UsageGrouping_USAGE_GROUPING_AGENT)
	if len(agents) != 2 || agents["researcher"].GetCost() != 5_550_000 || agents["main"].GetCost() != 11_050_000 {
		t.Errorf("usage by agent: %v", agents)
	}

	// The members table: alice and bob, as GetBalance shows them.
	resp, err := c.admin.ListMembers(rpcCtx(t), &quotav1.ListMembersRequest{WorkspaceId: ws, PageSize: 1})
	if err != nil || len(resp.GetMembers()) != 1 || resp.GetNextPageToken() == "" {
		t.Fatalf("ListMembers, first page: %v, %v", resp, err)
	}
	last, err := c.admin.ListMembers(rpcCtx(t), &quotav1.ListMembersRequest{WorkspaceId: ws, PageSize: 1, PageToken: resp.GetNextPageToken()})
	if err != nil || len(last.GetMembers()) != 1 {
		t.Fatalf("ListMembers, second page: %v, %v", last, err)
	}
	for _, b := range append(resp.GetMembers(), last.GetMembers()...) {
		if diff := cmp.Diff(getBalance(t, c, ws, b.GetMemberId()), b, protocmp.Transform()); diff != "" {
			t.Errorf("ListMembers' %s against GetBalance (-GetBalance +ListMembers):\n%s", b.GetMemberId(), diff)
		}
	}

	// The ledger: alice's commit and record, then follow it.
	ledger, err := c.admin.ListLedgerEntries(rpcCtx(t), &quotav1.ListLedgerEntriesRequest{WorkspaceId: ws, MemberId: "alice",
		Operations: []string{"commit", "record"}})
	if err != nil || len(ledger.GetEntries()) != 2 || ledger.GetNextPageToken() == "" {
		t.Fatalf("ListLedgerEntries: %v, %v", ledger, err)
	}
	if rec := ledger.GetEntries()[0]; rec.GetOperation() != "record" || rec.GetRelatedReservationId() != root.GetReservationId() ||
		rec.GetReservationId() != kid.GetReservationId() || rec.GetRequestId() != "kid-commit" {
		t.Errorf("the record entry: %v", rec)
	}
	follow := &quotav1.ListLedgerEntriesRequest{WorkspaceId: ws, MemberId: "bob", PageToken: ""}
	page, err := c.admin.ListLedgerEntries(rpcCtx(t), follow)
	if err != nil || len(page.GetEntries()) != 3 { // reset, upgrade, reserve
		t.Fatalf("bob's ledger: %v, %v", page, err)
	}
	if _, err := c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: open.GetReservationId(), RequestId: "open-refund"}); err != nil {
		t.Fatal(err)
	}
	follow.PageToken = page.GetNextPageToken()
	if page, err = c.admin.ListLedgerEntries(rpcCtx(t), follow); err != nil || len(page.GetEntries()) != 1 || page.GetEntries()[0].GetOperation() != "refund" {
		t.Errorf("bob's ledger, followed: %v, %v", page, err)
	}

	// Open holds: none left but a new one of bob's.
	hold := reserve(&quotav1.ReserveRequest{MemberId: "bob", RequestId: "open-2", Amount: 7 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
	holds, err := c.admin.ListReservations(rpcCtx(t), &quotav1.ListReservationsRequest{WorkspaceId: ws})
	if err != nil || len(holds.GetReservations()) != 1 || holds.GetNextPageToken() != "" {
		t.Fatalf("ListReservations: %v, %v", holds, err)
	}
	if got := holds.GetReservations()[0]; got.GetReservationId() != hold.GetReservationId() || got.GetHeld() != 7*credit ||
		got.GetState() != quotav1.ReservationState_RESERVATION_STATE_HELD || got.GetMemberId() != "bob" {
		t.Errorf("the open hold: %v", got)
	}
	if holds, err = c.admin.ListReservations(rpcCtx(t), &quotav1.ListReservationsRequest{WorkspaceId: ws, MemberId: "alice"}); err != nil || len(holds.GetReservations()) != 0 {
		t.Errorf("alice's open holds: %v, %v", holds, err)
	}

	// Limits and bad input through the wire.
	now := time.Now()
	_, err = c.admin.GetUsage(rpcCtx(t), &quotav1.GetUsageRequest{WorkspaceId: ws, GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_DAY,
		StartTime: timestamppb.New(now.AddDate(-2, 0, 0)), EndTime: timestamppb.New(now)})
	checkStatus(t, err, codes.InvalidArgument, "LIMIT_EXCEEDED")
	_, err = c.admin.ListLedgerEntries(rpcCtx(t), &quotav1.ListLedgerEntriesRequest{WorkspaceId: ws, Operations: []string{"steal"}})
	checkStatus(t, err, codes.InvalidArgument, "INVALID_FIELD")
	_, err = c.admin.ListMembers(rpcCtx(t), &quotav1.ListMembersRequest{WorkspaceId: "nowhere"})
	checkStatus(t, err, codes.NotFound, "WORKSPACE_NOT_FOUND")
}
