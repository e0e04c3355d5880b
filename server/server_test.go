package server

import (
	"context"
	"google.golang.org/protobuf/proto"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

func TestCommitConvertsTheSettledReservation(t *testing.T) {
	deadline, created, settled := testNow.Add(5*time.Minute), testNow.Add(-time.Minute), testNow
	out := quota.Outcome{
		Reservation: quota.Reservation{
			WorkspaceID: "ws-1", ID: testResID, MemberID: "m-1",
			Origin: quota.OriginConversation, State: quota.StateCommitted,
			Requested: 10 * quota.Credit, Held: 0,
			Deadline: deadline, Created: created, Settled: settled,
			Cost: &quota.RunCost{
				Origin: quota.OriginConversation,
				Root: quota.AgentCost{
					AgentID:      "main",
					Models:       []quota.ModelCost{{Model: "claude-sonnet-4-5", PricedAs: "claude-sonnet-4-5", Tokens: 1200, Cost: 600_000}},
					Actions:      []quota.ActionCost{{Tool: "memory", Tier: quota.TierBasic, Cost: 0, Note: "platform tool in conversation"}},
					OwnTokenCost: 600_000,
					OwnCost:      600_000,
					TokenCost:    600_000 + 3_000_000,
					ActionCost:   quota.Credit + 3*quota.Credit,
					TotalCost:    3_600_000 + 4*quota.Credit,
					SubAgents: []quota.AgentCost{{
						AgentID:       "researcher",
						Models:        []quota.ModelCost{{Model: "gpt-9", PricedAs: "claude-opus-4-1", Fallback: true, Tokens: 2000, Cost: 3_000_000}},
						Actions:       []quota.ActionCost{{Tool: "web_search", Tier: quota.TierBasic, Cost: quota.Credit}},
						OwnTokenCost:  3_000_000,
						OwnActionCost: quota.Credit,
						OwnCost:       4_000_000,
						TokenCost:     3_000_000,
						ActionCost:    quota.Credit,
						TotalCost:     4_000_000,
						SubAgents: []quota.AgentCost{{
							AgentID:       "mcp-caller",
							Actions:       []quota.ActionCost{{Tool: "jira", Tier: quota.TierAdvanced, Cost: 3 * quota.Credit, Note: "external MCP"}},
							OwnActionCost: 3 * quota.Credit, OwnCost: 3 * quota.Credit,
							ActionCost: 3 * quota.Credit, TotalCost: 3 * quota.Credit,
						}},
					}},
				},
				TokenCost:      3_600_000,
				ActionCost:     4 * quota.Credit,
				TotalCost:      7_600_000,
				FallbackModels: []string{"gpt-9"},
			},
			Charged: 7_600_000, ChargedFromHold: 7_600_000,
			ChargedFrom: []quota.SourceAmount{{Source: quota.SourceSeat, Amount: 7_000_000}, {Source: quota.SourceFree, Amount: 600_000}},
			Released:    2_400_000,
		},
		Balance: quota.Balance{
			WorkspaceID: "ws-1", MemberID: "m-1", Seat: quota.SeatPro,
			PeriodStart: testNow.AddDate(0, 0, -13), PeriodEnd: testNow.AddDate(0, 1, -13),
			Allocated: 8_000 * quota.Credit, Available: 8_000*quota.Credit - 7_600_000, Spent: 7_600_000,
			Spendable: 8_000*quota.Credit - 7_600_000,
			Sources: []quota.SourceBalance{
				{Source: quota.SourceSeat, Allocated: 8_000 * quota.Credit, Available: 8_000*quota.Credit - 7_000_000, Spent: 7_000_000},
			},
			Totals: quota.Totals{Allocated: 8_500 * quota.Credit, Available: 8_500*quota.Credit - 7_600_000, Spent: 7_600_000},
		},
	}
	var got quota.CommitOp
	e := newEnv(t, &fakeStore{commit: func(_ context.Context, op quota.CommitOp) (quota.Outcome, error) {
		got = op
		return out, nil
	}})

	resp, err := e.quota.Commit(testCtx(t), okCommit())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	want := &quotav1.CommitResponse{
		Reservation: &quotav1.Reservation{
			WorkspaceId: "ws-1", ReservationId: testResID, MemberId: "m-1",
			Origin: quotav1.Origin_ORIGIN_CONVERSATION, State: quotav1.ReservationState_RESERVATION_STATE_COMMITTED,
			Requested:  10 * quota.Credit,
			Deadline:   timestamppb.New(deadline),
			CreateTime: timestamppb.New(created),
			SettleTime: timestamppb.New(settled),
			Cost: &quotav1.RunCost{
				Origin: quotav1.Origin_ORIGIN_CONVERSATION,
				Root: &quotav1.AgentCost{
					AgentId:      "main",
					Models:       []*quotav1.ModelCost{{Model: "claude-sonnet-4-5", PricedAs: "claude-sonnet-4-5", Tokens: 1200, Cost: 600_000}},
					Actions:      []*quotav1.ActionCost{{Tool: "memory", Tier: quotav1.ToolTier_TOOL_TIER_BASIC, Note: "platform tool in conversation"}},
					OwnTokenCost: 600_000, OwnCost: 600_000,
					TokenCost: 3_600_000, ActionCost: 4_000_000, TotalCost: 7_600_000,
					SubAgents: []*quotav1.AgentCost{{
						AgentId:      "researcher",
						Models:       []*quotav1.ModelCost{{Model: "gpt-9", PricedAs: "claude-opus-4-1", Fallback: true, Tokens: 2000, Cost: 3_000_000}},
						Actions:      []*quotav1.ActionCost{{Tool: "web_search", Tier: quotav1.ToolTier_TOOL_TIER_BASIC, Cost: 1_000_000}},
						OwnTokenCost: 3_000_000, OwnActionCost: 1_000_000, OwnCost: 4_000_000,
						TokenCost: 3_000_000, ActionCost: 1_000_000, TotalCost: 4_000_000,
						SubAgents: []*quotav1.AgentCost{{
							AgentId:       "mcp-caller",
							Actions:       []*quotav1.ActionCost{{Tool: "jira", Tier: quotav1.ToolTier_TOOL_TIER_ADVANCED, Cost: 3_000_000, Note: "external MCP"}},
							OwnActionCost: 3_000_000, OwnCost: 3_000_000, ActionCost: 3_000_000, TotalCost: 3_000_000,
						}},
					}},
				},
				TokenCost: 3_600_000, ActionCost: 4_000_000, TotalCost: 7_600_000,
				FallbackModels: []string{"gpt-9"},
			},
			Charged: 7_600_000, ChargedFromHold: 7_600_000,
			ChargedFrom: []*quotav1.SourceAmount{
				{Source: quotav1.Source_SOURCE_SEAT, Amount: 7_000_000},
				{Source: quotav1.Source_SOURCE_FREE, Amount: 600_000},
			},
			Released: 2_400_000,
		},
		Balance: &quotav1.Balance{
			WorkspaceId: "ws-1", MemberId: "m-1",
			Seat: quotav1.Seat_SEAT_PRO, NextSeat: quotav1.Seat_SEAT_UNSPECIFIED,
			PeriodStart: timestamppb.New(testNow.AddDate(0, 0, -13)),
			PeriodEnd:   timestamppb.New(testNow.AddDate(0, 1, -13)),
			Allocated:   8_000_000_000, Available: 7_992_400_000, Spent: 7_600_000, Spendable: 7_992_400_000,
			Sources: []*quotav1.SourceBalance{
				{Source: quotav1.Source_SOURCE_SEAT, Allocated: 8_000_000_000, Available: 7_993_000_000, Spent: 7_000_000},
			},
			Totals: &quotav1.AccountTotals{Allocated: 8_500_000_000, Available: 8_492_400_000, Spent: 7_600_000},
		},
	}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("Commit response (-want +got):\n%s", diff)
	}

	// The store got the request, priced for the origin in the id.
	if got.WorkspaceID != "ws-1" || got.Ref.ID() != testResID || got.RequestID != "req-1" || !got.Now.Equal(testNow) {
		t.Errorf("CommitOp = workspace %q, reservation %q, request %q, now %v", got.WorkspaceID, got.Ref.ID(), got.RequestID, got.Now)
	}
	if got.Cost.Origin != quota.OriginConversation || got.Cost.Root.AgentID != "main" || len(got.Cost.Root.SubAgents) != 2 {
		t.Errorf("CommitOp.Cost = %+v, want the usage priced as a conversation", got.Cost)
	}
}

