package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// End-to-end tests: quotad started with run, on each of backends (the
// embedded store, a real redis-server and a Redis Cluster), driven only
// through the generated gRPC clients. The subtests of one backend share
// one quotad; each uses a workspace of its own.

// credit is 1 credit in µcredits, as on the wire.
const credit int64 = 1_000_000

// rpcTimeout bounds every call.
const rpcTimeout = 10 * time.Second

// client is the generated clients of one quotad.
type client struct {
	quota quotav1.QuotaServiceClient
	admin quotav1.AdminServiceClient
}

// clientOn returns the generated clients on conn.
func clientOn(conn *grpc.ClientConn) *client {
	return &client{quota: quotav1.NewQuotaServiceClient(conn), admin: quotav1.NewAdminServiceClient(conn)}
}

// rpcCtx returns a context that ends after rpcTimeout or with t.
func rpcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestEndToEnd runs the scenarios on each backend.
func TestEndToEnd(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			q := startQuotad(t, backend)
			c := &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)}
			t.Run("walkthrough reserves, commits an agent chain and refunds", func(t *testing.T) { testWalkthrough(t, c) })
			t.Run("retried commit answers the same and charges once", func(t *testing.T) { testCommitRetry(t, c) })
			t.Run("errors carry their reasons through the wire", func(t *testing.T) { testWireErrors(t, c) })
			t.Run("concurrent reserves never overdraw", func(t *testing.T) { testConcurrentReserves(t, c) })
			t.Run("operators adjust credits and force refunds", func(t *testing.T) { testOperatorActions(t, c) })
			t.Run("balances are explained", func(t *testing.T) { testExplain(t, c) })
		})
	}
}

// walk is the state the walkthrough leaves: a Pro member with one
// committed reservation.
type walk struct {
	ws, member string
	seat       *quotav1.SetSeatResponse
	reserve    *quotav1.ReserveResponse
	commitReq  *quotav1.CommitRequest
	commit     *quotav1.CommitResponse
}

// walkthroughRun is the agent chain the walkthrough commits: 12.6 credits.
func walkthroughRun() *quotav1.AgentRun {
	return &quotav1.AgentRun{
		AgentId: "main",
		Models: []*quotav1.ModelUsage{{
			Model: "claude-sonnet-4-5", InputTokens: 12_000, OutputTokens: 1_500, CacheReadTokens: 40_000,
		}},
		Actions: []*quotav1.ToolAction{{Tool: "web_search"}, {Tool: "agent_router"}},
		SubAgents: []*quotav1.AgentRun{{
			AgentId: "researcher",
			Models:  []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: 30_000, OutputTokens: 4_000}},
			Actions: []*quotav1.ToolAction{{Tool: "data_retrieval"}, {Tool: "slack_connector", NotRun: true}},
		}},
	}
}

// walkthrough sets up workspace ws (subscription start 2026-01-31T09:00Z)
// with alice on a Pro seat, reserves 50 credits for a conversation and
// commits walkthroughRun. It fails t on any error.
func walkthrough(t *testing.T, c *client, ws string) walk {
	t.Helper()
	w := walk{ws: ws, member: "alice"}
	start := time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{
		WorkspaceId: ws, RequestId: "set-workspace", SubscriptionStart: timestamppb.New(start),
	}); err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
	var err error
	w.seat, err = c.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{
		WorkspaceId: ws, MemberId: w.member, RequestId: "seat-alice", Seat: quotav1.Seat_SEAT_PRO,
	})
	if err != nil {
		t.Fatalf("SetSeat: %v", err)
	}
	w.reserve, err = c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: ws, MemberId: w.member, RequestId: "reserve-1", Amount: 50 * credit,
		Ttl: durationpb.New(600 * time.Second), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	w.commitReq = &quotav1.CommitRequest{
		WorkspaceId: ws, ReservationId: w.reserve.GetReservation().GetReservationId(), RequestId: "commit-1",
		Usage: walkthroughRun(),
	}
	w.commit, err = c.quota.Commit(rpcCtx(t), w.commitReq)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return w
}

