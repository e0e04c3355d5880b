package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// TestEveryMutationReplays sends every mutation twice with the same
// request_id through gRPC: the second answer equals the first
// (proto.Equal) although the idempotency records keep only the outcome
// and the reply is rebuilt from the stored records; errors recorded under
// a request id (a denial) replay as the same status.
func TestEveryMutationReplays(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			q := startQuotad(t, backend)
			c := &client{quota: quotav1.NewQuotaServiceClient(q.Conn), admin: quotav1.NewAdminServiceClient(q.Conn)}
			testReplays(t, c)
		})
	}
}

// twice sends a request twice and checks that both answers are equal.
func twice[Req proto.Message, Resp proto.Message](t *testing.T, name string, call func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) Resp {
	t.Helper()
	first, err1 := call(rpcCtx(t), req)
	again, err2 := call(rpcCtx(t), req)
	switch {
	case err1 != nil || err2 != nil:
		if err1 == nil || err2 == nil || !sameStatus(status.Convert(err1), status.Convert(err2)) {
			t.Fatalf("%s: first %v, replay %v", name, err1, err2)
		}
	case !proto.Equal(first, again):
		t.Errorf("%s: the replay differs from the first answer:\nfirst  %v\nreplay %v", name, first, again)
	}
	return first
}

func testReplays(t *testing.T, c *client) {
	const ws = "replays"
	q, a := c.quota, c.admin
	twice(t, "SetWorkspace", a.SetWorkspace, &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: "ws", SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))})
	twice(t, "SetSeat", a.SetSeat, &quotav1.SetSeatRequest{WorkspaceId: ws, MemberId: "ann", RequestId: "seat", Seat: quotav1.Seat_SEAT_PRO})
	twice(t, "SetWorkspacePolicy", a.SetWorkspacePolicy, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: ws, RequestId: "policy",
		Policy: &quotav1.WorkspacePolicy{OverageEnabled: true, OverageCap: 100 * credit}})
	twice(t, "SetMemberPoolCap", a.SetMemberPoolCap, &quotav1.SetMemberPoolCapRequest{WorkspaceId: ws, MemberId: "ann", RequestId: "cap", Unlimited: true})
	grant := twice(t, "AddPoolGrant", a.AddPoolGrant, &quotav1.AddPoolGrantRequest{WorkspaceId: ws, RequestId: "grant",
		Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: 1_000 * credit})
	twice(t, "VoidPoolGrant", a.VoidPoolGrant, &quotav1.VoidPoolGrantRequest{WorkspaceId: ws, RequestId: "void", GrantId: grant.GetGrant().GetGrantId()})
	twice(t, "SetPricing", a.SetPricing, &quotav1.SetPricingRequest{RequestId: "pricing-replay", Pricing: &quotav1.PriceTable{
		Models: []*quotav1.ModelPrice{{Model: "only", InputRate: 7}}}})

	root := twice(t, "Reserve", q.Reserve, &quotav1.ReserveRequest{WorkspaceId: ws, MemberId: "ann", RequestId: "root",
		Amount: 100 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION, Ttl: durationpb.New(3600e9)}).GetReservation().GetReservationId()
	kid := twice(t, "Reserve (child)", q.Reserve, &quotav1.ReserveRequest{WorkspaceId: ws, ParentReservationId: root, RequestId: "kid",
		Amount: 10 * credit}).GetReservation().GetReservationId()
	twice(t, "Extend", q.Extend, &quotav1.ExtendRequest{WorkspaceId: ws, ReservationId: kid, RequestId: "extend", AddAmount: credit})
	twice(t, "Commit (child)", q.Commit, &quotav1.CommitRequest{WorkspaceId: ws, ReservationId: kid, RequestId: "kid-commit",
		Usage: &quotav1.AgentRun{AgentId: "sub", Actions: []*quotav1.ToolAction{{Tool: "web_search"}}}})
	twice(t, "Commit (root)", q.Commit, &quotav1.CommitRequest{WorkspaceId: ws, ReservationId: root, RequestId: "root-commit",
		Usage: walkthroughRun()})
	other := twice(t, "Reserve (to refund)", q.Reserve, &quotav1.ReserveRequest{WorkspaceId: ws, MemberId: "ann", RequestId: "other",
		Amount: 5 * credit, Origin: quotav1.Origin_ORIGIN_AUTOMATION}).GetReservation().GetReservationId()
	twice(t, "Refund", q.Refund, &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: other, RequestId: "refund"})
	forced := twice(t, "Reserve (to force a refund)", q.Reserve, &quotav1.ReserveRequest{WorkspaceId: ws, MemberId: "ann", RequestId: "forced",
		Amount: 3 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION}).GetReservation().GetReservationId()
	twice(t, "RefundReservation", a.RefundReservation, &quotav1.RefundReservationRequest{WorkspaceId: ws, ReservationId: forced,
		RequestId: "force-refund", Reason: "stuck run"})
	twice(t, "AdjustBalance (member credit)", a.AdjustBalance, &quotav1.AdjustBalanceRequest{WorkspaceId: ws, MemberId: "ann",
		RequestId: "adjust-ann", Amount: 2 * credit, Reason: "goodwill"})
	twice(t, "AdjustBalance (member debit)", a.AdjustBalance, &quotav1.AdjustBalanceRequest{WorkspaceId: ws, MemberId: "ann",
		RequestId: "adjust-ann-down", Amount: -credit, Reason: "correction"})
	twice(t, "AdjustBalance (pool credit)", a.AdjustBalance, &quotav1.AdjustBalanceRequest{WorkspaceId: ws,
		RequestId: "adjust-pool", Amount: 50 * credit, Reason: "top-up by hand"})
	twice(t, "AdjustBalance (pool debit)", a.AdjustBalance, &quotav1.AdjustBalanceRequest{WorkspaceId: ws,
		RequestId: "adjust-pool-down", Amount: -10 * credit, Reason: "correction"})
	// Recorded errors replay as the same status.
	twice(t, "Reserve (denied)", q.Reserve, &quotav1.ReserveRequest{WorkspaceId: ws, MemberId: "ann", RequestId: "too-much",
		Amount: 1_000_000 * credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
	twice(t, "Refund (illegal transition)", q.Refund, &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: other, RequestId: "refund-again"})
	twice(t, "VoidPoolGrant (ended)", a.VoidPoolGrant, &quotav1.VoidPoolGrantRequest{WorkspaceId: ws, RequestId: "void-again", GrantId: grant.GetGrant().GetGrantId()})
}

// sameStatus compares two statuses by code, message and details (the
// details unpacked: a map in one serialises in any order).
func sameStatus(a, b *status.Status) bool {
	if a.Code() != b.Code() || a.Message() != b.Message() || len(a.Details()) != len(b.Details()) {
		return false
	}
	for i, d := range a.Details() {
		pa, ok1 := d.(proto.Message)
		pb, ok2 := b.Details()[i].(proto.Message)
		if !ok1 || !ok2 || !proto.Equal(pa, pb) {
			return false
		}
	}
	return true
}
