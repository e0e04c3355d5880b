package main

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/quota/model"
)

// The calls of the model-based tests: each RPC's request on the wire and in
// the model, and how its reply is checked.

// durationOf is a TTL on the wire (0: unset).
func durationOf(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

// seatProto is a seat on the wire.
func seatProto(s quota.Seat) quotav1.Seat {
	if s == quota.SeatNone {
		return quotav1.Seat_SEAT_UNASSIGNED
	}
	return quotav1.Seat(s)
}

func (s *seq) seatCall(id, member string, seat quota.Seat) *call {
	req := &quotav1.SetSeatRequest{WorkspaceId: s.ws, MemberId: member, RequestId: id, Seat: seatProto(seat)}
	return newCall("SetSeat", id, req, s.rig.c.admin.SetSeat,
		func() model.Result { return s.m.SetSeat(id, model.SeatRequest{Member: member, Seat: seat}) },
		func(resp *quotav1.SetSeatResponse, _ model.Result) {
			s.compareBalance("SetSeat reply", resp.GetBalance(), model.Owner{Member: member})
		},
		func(id string) *call { return s.seatCall(id, member, seat) })
}

func (s *seq) policyCall(id string, p quota.Policy) *call {
	wp := &quotav1.WorkspacePolicy{OverageEnabled: p.OverageEnabled, OverageCap: p.OverageCap, Pooled: p.Pooled}
	if p.HasDefaultPoolCap {
		wp.DefaultMemberPoolCap = proto.Int64(p.DefaultPoolCap)
	}
	if p.HasProgrammaticCap {
		wp.ProgrammaticCap = proto.Int64(p.ProgrammaticCap)
	}
	req := &quotav1.SetWorkspacePolicyRequest{WorkspaceId: s.ws, RequestId: id, Policy: wp}
	return newCall("SetWorkspacePolicy", id, req, s.rig.c.admin.SetWorkspacePolicy,
		func() model.Result { return s.m.SetPolicy(id, model.PolicyRequest{Policy: p}) },
		func(resp *quotav1.SetWorkspacePolicyResponse, _ model.Result) {
			s.diff("SetWorkspacePolicy reply", s.m.Policy, policyOf(resp.GetWorkspace().GetPolicy()))
		},
		func(id string) *call { return s.policyCall(id, p) })
}

func (s *seq) capCall(id, member string, c quota.MemberCap) *call {
	req := &quotav1.SetMemberPoolCapRequest{WorkspaceId: s.ws, MemberId: member, RequestId: id, Unlimited: c.Unlimited}
	if c.Set && !c.Unlimited {
		req.PoolCap = proto.Int64(c.Cap)
	}
	return newCall("SetMemberPoolCap", id, req, s.rig.c.admin.SetMemberPoolCap,
		func() model.Result { return s.m.SetMemberCap(id, model.CapRequest{Member: member, Cap: c}) },
		func(resp *quotav1.SetMemberPoolCapResponse, _ model.Result) {
			s.compareBalance("SetMemberPoolCap reply", resp.GetBalance(), model.Owner{Member: member})
		},
		func(id string) *call { return s.capCall(id, member, c) })
}

func (s *seq) grantCall(id string, g model.GrantRequest) *call {
	req := &quotav1.AddPoolGrantRequest{WorkspaceId: s.ws, RequestId: id, Kind: quotav1.GrantKind(g.Kind),
		Amount: g.Amount, Priority: g.Priority}
	if !g.Start.IsZero() {
		req.StartTime = timestamppb.New(g.Start)
	}
	if !g.Expiry.IsZero() {
		req.ExpireTime = timestamppb.New(g.Expiry)
	}
	return newCall("AddPoolGrant", id, req, s.rig.c.admin.AddPoolGrant,
		func() model.Result { return s.m.AddGrant(id, g) },
		func(resp *quotav1.AddPoolGrantResponse, res model.Result) {
			s.diff("AddPoolGrant reply", s.m.GrantOf(res.Grant), grantOf(resp.GetGrant()))
		},
		func(id string) *call { return s.grantCall(id, g) })
}

func (s *seq) voidCall(id, grant string) *call {
	req := &quotav1.VoidPoolGrantRequest{WorkspaceId: s.ws, RequestId: id, GrantId: grant}
	return newCall("VoidPoolGrant", id, req, s.rig.c.admin.VoidPoolGrant,
		func() model.Result { return s.m.VoidGrant(id, model.VoidRequest{Grant: grant}) },
		func(resp *quotav1.VoidPoolGrantResponse, res model.Result) {
			s.diff("VoidPoolGrant reply", s.m.GrantOf(res.Grant), grantOf(resp.GetGrant()))
		},
		func(id string) *call { return s.voidCall(id, grant) })
}

func (s *seq) reserveCall(id string, q model.ReserveRequest) *call {
	req := &quotav1.ReserveRequest{WorkspaceId: s.ws, RequestId: id, MemberId: q.Owner.Member, SpenderId: q.Owner.Spender,
		Amount: q.Amount, MinAmount: q.Min, Origin: quotav1.Origin(q.Origin), Ttl: durationOf(q.TTL), AllowTopUp: q.AllowTopUp}
	if q.Parent != "" {
		req.ParentReservationId = s.m.ReservationByKey(q.Parent).ID
	}
	if q.HasTokenCap {
		req.RunTokenCap = proto.Int64(q.TokenCap)
	}
	return newCall("Reserve", id, req, s.rig.c.quota.Reserve,
		func() model.Result { return s.m.Reserve(id, q) },
		func(resp *quotav1.ReserveResponse, res model.Result) {
			s.compareOutcome("Reserve reply", resp.GetReservation(), resp.GetBalance(), res.Reservation)
		},
		func(id string) *call { return s.reserveCall(id, q) })
}

func (s *seq) extendCall(id string, q model.ExtendRequest) *call {
	req := &quotav1.ExtendRequest{WorkspaceId: s.ws, RequestId: id, ReservationId: s.m.ReservationByKey(q.Reservation).ID,
		AddAmount: q.Add, Ttl: durationOf(q.TTL)}
	return newCall("Extend", id, req, s.rig.c.quota.Extend,
		func() model.Result { return s.m.Extend(id, q) },
		func(resp *quotav1.ExtendResponse, res model.Result) {
			s.compareOutcome("Extend reply", resp.GetReservation(), resp.GetBalance(), res.Reservation)
		},
		func(id string) *call { return s.extendCall(id, q) })
}

func agentProto(a model.Agent) *quotav1.AgentRun {
	out := &quotav1.AgentRun{AgentId: a.ID}
	for _, m := range a.Models {
		out.Models = append(out.Models, &quotav1.ModelUsage{Model: m.Model, InputTokens: m.Input, OutputTokens: m.Output,
			CacheReadTokens: m.CacheRead, CacheWriteTokens: m.CacheWrite})
	}
	for _, act := range a.Actions {
		out.Actions = append(out.Actions, &quotav1.ToolAction{Tool: act.Tool, Tier: quotav1.ToolTier(act.Tier),
			ExternalMcp: act.ExternalMCP, NotRun: act.NotRun})
	}
	for _, sub := range a.Subs {
		out.SubAgents = append(out.SubAgents, agentProto(sub))
	}
	return out
}

func (s *seq) commitCall(id string, q model.CommitRequest) *call {
	req := &quotav1.CommitRequest{WorkspaceId: s.ws, RequestId: id, ReservationId: s.m.ReservationByKey(q.Reservation).ID,
		Usage: agentProto(q.Usage)}
	return newCall("Commit", id, req, s.rig.c.quota.Commit,
		func() model.Result { return s.m.Commit(id, q) },
		func(resp *quotav1.CommitResponse, res model.Result) {
			s.compareOutcome("Commit reply", resp.GetReservation(), resp.GetBalance(), res.Reservation)
		},
		func(id string) *call { return s.commitCall(id, q) })
}

func (s *seq) refundCall(id string, q model.RefundRequest) *call {
	req := &quotav1.RefundRequest{WorkspaceId: s.ws, RequestId: id, ReservationId: s.m.ReservationByKey(q.Reservation).ID}
	return newCall("Refund", id, req, s.rig.c.quota.Refund,
		func() model.Result { return s.m.Refund(id, q) },
		func(resp *quotav1.RefundResponse, res model.Result) {
			s.compareOutcome("Refund reply", resp.GetReservation(), resp.GetBalance(), res.Reservation)
		},
		func(id string) *call { return s.refundCall(id, q) })
}