func testWalkthrough(t *testing.T, c *client) {
	w := walkthrough(t, c, "acme")

	if got := w.seat.GetBalance(); got.GetSeat() != quotav1.Seat_SEAT_PRO || got.GetAllocated() != 8_000_000_000 || got.GetAvailable() != 8_000_000_000 {
		t.Errorf("SetSeat balance: seat %v allocated %d available %d, want SEAT_PRO 8000000000 8000000000",
			got.GetSeat(), got.GetAllocated(), got.GetAvailable())
	}
	if r := w.reserve.GetReservation(); r.GetState() != quotav1.ReservationState_RESERVATION_STATE_HELD || r.GetHeld() != 50*credit || r.GetRequested() != 50*credit {
		t.Errorf("Reserve: state %v held %d requested %d, want HELD %d %d", r.GetState(), r.GetHeld(), r.GetRequested(), 50*credit, 50*credit)
	}
	if b := w.reserve.GetBalance(); b.GetHeld() != 50*credit || b.GetAvailable() != 7_950*credit {
		t.Errorf("balance after Reserve: held %d available %d, want %d %d", b.GetHeld(), b.GetAvailable(), 50*credit, 7_950*credit)
	}

	r := w.commit.GetReservation()
	cost := r.GetCost()
	var sub *quotav1.AgentCost
	if subs := cost.GetRoot().GetSubAgents(); len(subs) == 1 {
		sub = subs[0]
	} else {
		t.Errorf("Commit cost: %d sub-agents, want 1", len(subs))
	}
	for _, f := range []struct {
		name      string
		got, want int64
	}{
		{"total_cost", cost.GetTotalCost(), 12_600_000},
		{"token_cost", cost.GetTokenCost(), 8_600_000},
		{"action_cost", cost.GetActionCost(), 4_000_000},
		{"root.own_cost", cost.GetRoot().GetOwnCost(), 8_050_000},
		{"root.total_cost", cost.GetRoot().GetTotalCost(), 12_600_000},
		{"sub-agent total_cost", sub.GetTotalCost(), 4_550_000},
		{"charged", r.GetCharged(), 12_600_000},
		{"charged_from_hold", r.GetChargedFromHold(), 12_600_000},
		{"released", r.GetReleased(), 37_400_000},
		{"shortfall", r.GetShortfall(), 0},
		{"held", r.GetHeld(), 0},
		{"balance available", w.commit.GetBalance().GetAvailable(), 7_987_400_000},
		{"balance held", w.commit.GetBalance().GetHeld(), 0},
		{"balance spent", w.commit.GetBalance().GetSpent(), 12_600_000},
	} {
		if f.got != f.want {
			t.Errorf("Commit %s = %d, want %d", f.name, f.got, f.want)
		}
	}
	if got := r.GetState(); got != quotav1.ReservationState_RESERVATION_STATE_COMMITTED {
		t.Errorf("Commit state = %v, want COMMITTED", got)
	}
	if got := sub.GetAgentId(); got != "researcher" {
		t.Errorf("sub-agent id = %q, want researcher", got)
	}

	got, err := c.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{WorkspaceId: w.ws, ReservationId: r.GetReservationId()})
	if err != nil {
		t.Fatalf("GetReservation: %v", err)
	}
	if diff := cmp.Diff(r, got.GetReservation(), protocmp.Transform()); diff != "" {
		t.Errorf("GetReservation differs from the Commit response (-commit +get):\n%s", diff)
	}

	// An automation's hold, refunded: the balance is back where it was.
	second, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: w.ws, MemberId: w.member, RequestId: "reserve-2", Amount: 20 * credit,
		Origin: quotav1.Origin_ORIGIN_AUTOMATION,
	})
	if err != nil {
		t.Fatalf("second Reserve: %v", err)
	}
	if b := second.GetBalance(); b.GetHeld() != 20*credit || b.GetAvailable() != 7_967_400_000 {
		t.Errorf("balance after the second Reserve: held %d available %d, want %d 7967400000", b.GetHeld(), b.GetAvailable(), 20*credit)
	}
	refund, err := c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{
		WorkspaceId: w.ws, ReservationId: second.GetReservation().GetReservationId(), RequestId: "refund-2",
	})
	if err != nil {
		t.Fatalf("Refund: %v", err)
	}
	if rr := refund.GetReservation(); rr.GetState() != quotav1.ReservationState_RESERVATION_STATE_REFUNDED || rr.GetReleased() != 20_000_000 || rr.GetCharged() != 0 || rr.GetHeld() != 0 {
		t.Errorf("Refund: state %v released %d charged %d held %d, want REFUNDED 20000000 0 0",
			rr.GetState(), rr.GetReleased(), rr.GetCharged(), rr.GetHeld())
	}
	if b := refund.GetBalance(); b.GetAvailable() != 7_987_400_000 || b.GetHeld() != 0 {
		t.Errorf("balance after Refund: available %d held %d, want 7987400000 0", b.GetAvailable(), b.GetHeld())
	}
	bal := getBalance(t, c, w.ws, w.member)
	if bal.GetAvailable() != 7_987_400_000 || bal.GetHeld() != 0 || bal.GetSpent() != 12_600_000 {
		t.Errorf("GetBalance: available %d held %d spent %d, want 7987400000 0 12600000", bal.GetAvailable(), bal.GetHeld(), bal.GetSpent())
	}
	checkInvariant(t, bal)
}