func TestReserveSendsTheConvertedRequest(t *testing.T) {
	var got quota.ReserveOp
	e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
		got = op
		return quota.Outcome{}, nil
	}})
	req := okReserve()
	req.Origin = quotav1.Origin_ORIGIN_AUTOMATION
	req.Ttl = durationpb.New(90 * time.Second)
	if _, err := e.quota.Reserve(testCtx(t), req); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	idem, err := idemOf(req)
	if err != nil {
		t.Fatal(err)
	}
	want := quota.ReserveOp{
		Idem: idem, WorkspaceID: "ws-1", MemberID: "user@example.com",
		Ref:    quota.ReservationRef{Origin: quota.OriginAutomation, Hex: quota.RequestHex("ws-1", "req-1")},
		Amount: 10 * quota.Credit, Min: 10 * quota.Credit,
		Deadline: testNow.Add(90 * time.Second), Now: testNow,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReserveOp (-want +got):\n%s", diff)
	}
	if id := got.Ref.ID(); len(id) != 36 || id[:2] != "a_" {
		t.Errorf("reservation id = %q, want an automation id of price version 0", id)
	}
}

func TestFingerprintMatchesOnlyTheSameRequest(t *testing.T) {
	base := okReserve()
	fp := func(r *quotav1.ReserveRequest) string {
		idem, err := idemOf(r)
		if err != nil {
			t.Fatal(err)
		}
		if idem.RequestID != r.GetRequestId() {
			t.Errorf("RequestID = %q, want %q", idem.RequestID, r.GetRequestId())
		}
		if len(idem.Fingerprint) != 64 {
			t.Errorf("Fingerprint %q is not a hex SHA-256", idem.Fingerprint)
		}
		return idem.Fingerprint
	}
	if fp(base) != fp(with(base, func(*quotav1.ReserveRequest) {})) {
		t.Error("a copy of the request has another fingerprint")
	}
	changes := map[string]func(*quotav1.ReserveRequest){
		"amount":                func(r *quotav1.ReserveRequest) { r.Amount++ },
		"member_id":             func(r *quotav1.ReserveRequest) { r.MemberId = "other" },
		"ttl":                   func(r *quotav1.ReserveRequest) { r.Ttl = durationpb.New(time.Minute) },
		"origin":                func(r *quotav1.ReserveRequest) { r.Origin = quotav1.Origin_ORIGIN_SIDEKICK },
		"parent_reservation_id": func(r *quotav1.ReserveRequest) { r.ParentReservationId = testResID },
		"allow_top_up":          func(r *quotav1.ReserveRequest) { r.AllowTopUp = true },
		"run_token_cap":         func(r *quotav1.ReserveRequest) { r.RunTokenCap = proto.Int64(0) },
	}
	for name, edit := range changes {
		if fp(base) == fp(with(base, edit)) {
			t.Errorf("changing %s keeps the fingerprint", name)
		}
	}
}

