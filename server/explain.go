package server

import (
	"context"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// ExplainBalance says what makes up a member's balance or the pool's.
func (s *adminServer) ExplainBalance(ctx context.Context, req *quotav1.ExplainBalanceRequest) (*quotav1.ExplainBalanceResponse, error) {
	err := checkID("workspace_id", req.GetWorkspaceId())
	if err == nil && req.GetMemberId() != "" {
		err = checkMember(req.GetMemberId())
	}
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