func testCommitRetry(t *testing.T, c *client) {
	w := walkthrough(t, c, "acme-retry")

	retry, err := c.quota.Commit(rpcCtx(t), w.commitReq)
	if err != nil {
		t.Fatalf("retried Commit: %v", err)
	}
	if diff := cmp.Diff(w.commit, retry, protocmp.Transform()); diff != "" {
		t.Errorf("retried Commit answered differently (-first +retry):\n%s", diff)
	}
	after := getBalance(t, c, w.ws, w.member)
	if diff := cmp.Diff(w.commit.GetBalance(), after, protocmp.Transform()); diff != "" {
		t.Errorf("balance changed by the retried Commit (-after first commit +now):\n%s", diff)
	}

	other := &quotav1.CommitRequest{
		WorkspaceId: w.ws, ReservationId: w.commitReq.GetReservationId(), RequestId: w.commitReq.GetRequestId(),
		Usage: &quotav1.AgentRun{AgentId: "main", Actions: []*quotav1.ToolAction{{Tool: "web_search"}}},
	}
	_, err = c.quota.Commit(rpcCtx(t), other)
	st := checkStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED")
	if br := detail[*errdetails.BadRequest](st); br == nil || len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != "request_id" {
		t.Errorf("REQUEST_ID_REUSED BadRequest = %v, want one violation of field request_id", br)
	}
	if diff := cmp.Diff(after, getBalance(t, c, w.ws, w.member), protocmp.Transform()); diff != "" {
		t.Errorf("balance changed by a reused request_id (-before +after):\n%s", diff)
	}
}

