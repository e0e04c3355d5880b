package server

import (
	"google.golang.org/protobuf/proto"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Conversions of the workspace pool's messages: policies, grants and the
// workspace balance. An optional proto field maps to a value and a Has*
// flag (unset: none, i.e. unlimited).

// policyFromProto converts a workspace policy; nil is the zero policy (no
// caps, overage off, not pooled). The domain checks the amounts.
func policyFromProto(p *quotav1.WorkspacePolicy) quota.Policy {
	return quota.Policy{
		DefaultPoolCap:     p.GetDefaultMemberPoolCap(),
		HasDefaultPoolCap:  p.DefaultMemberPoolCap != nil,
		OverageEnabled:     p.GetOverageEnabled(),
		OverageCap:         p.GetOverageCap(),
		ProgrammaticCap:    p.GetProgrammaticCap(),
		HasProgrammaticCap: p.ProgrammaticCap != nil,
		Pooled:             p.GetPooled(),
	}
}

// policyToProto converts a workspace policy.
func policyToProto(p *quota.Policy) *quotav1.WorkspacePolicy {
	out := &quotav1.WorkspacePolicy{
		OverageEnabled: p.OverageEnabled,
		OverageCap:     p.OverageCap,
		Pooled:         p.Pooled,
	}
	if p.HasDefaultPoolCap {
		out.DefaultMemberPoolCap = proto.Int64(p.DefaultPoolCap)
	}
	if p.HasProgrammaticCap {
		out.ProgrammaticCap = proto.Int64(p.ProgrammaticCap)
	}
	return out
}

// memberCapFromProto converts SetMemberPoolCap's pool_cap and unlimited:
// neither clears the override, both are rejected. The domain checks the
// cap's bounds.
func memberCapFromProto(req *quotav1.SetMemberPoolCapRequest) (quota.MemberCap, error) {
	switch {
	case req.PoolCap != nil && req.GetUnlimited():
		return quota.MemberCap{}, quota.Invalid("pool_cap", "must be unset when unlimited is true")
	case req.PoolCap != nil:
		return quota.MemberCap{Set: true, Cap: req.GetPoolCap()}, nil
	case req.GetUnlimited():
		return quota.MemberCap{Set: true, Unlimited: true}, nil
	default:
		return quota.MemberCap{}, nil
	}
}

// grantFromProto converts an AddPoolGrantRequest (after its ids were
// checked). Unset times are zero: the domain fills in the defaults and
// checks the amount, the expiry and the priority.
func grantFromProto(req *quotav1.AddPoolGrantRequest) (quota.Grant, error) {
	kind, err := grantKindFromProto(req.GetKind())
	if err != nil {
		return quota.Grant{}, err
	}
	start, err := optionalTimeFromProto("start_time", req.GetStartTime())
	if err != nil {
		return quota.Grant{}, err
	}
	expiry, err := optionalTimeFromProto("expire_time", req.GetExpireTime())
	if err != nil {
		return quota.Grant{}, err
	}
	return quota.Grant{
		WorkspaceID: req.GetWorkspaceId(),
		Kind:        kind,
		Amount:      req.GetAmount(),
		Start:       start,
		Expiry:      expiry,
		Priority:    req.GetPriority(),
	}, nil
}

// grantToProto converts a pool grant.
func grantToProto(g *quota.Grant) *quotav1.PoolGrant {
	return &quotav1.PoolGrant{
		WorkspaceId: g.WorkspaceID,
		GrantId:     g.ID,
		Kind:        grantKindToProto(g.Kind),
		Amount:      g.Amount,
		StartTime:   timeToProto(g.Start),
		ExpireTime:  timeToProto(g.Expiry),
		Priority:    g.Priority,
		CreateTime:  timeToProto(g.Created),
		State:       grantStateToProto(g.State),
		Available:   g.Available,
		Held:        g.Held,
		Spent:       g.Spent,
		Forfeited:   g.Forfeited,
	}
}

// grantsToProto converts a page of grants; none is nil.
func grantsToProto(gs []quota.Grant) []*quotav1.PoolGrant {
	if len(gs) == 0 {
		return nil
	}
	out := make([]*quotav1.PoolGrant, len(gs))
	for i := range gs {
		out[i] = grantToProto(&gs[i])
	}
	return out
}

// grantKindToProto converts a grant kind; an unknown one is UNSPECIFIED.
func grantKindToProto(k quota.GrantKind) quotav1.GrantKind {
	switch k {
	case quota.GrantTopUp:
		return quotav1.GrantKind_GRANT_KIND_TOP_UP
	case quota.GrantCommitment:
		return quotav1.GrantKind_GRANT_KIND_COMMITMENT
	default:
		return quotav1.GrantKind_GRANT_KIND_UNSPECIFIED
	}
}

// grantStateToProto converts a grant state; an unknown one is UNSPECIFIED.
func grantStateToProto(s quota.GrantState) quotav1.GrantState {
	switch s {
	case quota.GrantActive:
		return quotav1.GrantState_GRANT_STATE_ACTIVE
	case quota.GrantPending:
		return quotav1.GrantState_GRANT_STATE_PENDING
	case quota.GrantExpired:
		return quotav1.GrantState_GRANT_STATE_EXPIRED
	case quota.GrantVoided:
		return quotav1.GrantState_GRANT_STATE_VOIDED
	default:
		return quotav1.GrantState_GRANT_STATE_UNSPECIFIED
	}
}

// workspaceBalanceToProto converts a workspace's balance.
func workspaceBalanceToProto(b *quota.WorkspaceBalance) *quotav1.WorkspaceBalance {
	return &quotav1.WorkspaceBalance{
		WorkspaceId: b.WorkspaceID,
		PeriodStart: timeToProto(b.PeriodStart),
		PeriodEnd:   timeToProto(b.PeriodEnd),
		Policy:      policyToProto(&b.Policy),
		Pool: &quotav1.PoolBalance{
			Granted:   b.Pool.Granted,
			Available: b.Pool.Available,
			Pending:   b.Pool.Pending,
			Held:      b.Pool.Held,
			Spent:     b.Pool.Spent,
			Forfeited: b.Pool.Forfeited,
		},
		OverageUsed:      b.OverageUsed,
		OverageHeld:      b.OverageHeld,
		ProgrammaticUsed: b.ProgrammaticUsed,
		ProgrammaticHeld: b.ProgrammaticHeld,
		PoolLowBalance:   b.PoolLow,
	}
}
