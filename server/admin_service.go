package server

import (
	"context"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// adminServer implements quota.v1.AdminService.
type adminServer struct {
	quotav1.UnimplementedAdminServiceServer
	handler
}

// SetWorkspace creates or updates a workspace.
func (s *adminServer) SetWorkspace(ctx context.Context, req *quotav1.SetWorkspaceRequest) (*quotav1.SetWorkspaceResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	start, err := timeFromProto("subscription_start", req.GetSubscriptionStart())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ws, err := s.svc.SetWorkspace(ctx, idem, quota.Workspace{ID: req.GetWorkspaceId(), SubscriptionStart: start})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.SetWorkspaceResponse{Workspace: workspaceToProto(&ws)}, nil
}

// GetWorkspace returns a workspace.
func (s *adminServer) GetWorkspace(ctx context.Context, req *quotav1.GetWorkspaceRequest) (*quotav1.GetWorkspaceResponse, error) {
	if err := checkID("workspace_id", req.GetWorkspaceId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	ws, err := s.svc.GetWorkspace(ctx, req.GetWorkspaceId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.GetWorkspaceResponse{Workspace: workspaceToProto(&ws)}, nil
}

// SetSeat gives a member a seat.
func (s *adminServer) SetSeat(ctx context.Context, req *quotav1.SetSeatRequest) (*quotav1.SetSeatResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkMember(req.GetMemberId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	seat, err := seatFromProto(req.GetSeat())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := s.svc.SetSeat(ctx, idem, req.GetWorkspaceId(), req.GetMemberId(), seat)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.SetSeatResponse{Balance: balanceToProto(&b)}, nil
}

// GetPricing returns the price table version in force, or a given one.
func (s *adminServer) GetPricing(ctx context.Context, req *quotav1.GetPricingRequest) (*quotav1.GetPricingResponse, error) {
	v := s.svc.Pricing()
	if req.Version != nil {
		var err error
		if v, err = s.svc.GetPricingVersion(ctx, req.GetVersion()); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	return &quotav1.GetPricingResponse{Pricing: priceTableToProto(&v.Table), Version: pricingVersionToProto(&v)}, nil
}

// ListPricingVersions lists the price table versions, newest first.
func (s *adminServer) ListPricingVersions(ctx context.Context, req *quotav1.ListPricingVersionsRequest) (*quotav1.ListPricingVersionsResponse, error) {
	versions, next, err := s.svc.ListPricingVersions(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &quotav1.ListPricingVersionsResponse{NextPageToken: next}
	for i := range versions {
		out.Versions = append(out.Versions, pricingVersionToProto(&versions[i]))
	}
	return out, nil
}

// SetPricing replaces the price table.
func (s *adminServer) SetPricing(ctx context.Context, req *quotav1.SetPricingRequest) (*quotav1.SetPricingResponse, error) {
	if err := checkID("request_id", req.GetRequestId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	table, err := priceTableFromProto(req.GetPricing())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	saved, err := s.svc.SetPricing(ctx, idem, actorOf(ctx), table)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.SetPricingResponse{Pricing: priceTableToProto(&saved.Table), Version: pricingVersionToProto(&saved)}, nil
}