func testWireErrors(t *testing.T, c *client) {
	w := walkthrough(t, c, "acme-errors")
	reserve := func(ws, member string, amount int64) func() error {
		return func() error {
			_, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
				WorkspaceId: ws, MemberId: member, RequestId: fmt.Sprintf("reserve-%s-%s-%d", ws, member, amount),
				Amount: amount, Origin: quotav1.Origin_ORIGIN_CONVERSATION,
			})
			return err
		}
	}
	tests := []struct {
		name   string
		call   func() error
		code   codes.Code
		reason string
		check  func(t *testing.T, st *status.Status)
	}{
		{
			name: "reserve for a member without a seat is NO_SEAT",
			call: reserve(w.ws, "nobody", 10*credit), code: codes.ResourceExhausted, reason: "NO_SEAT",
			check: func(t *testing.T, st *status.Status) {
				if qf := detail[*errdetails.QuotaFailure](st); qf == nil || len(qf.GetViolations()) == 0 {
					t.Errorf("QuotaFailure = %v, want one with a violation", qf)
				}
			},
		},
		{
			name: "refund of a committed reservation is an illegal transition",
			call: func() error {
				_, err := c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{
					WorkspaceId: w.ws, ReservationId: w.commitReq.GetReservationId(), RequestId: "refund-committed",
				})
				return err
			},
			code: codes.FailedPrecondition, reason: "ILLEGAL_TRANSITION",
		},
		{
			name: "unknown reservation is RESERVATION_NOT_FOUND",
			call: func() error {
				_, err := c.quota.GetReservation(rpcCtx(t), &quotav1.GetReservationRequest{
					WorkspaceId: w.ws, ReservationId: "c_00000000000000000000000000000000_0",
				})
				return err
			},
			code: codes.NotFound, reason: "RESERVATION_NOT_FOUND",
		},
		{
			name: "reserve in an unknown workspace is WORKSPACE_NOT_FOUND",
			call: reserve("no-such-workspace", w.member, 10*credit), code: codes.NotFound, reason: "WORKSPACE_NOT_FOUND",
		},
		{
			name: "negative amount is INVALID_FIELD amount",
			call: reserve(w.ws, w.member, -5), code: codes.InvalidArgument, reason: "INVALID_FIELD",
			check: func(t *testing.T, st *status.Status) {
				br := detail[*errdetails.BadRequest](st)
				if br == nil || len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != "amount" {
					t.Errorf("BadRequest = %v, want one violation of field amount", br)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := checkStatus(t, tt.call(), tt.code, tt.reason)
			if st != nil && tt.check != nil {
				tt.check(t, st)
			}
		})
	}
	// None of them changed alice's credits.
	if diff := cmp.Diff(w.commit.GetBalance(), getBalance(t, c, w.ws, w.member), protocmp.Transform()); diff != "" {
		t.Errorf("balance changed by failed calls (-before +after):\n%s", diff)
	}
}

