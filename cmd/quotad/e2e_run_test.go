package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// End-to-end tests of runs: child reservations for sub-agents, settling a
// run as one cost, voiding it, and the per-run token cap, through the
// generated gRPC clients on every backend. Each scenario uses a workspace
// of its own.

// TestEndToEndRuns runs the run scenarios on each backend.
func TestEndToEndRuns(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			q := startQuotad(t, backend)
			c := &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)}
			t.Run("one cost per run", func(t *testing.T) { testRunOneCost(t, c) })
			t.Run("refunding the root voids the run", func(t *testing.T) { testRunVoiding(t, c) })
			t.Run("child carved from the parent hold", func(t *testing.T) { testRunParentHold(t, c) })
			t.Run("run cap stops at the cap", func(t *testing.T) { testRunCap(t, c) })
		})
	}
}

// runWorkspace sets up workspace ws (subscription start 2026-01-31T09:00Z)
// with member on seat, failing t on error.
func runWorkspace(t *testing.T, c *client, ws, member string, seat quotav1.Seat) {
	t.Helper()
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{
		WorkspaceId: ws, RequestId: "set-workspace",
		SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
	}); err != nil {
		t.Fatalf("SetWorkspace(%s): %v", ws, err)
	}
	setSeat(t, c, ws, member, seat)
}

// reserveRoot reserves amount for member in a conversation, for 10
// minutes, with an optional run token cap, failing t on error.
func reserveRoot(t *testing.T, c *client, ws, member, requestID string, amount int64, runTokenCap *int64) *quotav1.ReserveResponse {
	t.Helper()
	resp, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, MemberId: member, RequestId: requestID, Amount: amount,
		Ttl: durationpb.New(10 * time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		RunTokenCap: runTokenCap,
	})
	if err != nil {
		t.Fatalf("root Reserve %s: %v", requestID, err)
	}
	return resp
}

// reserveChild reserves amount as a child of parent, naming only the
// workspace, the parent and the request.
func reserveChild(t *testing.T, c *client, ws, parent, requestID string, amount int64, allowTopUp bool) (*quotav1.ReserveResponse, error) {
	t.Helper()
	return c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, ParentReservationId: parent, RequestId: requestID, Amount: amount, AllowTopUp: allowTopUp,
	})
}

// mustReserveChild is reserveChild failing t on error.
func mustReserveChild(t *testing.T, c *client, ws, parent, requestID string, amount int64) *quotav1.ReserveResponse {
	t.Helper()
	resp, err := reserveChild(t, c, ws, parent, requestID, amount, false)
	if err != nil {
		t.Fatalf("child Reserve %s: %v", requestID, err)
	}
	return resp
}

// commitRun commits id with usage, failing t on error.
func commitRun(t *testing.T, c *client, ws, id, requestID string, usage *quotav1.AgentRun) *quotav1.CommitResponse {
	t.Helper()
	resp, err := c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{
		WorkspaceId: ws, ReservationId: id, RequestId: requestID, Usage: usage,
	})
	if err != nil {
		t.Fatalf("Commit %s: %v", requestID, err)
	}
	return resp
}

// getReservation returns reservation id of ws, failing t on error.
func getReservation(t *testing.T, c *client, ws, id string) *quotav1.Reservation {
	t.Helper()
	resp, err := c.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{WorkspaceId: ws, ReservationId: id})
	if err != nil {
		t.Fatalf("GetReservation(%s): %v", id, err)
	}
	return resp.GetReservation()
}

// miniTokens is agent's run of input tokens of gpt-5-mini: 25 credits a
// million, so 40,000 tokens a credit.
func miniTokens(agent string, inputTokens int64) *quotav1.AgentRun {
	return &quotav1.AgentRun{
		AgentId: agent,
		Models:  []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: inputTokens}},
	}
}

// agentTree is an agent cost reduced to its id and its sub-agents, nested.
type agentTree struct {
	ID   string
	Subs []agentTree
}

// treeOf reduces a to its agent ids, nested as they ran.
func treeOf(a *quotav1.AgentCost) agentTree {
	tr := agentTree{ID: a.GetAgentId()}
	for _, s := range a.GetSubAgents() {
		tr.Subs = append(tr.Subs, treeOf(s))
	}
	return tr
}