// TestFingerprintTellsRPCsApart: SetSeat(PRO) and SetMemberPoolCap(2) encode
// to the same bytes; with one request_id they must still not match.
func TestFingerprintTellsRPCsApart(t *testing.T) {
	seat := &quotav1.SetSeatRequest{WorkspaceId: "ws", MemberId: "m", RequestId: "r", Seat: quotav1.Seat_SEAT_PRO}
	capReq := &quotav1.SetMemberPoolCapRequest{WorkspaceId: "ws", MemberId: "m", RequestId: "r", PoolCap: proto.Int64(2)}
	a, _ := proto.MarshalOptions{Deterministic: true}.Marshal(seat)
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(capReq)
	if string(a) != string(b) {
		t.Fatalf("the premise no longer holds: the two requests encode differently")
	}
	x, err := idemOf(seat)
	if err != nil {
		t.Fatal(err)
	}
	y, err := idemOf(capReq)
	if err != nil {
		t.Fatal(err)
	}
	if x.Fingerprint == y.Fingerprint {
		t.Error("two RPCs with the same bytes share a fingerprint")
	}
}

func TestBalanceConvertsSeats(t *testing.T) {
	cases := []struct {
		name          string
		bal           quota.Balance
		seat, nextSet quotav1.Seat
	}{
		{"no pending change is an unspecified next seat", quota.Balance{Seat: quota.SeatMax}, quotav1.Seat_SEAT_MAX, quotav1.Seat_SEAT_UNSPECIFIED},
		{"no seat is unassigned", quota.Balance{Seat: quota.SeatNone}, quotav1.Seat_SEAT_UNASSIGNED, quotav1.Seat_SEAT_UNSPECIFIED},
		{"a pending downgrade is the next seat", quota.Balance{Seat: quota.SeatPro, NextSeat: quota.SeatFree, HasNext: true}, quotav1.Seat_SEAT_PRO, quotav1.Seat_SEAT_FREE},
		{"a pending unassignment is an unassigned next seat", quota.Balance{Seat: quota.SeatFree, NextSeat: quota.SeatNone, HasNext: true}, quotav1.Seat_SEAT_FREE, quotav1.Seat_SEAT_UNASSIGNED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &fakeStore{getBalance: func(_ context.Context, ws, member string, now time.Time) (quota.Balance, error) {
				if !now.Equal(testNow) {
					t.Errorf("now = %v, want %v", now, testNow)
				}
				b := tc.bal
				b.WorkspaceID, b.MemberID = ws, member
				return b, nil
			}})
			resp, err := e.quota.GetBalance(testCtx(t), &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: "m-1"})
			if err != nil {
				t.Fatalf("GetBalance: %v", err)
			}
			b := resp.GetBalance()
			if b.GetSeat() != tc.seat || b.GetNextSeat() != tc.nextSet {
				t.Errorf("seat, next_seat = %v, %v; want %v, %v", b.GetSeat(), b.GetNextSeat(), tc.seat, tc.nextSet)
			}
			if b.GetWorkspaceId() != "ws-1" || b.GetMemberId() != "m-1" {
				t.Errorf("balance of %q/%q, want ws-1/m-1", b.GetWorkspaceId(), b.GetMemberId())
			}
		})
	}
}