func testConcurrentReserves(t *testing.T, c *client) {
	const (
		ws, member = "acme-load", "zed"
		calls      = 200
		amount     = 70 * credit // 200 × 70 = 14,000 credits asked of 8,000
	)
	if _, err := c.admin.SetWorkspace(rpcCtx(t), &quotav1.SetWorkspaceRequest{
		WorkspaceId: ws, RequestId: "set-workspace", SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)),
	}); err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
	if _, err := c.admin.SetSeat(rpcCtx(t), &quotav1.SetSeatRequest{
		WorkspaceId: ws, MemberId: member, RequestId: "seat-zed", Seat: quotav1.Seat_SEAT_PRO,
	}); err != nil {
		t.Fatalf("SetSeat: %v", err)
	}

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ids    []string
		denied int
	)
	for i := range calls {
		wg.Go(func() {
			resp, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
				WorkspaceId: ws, MemberId: member, RequestId: fmt.Sprintf("reserve-%d", i), Amount: amount,
				Ttl: durationpb.New(10 * time.Minute), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
			})
			if err == nil && resp.GetReservation().GetHeld() != amount {
				t.Errorf("Reserve %d held %d, want %d", i, resp.GetReservation().GetHeld(), amount)
			}
			st, _ := status.FromError(err)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ids = append(ids, resp.GetReservation().GetReservationId())
			case st.Code() == codes.ResourceExhausted && reasonOf(st) == "CREDITS_EXHAUSTED":
				denied++
			default:
				t.Errorf("Reserve %d: %v (reason %q), want success or RESOURCE_EXHAUSTED CREDITS_EXHAUSTED", i, err, reasonOf(st))
			}
		})
	}
	wg.Wait()
	if len(ids) != 114 || denied != 86 {
		t.Errorf("%d holds and %d denials, want 114 and 86", len(ids), denied)
	}
	b := getBalance(t, c, ws, member)
	checkInvariant(t, b)
	if b.GetHeld() != int64(len(ids))*amount || b.GetHeld() != 114*amount || b.GetAvailable() != 8_000*credit-b.GetHeld() {
		t.Errorf("balance after the reserves: held %d available %d, want held %d (114 × 70 credits) available %d",
			b.GetHeld(), b.GetAvailable(), 114*amount, 8_000*credit-114*amount)
	}

	// Settle them all concurrently: even ones committed (one advanced
	// action, 3 credits), odd ones refunded.
	var committed int64
	for i, id := range ids {
		if i%2 == 0 {
			committed++
		}
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = c.quota.Commit(rpcCtx(t), &quotav1.CommitRequest{
					WorkspaceId: ws, ReservationId: id, RequestId: "settle-" + id,
					Usage: &quotav1.AgentRun{AgentId: "main", Actions: []*quotav1.ToolAction{{Tool: "data_retrieval"}}},
				})
			} else {
				_, err = c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: id, RequestId: "settle-" + id})
			}
			if err != nil {
				t.Errorf("settling %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	b = getBalance(t, c, ws, member)
	checkInvariant(t, b)
	spent := committed * 3 * credit
	if b.GetHeld() != 0 || b.GetSpent() != spent || b.GetAvailable() != 8_000*credit-spent {
		t.Errorf("balance after settling: held %d spent %d available %d, want 0 %d %d",
			b.GetHeld(), b.GetSpent(), b.GetAvailable(), spent, 8_000*credit-spent)
	}
	if tt := b.GetTotals(); tt.GetAllocated() != 8_000*credit || tt.GetHeld() != 0 || tt.GetSpent() != spent || tt.GetForfeited() != 0 {
		t.Errorf("totals after settling: %v, want allocated %d held 0 spent %d forfeited 0", tt, 8_000*credit, spent)
	}
}

// getBalance returns a member's balance, failing t on error.
func getBalance(t *testing.T, c *client, ws, member string) *quotav1.Balance {
	t.Helper()
	resp, err := c.quota.GetBalance(rpcCtx(t), &quotav1.GetBalanceRequest{WorkspaceId: ws, MemberId: member})
	if err != nil {
		t.Fatalf("GetBalance(%s, %s): %v", ws, member, err)
	}
	return resp.GetBalance()
}

// checkInvariant checks allocated = available + held + spent + forfeited
// on the lifetime totals.
func checkInvariant(t *testing.T, b *quotav1.Balance) {
	t.Helper()
	tt := b.GetTotals()
	if tt == nil {
		t.Errorf("balance of %s has no totals", b.GetMemberId())
		return
	}
	if tt.GetAllocated() != tt.GetAvailable()+tt.GetHeld()+tt.GetSpent()+tt.GetForfeited() {
		t.Errorf("invariant broken for %s: allocated %d != available %d + held %d + spent %d + forfeited %d",
			b.GetMemberId(), tt.GetAllocated(), tt.GetAvailable(), tt.GetHeld(), tt.GetSpent(), tt.GetForfeited())
	}
}

// checkStatus checks that err is a status error with code and an
// ErrorInfo of domain "quota.dev" and reason, and returns its status (nil if
// err is not a status).
func checkStatus(t *testing.T, err error, code codes.Code, reason string) *status.Status {
	t.Helper()
	if err == nil {
		t.Errorf("got no error, want %v %s", code, reason)
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Errorf("got %v, not a gRPC status; want %v %s", err, code, reason)
		return nil
	}
	if st.Code() != code || reasonOf(st) != reason {
		t.Errorf("got %v (ErrorInfo reason %q), want %v %s", err, reasonOf(st), code, reason)
	}
	if info := detail[*errdetails.ErrorInfo](st); info != nil && info.GetDomain() != "quota.dev" {
		t.Errorf("ErrorInfo domain = %q, want quota", info.GetDomain())
	}
	return st
}

// reasonOf returns the reason of st's ErrorInfo, "" if it has none.
func reasonOf(st *status.Status) string {
	return detail[*errdetails.ErrorInfo](st).GetReason()
}

// detail returns st's first detail of type T, or nil.
func detail[T any](st *status.Status) T {
	var zero T
	if st == nil {
		return zero
	}
	for _, d := range st.Details() {
		if v, ok := d.(T); ok {
			return v
		}
	}
	return zero
}