// runTree reads a run's cost with ListRunCosts, one entry a page as a
// client paging a large run would, and nests each entry's agents under the
// main agent of the entry it is under.
func runTree(t *testing.T, c *client, ws, id string) agentTree {
	t.Helper()
	var entries []*quotav1.RunCostEntry
	token := ""
	for range 1000 {
		resp, err := c.quota.ListRunCosts(rpcCtx(t), &quotav1.ListRunCostsRequest{WorkspaceId: ws, ReservationId: id, PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatalf("ListRunCosts: %v", err)
		}
		entries = append(entries, resp.GetEntries()...)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	var nest func(e *quotav1.RunCostEntry) agentTree
	nest = func(e *quotav1.RunCostEntry) agentTree {
		tr := treeOf(e.GetCost().GetRoot())
		for _, k := range entries {
			if k.GetUnderReservationId() == e.GetReservationId() {
				tr.Subs = append(tr.Subs, nest(k))
			}
		}
		return tr
	}
	for _, e := range entries {
		if e.GetUnderReservationId() == "" {
			return nest(e)
		}
	}
	t.Fatalf("ListRunCosts(%s): no top entry in %v", id, entries)
	return agentTree{}
}

func testRunOneCost(t *testing.T, c *client) {
	const ws, member = "run-cost", "alice"
	runWorkspace(t, c, ws, member, quotav1.Seat_SEAT_PRO)

	root := reserveRoot(t, c, ws, member, "root-reserve", 100*credit, nil).GetReservation()
	rootID := root.GetReservationId()
	if root.GetHeld() != 100*credit || root.GetParentReservationId() != "" || root.GetRootReservationId() != rootID {
		t.Errorf("root Reserve: held %d parent %q root %q, want %d \"\" %q",
			root.GetHeld(), root.GetParentReservationId(), root.GetRootReservationId(), 100*credit, rootID)
	}

	child := mustReserveChild(t, c, ws, rootID, "researcher-reserve", 40*credit).GetReservation()
	childID := child.GetReservationId()
	if child.GetParentReservationId() != rootID || child.GetRootReservationId() != rootID ||
		child.GetMemberId() != member || child.GetOrigin() != quotav1.Origin_ORIGIN_CONVERSATION ||
		child.GetHeld() != 40*credit || child.GetState() != quotav1.ReservationState_RESERVATION_STATE_HELD {
		t.Errorf("child Reserve: parent %q root %q member %q origin %v held %d state %v, want %q %q %q CONVERSATION %d HELD",
			child.GetParentReservationId(), child.GetRootReservationId(), child.GetMemberId(), child.GetOrigin(),
			child.GetHeld(), child.GetState(), rootID, rootID, member, 40*credit)
	}
	if got := getReservation(t, c, ws, rootID).GetHeld(); got != 60*credit {
		t.Errorf("root held after the child = %d, want %d", got, 60*credit)
	}

	grandchild := mustReserveChild(t, c, ws, childID, "checker-reserve", 10*credit).GetReservation()
	if grandchild.GetParentReservationId() != childID || grandchild.GetRootReservationId() != rootID || grandchild.GetHeld() != 10*credit {
		t.Errorf("grandchild Reserve: parent %q root %q held %d, want %q %q %d",
			grandchild.GetParentReservationId(), grandchild.GetRootReservationId(), grandchild.GetHeld(), childID, rootID, 10*credit)
	}

	for _, cc := range []struct {
		id, requestID string
		usage         *quotav1.AgentRun
	}{
		{grandchild.GetReservationId(), "checker-commit", miniTokens("checker", 40_000)},
		{childID, "researcher-commit", &quotav1.AgentRun{AgentId: "researcher", Actions: []*quotav1.ToolAction{{Tool: "data_retrieval"}}}},
	} {
		r := commitRun(t, c, ws, cc.id, cc.requestID, cc.usage).GetReservation()
		if !r.GetRecorded() || r.GetCharged() != 0 || r.GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED {
			t.Errorf("child Commit %s: recorded %v charged %d state %v, want true 0 COMMITTED",
				cc.requestID, r.GetRecorded(), r.GetCharged(), r.GetState())
		}
		// Reservation.recorded (types.proto) and the README: on a recorded
		// child, charged_from_hold, charged_from, released and shortfall
		// stay 0.
		if r.GetChargedFromHold() != 0 || len(r.GetChargedFrom()) != 0 || r.GetReleased() != 0 || r.GetShortfall() != 0 {
			t.Errorf("recorded child Commit %s: charged_from_hold %d charged_from %v released %d shortfall %d, want 0 [] 0 0",
				cc.requestID, r.GetChargedFromHold(), r.GetChargedFrom(), r.GetReleased(), r.GetShortfall())
		}
	}

	com := commitRun(t, c, ws, rootID, "root-commit", &quotav1.AgentRun{
		AgentId: "main", Actions: []*quotav1.ToolAction{{Tool: "web_search"}},
	})
	r := com.GetReservation()
	cost := r.GetCost()
	for _, f := range []struct {
		name      string
		got, want int64
	}{
		{"charged", r.GetCharged(), 5 * credit},
		{"charged_from_hold", r.GetChargedFromHold(), 5 * credit},
		{"released", r.GetReleased(), 95 * credit},
		{"shortfall", r.GetShortfall(), 0},
		{"held", r.GetHeld(), 0},
		{"cost total_cost", cost.GetTotalCost(), 5 * credit},
		{"cost token_cost", cost.GetTokenCost(), 1 * credit},
		{"cost action_cost", cost.GetActionCost(), 4 * credit},
		{"cost root.total_cost", cost.GetRoot().GetTotalCost(), 1 * credit},
		{"cost root.own_cost", cost.GetRoot().GetOwnCost(), 1 * credit},
		{"cost recorded_cost", cost.GetRecordedCost(), 4 * credit},
		{"cost recorded_action_cost", cost.GetRecordedActionCost(), 3 * credit},
		{"balance spent", com.GetBalance().GetSpent(), 5 * credit},
		{"balance held", com.GetBalance().GetHeld(), 0},
	} {
		if f.got != f.want {
			t.Errorf("root Commit %s = %d, want %d", f.name, f.got, f.want)
		}
	}
	if r.GetState() != quotav1.ReservationState_RESERVATION_STATE_COMMITTED || r.GetRecorded() {
		t.Errorf("root Commit: state %v recorded %v, want COMMITTED false", r.GetState(), r.GetRecorded())
	}
	if diff := cmp.Diff(agentTree{ID: "main"}, treeOf(cost.GetRoot())); diff != "" {
		t.Errorf("root Commit cost agents (-want +got):\n%s", diff)
	}
	want := agentTree{ID: "main", Subs: []agentTree{{ID: "researcher", Subs: []agentTree{{ID: "checker"}}}}}
	if diff := cmp.Diff(want, runTree(t, c, ws, rootID)); diff != "" {
		t.Errorf("ListRunCosts agents, nested (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(r, getReservation(t, c, ws, rootID), protocmp.Transform()); diff != "" {
		t.Errorf("GetReservation(root) differs from the Commit response (-commit +get):\n%s", diff)
	}
	b := getBalance(t, c, ws, member)
	if b.GetSpent() != 5*credit || b.GetHeld() != 0 {
		t.Errorf("GetBalance: spent %d held %d, want %d 0", b.GetSpent(), b.GetHeld(), 5*credit)
	}
	checkInvariant(t, b)
}

func testRunVoiding(t *testing.T, c *client) {
	const ws, member = "run-void", "vera"
	runWorkspace(t, c, ws, member, quotav1.Seat_SEAT_PRO)

	rootID := reserveRoot(t, c, ws, member, "root-reserve", 50*credit, nil).GetReservation().GetReservationId()
	childID := mustReserveChild(t, c, ws, rootID, "child-reserve", 20*credit).GetReservation().GetReservationId()

	refund, err := c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: rootID, RequestId: "root-refund"})
	if err != nil {
		t.Fatalf("Refund(root): %v", err)
	}
	if rr := refund.GetReservation(); rr.GetState() != quotav1.ReservationState_RESERVATION_STATE_REFUNDED || rr.GetCharged() != 0 || rr.GetHeld() != 0 {
		t.Errorf("Refund(root): state %v charged %d held %d, want REFUNDED 0 0", rr.GetState(), rr.GetCharged(), rr.GetHeld())
	}
	if ch := getReservation(t, c, ws, childID); ch.GetState() != quotav1.ReservationState_RESERVATION_STATE_REFUNDED || ch.GetHeld() != 0 {
		t.Errorf("child after Refund(root): state %v held %d, want REFUNDED 0", ch.GetState(), ch.GetHeld())
	}
	b := getBalance(t, c, ws, member)
	if b.GetHeld() != 0 || b.GetSpent() != 0 || b.GetAvailable() != 8_000*credit {
		t.Errorf("GetBalance after Refund(root): held %d spent %d available %d, want 0 0 %d", b.GetHeld(), b.GetSpent(), b.GetAvailable(), 8_000*credit)
	}
	checkInvariant(t, b)

	_, err = reserveChild(t, c, ws, rootID, "child-of-refunded", 5*credit, false)
	checkStatus(t, err, codes.FailedPrecondition, "PARENT_NOT_HELD")
	_, err = reserveChild(t, c, ws, "c_00000000000000000000000000000000_0", "child-of-nothing", 5*credit, false)
	checkStatus(t, err, codes.NotFound, "PARENT_NOT_FOUND")

	if diff := cmp.Diff(b, getBalance(t, c, ws, member), protocmp.Transform()); diff != "" {
		t.Errorf("balance changed by refused child reserves (-before +after):\n%s", diff)
	}
}

func testRunParentHold(t *testing.T, c *client) {
	const ws, member = "run-hold", "hugo"
	runWorkspace(t, c, ws, member, quotav1.Seat_SEAT_PRO)

	rootID := reserveRoot(t, c, ws, member, "root-reserve", 30*credit, nil).GetReservation().GetReservationId()

	_, err := reserveChild(t, c, ws, rootID, "child-no-top-up", 50*credit, false)
	if st := checkStatus(t, err, codes.ResourceExhausted, "PARENT_HOLD_EXHAUSTED"); st != nil {
		if qf := detail[*errdetails.QuotaFailure](st); qf == nil || len(qf.GetViolations()) == 0 {
			t.Errorf("PARENT_HOLD_EXHAUSTED QuotaFailure = %v, want one with a violation", qf)
		}
	}
	if got := getReservation(t, c, ws, rootID).GetHeld(); got != 30*credit {
		t.Errorf("root held after the refused child = %d, want %d", got, 30*credit)
	}

	res, err := reserveChild(t, c, ws, rootID, "child-top-up", 50*credit, true)
	if err != nil {
		t.Fatalf("child Reserve with allow_top_up: %v", err)
	}
	if r := res.GetReservation(); r.GetHeld() != 50*credit || r.GetParentReservationId() != rootID ||
		r.GetState() != quotav1.ReservationState_RESERVATION_STATE_HELD {
		t.Errorf("child Reserve with allow_top_up: held %d parent %q state %v, want %d %q HELD",
			r.GetHeld(), r.GetParentReservationId(), r.GetState(), 50*credit, rootID)
	}
	if b := res.GetBalance(); b.GetHeld() != 50*credit || b.GetAvailable() != 7_950*credit {
		t.Errorf("balance after the topped-up child: held %d available %d, want %d %d", b.GetHeld(), b.GetAvailable(), 50*credit, 7_950*credit)
	}
	if got := getReservation(t, c, ws, rootID).GetHeld(); got != 0 {
		t.Errorf("root held after the topped-up child = %d, want 0 (all 30 credits carved)", got)
	}
	checkInvariant(t, getBalance(t, c, ws, member))
}

func testRunCap(t *testing.T, c *client) {
	const ws, member = "run-cap", "max"
	runWorkspace(t, c, ws, member, quotav1.Seat_SEAT_MAX)

	root := reserveRoot(t, c, ws, member, "root-reserve", 500*credit, proto.Int64(10*credit)).GetReservation()
	rootID := root.GetReservationId()
	if root.RunTokenCap == nil || root.GetRunTokenCap() != 10*credit || root.GetRunTokenSpent() != 0 {
		t.Errorf("root Reserve: run_token_cap %v run_token_spent %d, want %d 0", root.RunTokenCap, root.GetRunTokenSpent(), 10*credit)
	}

	first := mustReserveChild(t, c, ws, rootID, "child-1-reserve", 6*credit).GetReservation()
	if first.GetRunTokenCap() != 10*credit {
		t.Errorf("child run_token_cap = %d, want the root's %d", first.GetRunTokenCap(), 10*credit)
	}
	commitRun(t, c, ws, first.GetReservationId(), "child-1-commit", miniTokens("sub-1", 240_000)) // 6 credits
	if got := getReservation(t, c, ws, rootID).GetRunTokenSpent(); got != 6*credit {
		t.Errorf("run_token_spent after the first child = %d, want %d", got, 6*credit)
	}

	_, err := reserveChild(t, c, ws, rootID, "child-2-reserve", 5*credit, false) // 6 + 5 > 10
	checkStatus(t, err, codes.ResourceExhausted, "RUN_CAP_REACHED")

	third := mustReserveChild(t, c, ws, rootID, "child-3-reserve", 4*credit).GetReservation() // 6 + 4 = 10
	if third.GetHeld() != 4*credit {
		t.Errorf("child at the cap held %d, want %d", third.GetHeld(), 4*credit)
	}
	commitRun(t, c, ws, third.GetReservationId(), "child-3-commit", miniTokens("sub-3", 160_000)) // 4 credits

	_, err = c.quota.Extend(rpcCtx(t), &quotav1.ExtendRequest{
		WorkspaceId: ws, ReservationId: rootID, RequestId: "root-extend", AddAmount: 1 * credit,
	})
	checkStatus(t, err, codes.ResourceExhausted, "RUN_CAP_REACHED")

	r := getReservation(t, c, ws, rootID)
	if r.GetRunTokenSpent() != 10*credit || r.RunTokenCap == nil || r.GetRunTokenCap() != 10*credit {
		t.Errorf("GetReservation(root): run_token_spent %d run_token_cap %v, want %d %d", r.GetRunTokenSpent(), r.RunTokenCap, 10*credit, 10*credit)
	}
	if r.GetState() != quotav1.ReservationState_RESERVATION_STATE_HELD || r.GetHeld() != 500*credit {
		t.Errorf("GetReservation(root): state %v held %d, want HELD %d", r.GetState(), r.GetHeld(), 500*credit)
	}
	checkInvariant(t, getBalance(t, c, ws, member))
}

// TestARunCostsPageStaysUnder64KiB pages, through gRPC, the costs of a
// run at its reservations limit whose children each committed one model
// line: at the largest page size, a page is under 64 KiB (a default
// gRPC client's messages are up to 4 MiB, but issue 7 bounds replies at
// 64 KiB), and the pages hold the whole run, every entry once.
func TestARunCostsPageStaysUnder64KiB(t *testing.T) {
	q := startQuotad(t, "redis")
	c := &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)}
	runWorkspace(t, c, "pages", "ada", quotav1.Seat_SEAT_MAX)
	root := reserveRoot(t, c, "pages", "ada", "root", 100*credit, nil).GetReservation().GetReservationId()
	for i := range quota.MaxRunReservations - 1 {
		child := mustReserveChild(t, c, "pages", root, fmt.Sprintf("child-%d", i), credit).GetReservation().GetReservationId()
		commitRun(t, c, "pages", child, fmt.Sprintf("commit-%d", i), miniTokens(fmt.Sprintf("agent-%d", i), 1_000))
	}
	commitRun(t, c, "pages", root, "commit-root", miniTokens("main", 1_000))

	seen := map[string]bool{}
	token, pages := "", 0
	for {
		resp, err := c.quota.ListRunCosts(rpcCtx(t), &quotav1.ListRunCostsRequest{WorkspaceId: "pages", ReservationId: root, PageSize: 500, PageToken: token})
		if err != nil {
			t.Fatalf("ListRunCosts: %v", err)
		}
		pages++
		if n := proto.Size(resp); n > 64<<10 {
			t.Fatalf("page %d of %d entries is %d bytes; want at most 64 KiB", pages, len(resp.GetEntries()), n)
		}
		for _, e := range resp.GetEntries() {
			if seen[e.GetReservationId()] {
				t.Fatalf("%s on two pages", e.GetReservationId())
			}
			seen[e.GetReservationId()] = true
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if pages > quota.MaxRunReservations {
			t.Fatal("the pages do not end")
		}
	}
	if len(seen) != quota.MaxRunReservations || !seen[root] {
		t.Fatalf("%d reservations in %d pages, the root among them: %v; want %d", len(seen), pages, seen[root], quota.MaxRunReservations)
	}
}