func TestHeldReservationHasNoSettleTime(t *testing.T) {
	e := newEnv(t, &fakeStore{getReservation: func(_ context.Context, ws string, ref quota.ReservationRef, _ time.Time) (quota.Reservation, error) {
		return quota.Reservation{
			WorkspaceID: ws, ID: ref.ID(), State: quota.StateHeld, Origin: quota.OriginSidekick,
			Created: testNow, Deadline: testNow.Add(time.Minute),
		}, nil
	}})
	resp, err := e.quota.GetReservation(testCtx(t), &quotav1.GetReservationRequest{WorkspaceId: "ws-1", ReservationId: testResID})
	if err != nil {
		t.Fatalf("GetReservation: %v", err)
	}
	want := &quotav1.Reservation{
		WorkspaceId: "ws-1", ReservationId: testResID, Origin: quotav1.Origin_ORIGIN_SIDEKICK,
		State:      quotav1.ReservationState_RESERVATION_STATE_HELD,
		CreateTime: timestamppb.New(testNow), Deadline: timestamppb.New(testNow.Add(time.Minute)),
	}
	if diff := cmp.Diff(want, resp.GetReservation(), protocmp.Transform()); diff != "" {
		t.Errorf("reservation (-want +got):\n%s", diff)
	}
}

func TestSetSeatUnassignedIsSeatNone(t *testing.T) {
	var got quota.SeatOp
	e := newEnv(t, &fakeStore{setSeat: func(_ context.Context, op quota.SeatOp) (quota.Balance, error) {
		got = op
		return quota.Balance{WorkspaceID: op.WorkspaceID, MemberID: op.MemberID, Seat: quota.SeatPro, HasNext: true, NextSeat: quota.SeatNone}, nil
	}})
	req := okSetSeat()
	req.Seat = quotav1.Seat_SEAT_UNASSIGNED
	resp, err := e.admin.SetSeat(testCtx(t), req)
	if err != nil {
		t.Fatalf("SetSeat: %v", err)
	}
	if got.Seat != quota.SeatNone || got.Rank != 0 || got.Monthly != 0 || got.RequestID != "req-1" || got.MemberID != "m-1" {
		t.Errorf("SeatOp = %+v, want an unassignment of m-1", got)
	}
	if resp.GetBalance().GetNextSeat() != quotav1.Seat_SEAT_UNASSIGNED {
		t.Errorf("next_seat = %v, want UNASSIGNED", resp.GetBalance().GetNextSeat())
	}
}

