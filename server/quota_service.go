package server

import (
	"context"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// quotaServer implements quota.v1.QuotaService.
type quotaServer struct {
	quotav1.UnimplementedQuotaServiceServer
	handler
}

// Reserve holds credits for a member or a programmatic spender, or, with a
// parent_reservation_id, for a sub-agent within the parent's run.
func (s *quotaServer) Reserve(ctx context.Context, req *quotav1.ReserveRequest) (*quotav1.ReserveResponse, error) {
	r, err := reserveFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := s.svc.Reserve(ctx, r)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.held(&out, out.Reservation.Held-out.Carved) // a child's carved credits were held already
	return &quotav1.ReserveResponse{Reservation: reservationToProto(&out.Reservation), Balance: balanceToProto(&out.Balance)}, nil
}

// reserveFromProto validates a ReserveRequest: exactly one of member_id
// and spender_id, or, for a child (parent_reservation_id), at most one,
// and an origin that a child may leave unspecified (the parent's). The
// domain checks the amounts, the TTL's bounds, the parent's id and
// origin, and that run_token_cap is set on a root only.
func reserveFromProto(req *quotav1.ReserveRequest) (quota.ReserveRequest, error) {
	child := req.GetParentReservationId() != ""
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkReserveOwner(req.GetParentReservationId(), req.GetMemberId(), req.GetSpenderId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return quota.ReserveRequest{}, err
	}
	ttl, err := ttlFromProto("ttl", req.GetTtl())
	if err != nil {
		return quota.ReserveRequest{}, err
	}
	origin, err := reserveOriginFromProto(req.GetOrigin(), child)
	if err != nil {
		return quota.ReserveRequest{}, err
	}
	if req.RunTokenCap != nil {
		if err := checkAmount("run_token_cap", req.GetRunTokenCap()); err != nil {
			return quota.ReserveRequest{}, err
		}
	}
	idem, err := idemOf(req)
	if err != nil {
		return quota.ReserveRequest{}, err
	}
	return quota.ReserveRequest{
		Idem:           idem,
		WorkspaceID:    req.GetWorkspaceId(),
		MemberID:       req.GetMemberId(),
		SpenderID:      req.GetSpenderId(),
		Amount:         req.GetAmount(),
		Min:            req.GetMinAmount(),
		TTL:            ttl,
		Origin:         origin,
		ParentID:       req.GetParentReservationId(),
		AllowTopUp:     req.GetAllowTopUp(),
		RunTokenCap:    req.GetRunTokenCap(),
		HasRunTokenCap: req.RunTokenCap != nil,
	}, nil
}

// Extend raises a hold and/or moves its deadline.
func (s *quotaServer) Extend(ctx context.Context, req *quotav1.ExtendRequest) (*quotav1.ExtendResponse, error) {
	r, err := extendFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := s.svc.Extend(ctx, r)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.held(&out, out.Added-out.Carved) // what a child carved from its ancestor was held already
	return &quotav1.ExtendResponse{Reservation: reservationToProto(&out.Reservation), Balance: balanceToProto(&out.Balance)}, nil
}

// extendFromProto validates an ExtendRequest; the domain checks add_amount
// and the TTL's bounds.
func extendFromProto(req *quotav1.ExtendRequest) (quota.ExtendRequest, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("reservation_id", req.GetReservationId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return quota.ExtendRequest{}, err
	}
	ttl, err := ttlFromProto("ttl", req.GetTtl())
	if err != nil {
		return quota.ExtendRequest{}, err
	}
	idem, err := idemOf(req)
	if err != nil {
		return quota.ExtendRequest{}, err
	}
	return quota.ExtendRequest{
		Idem:          idem,
		WorkspaceID:   req.GetWorkspaceId(),
		ReservationID: req.GetReservationId(),
		AddAmount:     req.GetAddAmount(),
		TTL:           ttl,
	}, nil
}

// Commit settles a reservation with the run's usage.
func (s *quotaServer) Commit(ctx context.Context, req *quotav1.CommitRequest) (*quotav1.CommitResponse, error) {
	r, err := commitFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := s.svc.Commit(ctx, r)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.settled(&out)
	return &quotav1.CommitResponse{Reservation: reservationToProto(&out.Reservation), Balance: balanceToProto(&out.Balance)}, nil
}

// commitFromProto validates a CommitRequest; the domain checks the chain.
func commitFromProto(req *quotav1.CommitRequest) (quota.CommitRequest, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("reservation_id", req.GetReservationId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return quota.CommitRequest{}, err
	}
	usage, err := usageFromProto(req.GetUsage())
	if err != nil {
		return quota.CommitRequest{}, err
	}
	idem, err := idemOf(req)
	if err != nil {
		return quota.CommitRequest{}, err
	}
	return quota.CommitRequest{
		Idem:          idem,
		WorkspaceID:   req.GetWorkspaceId(),
		ReservationID: req.GetReservationId(),
		Usage:         usage,
	}, nil
}

// Refund voids a hold.
func (s *quotaServer) Refund(ctx context.Context, req *quotav1.RefundRequest) (*quotav1.RefundResponse, error) {
	idem, err := checkRefund(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := s.svc.Refund(ctx, quota.RefundRequest{Idem: idem, WorkspaceID: req.GetWorkspaceId(), ReservationID: req.GetReservationId()})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.settled(&out)
	return &quotav1.RefundResponse{Reservation: reservationToProto(&out.Reservation), Balance: balanceToProto(&out.Balance)}, nil
}

// GetReservation returns a reservation.
func (s *quotaServer) GetReservation(ctx context.Context, req *quotav1.GetReservationRequest) (*quotav1.GetReservationResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("reservation_id", req.GetReservationId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	r, err := s.svc.GetReservation(ctx, req.GetWorkspaceId(), req.GetReservationId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.GetReservationResponse{Reservation: reservationToProto(&r)}, nil
}

// GetBalance returns a member's balance.
func (s *quotaServer) GetBalance(ctx context.Context, req *quotav1.GetBalanceRequest) (*quotav1.GetBalanceResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkMember(req.GetMemberId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := s.svc.GetBalance(ctx, req.GetWorkspaceId(), req.GetMemberId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.GetBalanceResponse{Balance: balanceToProto(&b)}, nil
}

// EstimateCost prices an agent chain.
func (s *quotaServer) EstimateCost(ctx context.Context, req *quotav1.EstimateCostRequest) (*quotav1.EstimateCostResponse, error) {
	origin, err := originFromProto(req.GetOrigin())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	usage, err := usageFromProto(req.GetUsage())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	cost, version, err := s.svc.EstimateCost(origin, usage)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	budget := costBudget
	return &quotav1.EstimateCostResponse{Cost: runCostToProto(&cost, &budget), PricingVersion: version}, nil
}

// ListRunCosts pages the costs of a run. The store bounds a page by the
// size of the usage trees it holds (store.runPageBytes), and each entry's
// tree is cut at costBudget (cost.truncated), so a page stays small.
func (s *quotaServer) ListRunCosts(ctx context.Context, req *quotav1.ListRunCostsRequest) (*quotav1.ListRunCostsResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("reservation_id", req.GetReservationId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	entries, next, err := s.svc.ListRunCosts(ctx, req.GetWorkspaceId(), req.GetReservationId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &quotav1.ListRunCostsResponse{NextPageToken: next}
	for i := range entries {
		e := &entries[i]
		budget := costBudget
		out.Entries = append(out.Entries, &quotav1.RunCostEntry{
			ReservationId:      e.ReservationID,
			UnderReservationId: e.Under,
			Cost:               runCostToProto(&e.Cost, &budget),
		})
	}
	return out, nil
}
