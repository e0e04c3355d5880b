package quota

import (
	"context"
	"strconv"
	"time"
)

// Grant listing bounds.
const (
	// DefaultPageSize is a list's page size when the request sets none.
	DefaultPageSize = 50
	// MaxPageSize is the largest page size; larger requests are clamped.
	MaxPageSize = 500
	// MaxPriority bounds a grant's priority, either way.
	MaxPriority int64 = 1_000_000_000
)

// SetPolicy validates and sets a workspace's pool and overage settings.
func (s *Service) SetPolicy(ctx context.Context, idem Idem, workspaceID string, p Policy) (Workspace, error) {
	if p.HasDefaultPoolCap {
		if err := checkAmount("policy.default_member_pool_cap", p.DefaultPoolCap, 0); err != nil {
			return Workspace{}, err
		}
	} else {
		p.DefaultPoolCap = 0
	}
	if err := checkAmount("policy.overage_cap", p.OverageCap, 0); err != nil {
		return Workspace{}, err
	}
	if p.HasProgrammaticCap {
		if err := checkAmount("policy.programmatic_cap", p.ProgrammaticCap, 0); err != nil {
			return Workspace{}, err
		}
	} else {
		p.ProgrammaticCap = 0
	}
	return s.st.SetPolicy(ctx, PolicyOp{Idem: idem, WorkspaceID: workspaceID, Policy: p, Now: s.cfg.Now()})
}

// SetMemberPoolCap sets or clears a member's pool cap override.
func (s *Service) SetMemberPoolCap(ctx context.Context, idem Idem, workspaceID, memberID string, c MemberCap) (Balance, error) {
	if memberID == "" {
		return Balance{}, ErrNoMember
	}
	if c.Set && !c.Unlimited {
		if err := checkAmount("pool_cap", c.Cap, 0); err != nil {
			return Balance{}, err
		}
	} else {
		c.Cap = 0
	}
	if !c.Set {
		c.Unlimited = false
	}
	return s.st.SetMemberCap(ctx, MemberCapOp{Idem: idem, WorkspaceID: workspaceID, MemberID: memberID, Cap: c, Now: s.cfg.Now()})
}

// AddGrant validates and adds a grant to a workspace's pool. A zero Start
// means now; a top-up's zero Expiry means Start + TopUpLifetime; a
// commitment needs an Expiry.
func (s *Service) AddGrant(ctx context.Context, idem Idem, g Grant) (Grant, error) {
	now := s.cfg.Now()
	if err := checkGrant(&g, now); err != nil {
		return Grant{}, err
	}
	return s.st.AddGrant(ctx, GrantOp{Idem: idem, Grant: g, Now: now})
}

// checkGrant validates a new grant at now and fills in its defaults.
func checkGrant(g *Grant, now time.Time) error {
	if g.Kind != GrantTopUp && g.Kind != GrantCommitment {
		return Invalid("kind", "must be TOP_UP or COMMITMENT")
	}
	if err := checkAmount("amount", g.Amount, 1); err != nil {
		return err
	}
	if g.Start.IsZero() {
		g.Start = now
	}
	if err := checkTime("start_time", g.Start); err != nil {
		return err
	}
	if g.Expiry.IsZero() {
		if g.Kind == GrantCommitment {
			return Invalid("expire_time", "is required for a commitment")
		}
		g.Expiry = g.Start.Add(TopUpLifetime)
	}
	g.Start, g.Expiry = g.Start.UTC().Truncate(time.Millisecond), g.Expiry.UTC().Truncate(time.Millisecond)
	if !g.Expiry.After(g.Start) {
		return Invalid("expire_time", "must be after the start")
	}
	if !g.Expiry.After(now) {
		return Invalid("expire_time", "must be in the future")
	}
	if g.Priority < -MaxPriority || g.Priority > MaxPriority {
		return Invalid("priority", "must be between %d and %d", -MaxPriority, MaxPriority)
	}
	return nil
}

// VoidGrant ends a grant now.
func (s *Service) VoidGrant(ctx context.Context, idem Idem, workspaceID, grantID string) (Grant, error) {
	return s.st.VoidGrant(ctx, VoidGrantOp{Idem: idem, WorkspaceID: workspaceID, GrantID: grantID, Now: s.cfg.Now()})
}

// ListGrants lists a workspace's grants, oldest first, with what is left
// of each. pageToken is "" for the first page or a previous response's
// next token; the returned token is "" after the last page.
func (s *Service) ListGrants(ctx context.Context, workspaceID string, pageSize int, pageToken string) ([]Grant, string, error) {
	pageSize, err := PageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if pageToken != "" {
		v, err := strconv.ParseInt(pageToken, 10, 64)
		if err != nil || v <= 0 {
			return nil, "", Invalid("page_token", "is not a token this service returned")
		}
		after = v
	}
	grants, next, err := s.st.ListGrants(ctx, workspaceID, s.cfg.Now(), after, pageSize)
	if err != nil || next == 0 {
		return grants, "", err
	}
	return grants, strconv.FormatInt(next, 10), nil
}

// GetWorkspaceBalance returns a workspace's pool, overage and programmatic
// usage now.
func (s *Service) GetWorkspaceBalance(ctx context.Context, workspaceID string) (WorkspaceBalance, error) {
	return s.st.GetWorkspaceBalance(ctx, workspaceID, s.cfg.Now())
}