func TestSetWorkspaceRoundTrips(t *testing.T) {
	start := time.Date(2024, 1, 31, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	var got quota.WorkspaceOp
	e := newEnv(t, &fakeStore{setWorkspace: func(_ context.Context, op quota.WorkspaceOp) (quota.Workspace, error) {
		got = op
		return op.Workspace, nil
	}})
	req := okSetWorkspace()
	req.SubscriptionStart = timestamppb.New(start)
	resp, err := e.admin.SetWorkspace(testCtx(t), req)
	if err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
	if !got.Workspace.SubscriptionStart.Equal(start) || got.Workspace.ID != "ws-1" || got.RequestID != "req-1" {
		t.Errorf("WorkspaceOp = %+v", got)
	}
	want := &quotav1.Workspace{WorkspaceId: "ws-1", SubscriptionStart: timestamppb.New(start), Policy: &quotav1.WorkspacePolicy{}}
	if diff := cmp.Diff(want, resp.GetWorkspace(), protocmp.Transform()); diff != "" {
		t.Errorf("workspace (-want +got):\n%s", diff)
	}
}

func TestPricingRoundTrips(t *testing.T) {
	var saved quota.PricingOp
	e := newEnv(t, &fakeStore{savePricing: func(_ context.Context, op quota.PricingOp) (quota.PriceVersion, error) {
		saved = op
		return quota.PriceVersion{Version: 1, Table: op.Table, Created: op.Now, CreatedBy: op.Actor}, nil
	}})
	ctx := testCtx(t)

	got, err := e.admin.GetPricing(ctx, &quotav1.GetPricingRequest{})
	if err != nil {
		t.Fatalf("GetPricing: %v", err)
	}
	def := quota.DefaultPriceTable()
	if diff := cmp.Diff(priceTableToProto(&def), got.GetPricing(), protocmp.Transform()); diff != "" {
		t.Errorf("GetPricing (-want +got):\n%s", diff)
	}

	req := &quotav1.SetPricingRequest{RequestId: "req-1", Pricing: got.GetPricing()}
	req.Pricing.Models = req.Pricing.Models[:3]
	req.Pricing.FallbackModel = req.Pricing.Models[2].Model
	set, err := e.admin.SetPricing(ctx, req)
	if err != nil {
		t.Fatalf("SetPricing: %v", err)
	}
	want := def
	want.Models, want.FallbackModel = def.Models[:3], def.Models[2].Model
	if diff := cmp.Diff(want, saved.Table); diff != "" {
		t.Errorf("stored table (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(req.GetPricing(), set.GetPricing(), protocmp.Transform()); diff != "" {
		t.Errorf("SetPricing response (-want +got):\n%s", diff)
	}
	if v := set.GetVersion(); v.GetVersion() != 1 || !v.GetCreateTime().AsTime().Equal(testNow) {
		t.Errorf("SetPricing version = %v, want version 1 set now", v)
	}
	if after, _ := e.admin.GetPricing(ctx, &quotav1.GetPricingRequest{}); len(after.GetPricing().GetModels()) != 3 || after.GetVersion().GetVersion() != 1 {
		t.Errorf("GetPricing after SetPricing has %d models, version %d; want 3 models, version 1", len(after.GetPricing().GetModels()), after.GetVersion().GetVersion())
	}
}

func TestHealthIsServingUntilShutdown(t *testing.T) {
	e := newEnv(t, nil)
	hc := healthpb.NewHealthClient(e.conn)
	ctx := testCtx(t)
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, name := range []string{"", "quota.v1.QuotaService", "quota.v1.AdminService"} {
			resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
			if err != nil {
				t.Fatalf("Check(%q): %v", name, err)
			}
			if resp.GetStatus() != want {
				t.Errorf("Check(%q) = %v, want %v", name, resp.GetStatus(), want)
			}
		}
	}
	check(healthpb.HealthCheckResponse_SERVING)
	e.srv.Health.Shutdown()
	check(healthpb.HealthCheckResponse_NOT_SERVING)
}

func TestReflectionListsTheServices(t *testing.T) {
	e := newEnvWith(t, nil, Options{Reflection: true})
	stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(testCtx(t))
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	got := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		got[s.GetName()] = true
	}
	for _, want := range []string{"quota.v1.QuotaService", "quota.v1.AdminService", "grpc.health.v1.Health"} {
		if !got[want] {
			t.Errorf("reflection does not list %s; got %v", want, got)
		}
	}
}

func TestShutdownDrainsAndStops(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Shutdown(0, 5*time.Second)
	if _, err := e.admin.GetPricing(testCtx(t), &quotav1.GetPricingRequest{}); err == nil {
		t.Error("a call after Shutdown succeeded")
	}
}
