package server

import (
	"context"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// The AdminService RPCs of the workspace pool: its policy, members' pool
// caps, its grants and its balance.

// SetWorkspacePolicy replaces a workspace's pool, cap and overage settings.
func (s *adminServer) SetWorkspacePolicy(ctx context.Context, req *quotav1.SetWorkspacePolicyRequest) (*quotav1.SetWorkspacePolicyResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err == nil && req.GetPolicy() == nil {
		err = quota.Invalid("policy", "is required")
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ws, err := s.svc.SetPolicy(ctx, idem, req.GetWorkspaceId(), policyFromProto(req.GetPolicy()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.SetWorkspacePolicyResponse{Workspace: workspaceToProto(&ws)}, nil
}

// SetMemberPoolCap sets or clears a member's pool cap override.
func (s *adminServer) SetMemberPoolCap(ctx context.Context, req *quotav1.SetMemberPoolCapRequest) (*quotav1.SetMemberPoolCapResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkMember(req.GetMemberId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := memberCapFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := s.svc.SetMemberPoolCap(ctx, idem, req.GetWorkspaceId(), req.GetMemberId(), c)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.SetMemberPoolCapResponse{Balance: balanceToProto(&b)}, nil
}

// AddPoolGrant adds a grant to a workspace's pool.
func (s *adminServer) AddPoolGrant(ctx context.Context, req *quotav1.AddPoolGrantRequest) (*quotav1.AddPoolGrantResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	g, err := grantFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	added, err := s.svc.AddGrant(ctx, idem, g)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.AddPoolGrantResponse{Grant: grantToProto(&added)}, nil
}

// VoidPoolGrant ends a grant now.
func (s *adminServer) VoidPoolGrant(ctx context.Context, req *quotav1.VoidPoolGrantRequest) (*quotav1.VoidPoolGrantResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkID("grant_id", req.GetGrantId()),
		checkID("request_id", req.GetRequestId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	idem, err := idemOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	g, err := s.svc.VoidGrant(ctx, idem, req.GetWorkspaceId(), req.GetGrantId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.VoidPoolGrantResponse{Grant: grantToProto(&g)}, nil
}

// ListPoolGrants lists a page of a workspace's grants. The domain checks
// page_size and page_token.
func (s *adminServer) ListPoolGrants(ctx context.Context, req *quotav1.ListPoolGrantsRequest) (*quotav1.ListPoolGrantsResponse, error) {
	if err := checkID("workspace_id", req.GetWorkspaceId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	grants, next, err := s.svc.ListGrants(ctx, req.GetWorkspaceId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.ListPoolGrantsResponse{Grants: grantsToProto(grants), NextPageToken: next}, nil
}

// GetWorkspaceBalance returns a workspace's pool, overage and programmatic
// usage.
func (s *adminServer) GetWorkspaceBalance(ctx context.Context, req *quotav1.GetWorkspaceBalanceRequest) (*quotav1.GetWorkspaceBalanceResponse, error) {
	if err := checkID("workspace_id", req.GetWorkspaceId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := s.svc.GetWorkspaceBalance(ctx, req.GetWorkspaceId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &quotav1.GetWorkspaceBalanceResponse{Balance: workspaceBalanceToProto(&b)}, nil
}
