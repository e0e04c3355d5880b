package server

import (
	"context"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// The AdminService RPCs of operators' actions: a forced refund and
// adjustments. Both keep the caller's token name and reason in the
// ledger.

// refundMessage is a RefundRequest or an operator's
// RefundReservationRequest.
type refundMessage interface {
	mutation
	GetWorkspaceId() string
	GetReservationId() string
}

// checkRefund checks the ids of a Refund or a RefundReservation and
// returns its idempotency key.
func checkRefund(req refundMessage) (quota.Idem, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("reservation_id", req.GetReservationId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return quota.Idem{}, err
	}
	return idemOf(req)
}

// RefundReservation voids a held reservation for an operator.
func (s *adminServer) RefundReservation(ctx context.Context, req *quotav1.RefundReservationRequest) (*quotav1.RefundReservationResponse, error) {
	idem, err := checkRefund(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := s.svc.OperatorRefund(ctx, quota.OperatorRefundRequest{Idem: idem, WorkspaceID: req.GetWorkspaceId(),
		ReservationID: req.GetReservationId(), Reason: req.GetReason(), Actor: actorOf(ctx)})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.settled(&out)
	return &quotav1.RefundReservationResponse{Reservation: reservationToProto(&out.Reservation), Balance: balanceToProto(&out.Balance)}, nil
}

// AdjustBalance credits or debits a member's credits or the pool.
func (s *adminServer) AdjustBalance(ctx context.Context, req *quotav1.AdjustBalanceRequest) (*quotav1.AdjustBalanceResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("request_id", req.GetRequestId()),
		checkOptionalID("member_id", req.GetMemberId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	expiry, err := optionalTimeFromProto("expire_time", req.GetExpireTime())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	adj, err := s.svc.Adjust(ctx, quota.AdjustRequest{Idem: idem, WorkspaceID: req.GetWorkspaceId(),
		MemberID: req.GetMemberId(), Amount: req.GetAmount(), Reason: req.GetReason(), Actor: actorOf(ctx), Expiry: expiry})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &quotav1.AdjustBalanceResponse{Workspace: workspaceBalanceToProto(&adj.Workspace)}
	if adj.Balance != nil {
		resp.Balance = balanceToProto(adj.Balance)
	}
	if adj.Grant != nil {
		resp.Grant = grantToProto(adj.Grant)
	}
	return resp, nil
}
