package server

import (
	"context"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// ExplainBalance says what makes up a member's balance or the pool's.
func (s *adminServer) ExplainBalance(ctx context.Context, req *quotav1.ExplainBalanceRequest) (*quotav1.ExplainBalanceResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkOptionalID("member_id", req.GetMemberId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	e, err := s.svc.ExplainBalance(ctx, req.GetWorkspaceId(), req.GetMemberId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &quotav1.ExplainBalanceResponse{Workspace: workspaceBalanceToProto(&e.Workspace), HoldsTruncated: e.HoldsTruncated}
	if e.Balance != nil {
		resp.Balance = balanceToProto(e.Balance)
	}
	for i := range e.Components {
		c := &e.Components[i]
		pc := &quotav1.BalanceComponent{Kind: c.Kind, Description: c.Description, Source: sourceToProto(c.Source),
			GrantId: c.GrantID, StartTime: timeToProto(c.Start), EndTime: timeToProto(c.End), Allocated: c.Allocated,
			Available: c.Available, Held: c.Held, Spent: c.Spent, Forfeited: c.Forfeited}
		if c.HasCap {
			pc.Cap = &c.Cap
		}
		resp.Components = append(resp.Components, pc)
	}
	for i := range e.Holds {
		resp.Holds = append(resp.Holds, reservationToProto(&e.Holds[i]))
	}
	for _, c := range e.Checks {
		resp.Checks = append(resp.Checks, &quotav1.InvariantCheck{Equation: c.Equation, Left: c.Left, Right: c.Right, Holds: c.Holds()})
	}
	return resp, nil
}

// AuditWorkspace recomputes a workspace's books and reports any drift.
func (s *adminServer) AuditWorkspace(ctx context.Context, req *quotav1.AuditWorkspaceRequest) (*quotav1.AuditWorkspaceResponse, error) {
	if err := checkID("workspace_id", req.GetWorkspaceId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	rep, err := s.svc.AuditWorkspace(ctx, req.GetWorkspaceId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	s.metrics.Audited(len(rep.Drifts))
	resp := &quotav1.AuditWorkspaceResponse{AuditTime: timeToProto(rep.Time), Accounts: rep.Accounts, Grants: rep.Grants,
		Reservations: rep.Reservations, LedgerEntries: rep.LedgerEntries, LedgerComplete: rep.LedgerComplete}
	for _, d := range rep.Drifts {
		resp.Drifts = append(resp.Drifts, &quotav1.Drift{Subject: d.Subject, Field: d.Field, Recorded: d.Recorded,
			Recomputed: d.Recomputed, Explanation: d.Explanation})
	}
	return resp, nil
}
