package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// The entry points, by name.
var (
	fnReserve        = mustEntry("reserve")
	fnExtend         = mustEntry("extend")
	fnCommit         = mustEntry("commit")
	fnRefund         = mustEntry("refund")
	fnGetReservation = mustEntry("get_reservation")
	fnGetBalance     = mustEntry("get_balance")
	fnSetSeat        = mustEntry("set_seat")
	fnSetWorkspace   = mustEntry("set_workspace")
	fnSetPolicy      = mustEntry("set_policy")
	fnSetMemberCap   = mustEntry("set_member_cap")
	fnAddGrant       = mustEntry("add_grant")
	fnVoidGrant      = mustEntry("void_grant")
	fnListGrants     = mustEntry("list_grants")
	fnWorkspaceBal   = mustEntry("get_workspace_balance")
	fnSetPricing     = mustEntry("set_pricing")
	fnSweep          = mustEntry("sweep")
	fnRetain         = mustEntry("retain")
	fnListRun        = mustEntry("list_run")
	fnAdjust         = mustEntry("adjust")
	fnFoldUsage      = mustEntry("fold_usage")
)

// mutation returns the common parts of a call for a mutation.
func mutation(e *entry, ws string, idem quota.Idem, now time.Time, args ...any) call {
	return call{entry: e, ws: ws, idem: idem, rhex: quota.RequestHex(ws, idem.RequestID), now: now, args: args}
}

// SetWorkspace creates or updates a workspace.
func (s *Store) SetWorkspace(ctx context.Context, op quota.WorkspaceOp) (quota.Workspace, error) {
	ws := op.Workspace.ID
	// The sweeper's index lives outside the workspace's slot, so it is its
	// own commands (index.go); adding first means a workspace is never
	// missed.
	if err := s.indexAdd(ctx, ws); err != nil {
		return quota.Workspace{}, err
	}
	r, err := s.do(ctx, mutation(fnSetWorkspace, ws, op.Idem, op.Now, op.Workspace.SubscriptionStart.UnixMilli()))
	if err != nil {
		return quota.Workspace{}, err
	}
	w, err := workspaceRecord(r.layout(schema.ReplyWorkspace))
	if err != nil {
		return quota.Workspace{}, err
	}
	return workspace(ws, w), nil
}

// GetWorkspace returns a workspace.
func (s *Store) GetWorkspace(ctx context.Context, id string) (quota.Workspace, error) {
	w, err := s.workspaceRecord(ctx, id)
	if err != nil {
		return quota.Workspace{}, err
	}
	return workspace(id, w), nil
}

// workspaceRecord reads a workspace's record as stored;
// quota.ErrWorkspaceNotFound when there is none.
func (s *Store) workspaceRecord(ctx context.Context, ws string) (record, error) {
	raw, found, err := s.get(ctx, wsKey(ws))
	if err != nil {
		return record{}, err
	}
	if !found {
		return record{}, quota.ErrWorkspaceNotFound
	}
	w, err := decodeRecord(raw, schema.Workspace)
	if err != nil {
		return record{}, quota.Internal(err)
	}
	return w, nil
}

// SetSeat changes a member's seat.
func (s *Store) SetSeat(ctx context.Context, op quota.SeatOp) (quota.Balance, error) {
	r, err := s.do(ctx, mutation(fnSetSeat, op.WorkspaceID, op.Idem, op.Now, op.MemberID, op.Rank, op.Monthly, op.Lifetime))
	if err != nil {
		return quota.Balance{}, err
	}
	return balance(op.WorkspaceID, op.MemberID, r.layout(schema.ReplyBalance))
}

// Reserve takes a hold.
func (s *Store) Reserve(ctx context.Context, op quota.ReserveOp) (quota.Outcome, error) {
	dl := op.Deadline.UnixMilli()
	c := mutation(fnReserve, op.WorkspaceID, op.Idem, op.Now, owner(op.MemberID, op.SpenderID),
		packInts(int64(op.Ref.Origin), op.Ref.Version, op.Amount, op.Min, dl, capArg(op.RunTokenCap, op.HasRunTokenCap),
			op.Parent.Version),
		dl, op.Parent.Hex, flag(op.AllowTopUp))
	c.rhex = op.Ref.Hex
	r, err := s.do(ctx, c)
	if err != nil {
		return quota.Outcome{}, err
	}
	return r.outcome(op.WorkspaceID)
}

// Extend raises a hold and/or moves its deadline.
func (s *Store) Extend(ctx context.Context, op quota.ExtendOp) (quota.Outcome, error) {
	var deadline int64
	if !op.Deadline.IsZero() {
		deadline = op.Deadline.UnixMilli()
	}
	return s.settle(ctx, mutation(fnExtend, op.WorkspaceID, op.Idem, op.Now, op.Ref.Hex, op.Ref.Version, op.AddAmount, deadline, int(op.Ref.Origin)), op.Ref)
}

// Commit settles a reservation with its priced usage.
func (s *Store) Commit(ctx context.Context, op quota.CommitOp) (quota.Outcome, error) {
	return s.settle(ctx, mutation(fnCommit, op.WorkspaceID, op.Idem, op.Now, commitArgs(op)...), op.Ref)
}

// Refund voids a hold.
func (s *Store) Refund(ctx context.Context, op quota.RefundOp) (quota.Outcome, error) {
	return s.settle(ctx, mutation(fnRefund, op.WorkspaceID, op.Idem, op.Now, op.Ref.Hex, op.Ref.Version, op.Actor, op.Reason, int(op.Ref.Origin)), op.Ref)
}

// settle runs one of the calls that act on an existing reservation.
func (s *Store) settle(ctx context.Context, c call, ref quota.ReservationRef) (quota.Outcome, error) {
	r, err := s.do(ctx, c)
	if err != nil {
		var e *quota.Error
		if errors.As(err, &e) && e.Transition != nil {
			e.Transition.ReservationID = ref.ID()
		}
		return quota.Outcome{}, s.notFound(err)
	}
	return r.outcome(c.ws)
}

// notFound says, on a reservation that is not found, that settled runs
// are deleted after the run retention.
func (s *Store) notFound(err error) error {
	if !errors.Is(err, quota.ErrReservationNotFound) {
		return err
	}
	return &quota.Error{Code: quota.CodeReservationNotFound, Message: fmt.Sprintf(
		"reservation not found: it was never made in this workspace, or its run settled more than %s ago and was deleted (the run retention)",
		s.opts.RunRetention)}
}

// GetReservation returns a reservation as of now.
func (s *Store) GetReservation(ctx context.Context, ws string, ref quota.ReservationRef, now time.Time) (quota.Reservation, error) {
	r, err := s.do(ctx, call{entry: fnGetReservation, ws: ws, now: now, args: []any{ref.Hex, ref.Version, int(ref.Origin)}})
	if err != nil {
		return quota.Reservation{}, s.notFound(err)
	}
	return reservation(ws, r.layout(schema.ReplyReservation))
}

// GetBalance returns a member's balance as of now.
func (s *Store) GetBalance(ctx context.Context, ws, member string, now time.Time) (quota.Balance, error) {
	r, err := s.do(ctx, call{entry: fnGetBalance, ws: ws, now: now, args: []any{member}})
	if err != nil {
		return quota.Balance{}, err
	}
	return balance(ws, member, r.layout(schema.ReplyBalance))
}

// SetPolicy sets a workspace's pool and overage settings.
func (s *Store) SetPolicy(ctx context.Context, op quota.PolicyOp) (quota.Workspace, error) {
	p := op.Policy
	r, err := s.do(ctx, mutation(fnSetPolicy, op.WorkspaceID, op.Idem, op.Now,
		capArg(p.DefaultPoolCap, p.HasDefaultPoolCap), flag(p.OverageEnabled), p.OverageCap,
		capArg(p.ProgrammaticCap, p.HasProgrammaticCap), flag(p.Pooled)))
	if err != nil {
		return quota.Workspace{}, err
	}
	w, err := workspaceRecord(r.layout(schema.ReplyWorkspace))
	if err != nil {
		return quota.Workspace{}, err
	}
	return workspace(op.WorkspaceID, w), nil
}

// SetMemberCap sets or clears a member's pool cap override.
func (s *Store) SetMemberCap(ctx context.Context, op quota.MemberCapOp) (quota.Balance, error) {
	override := int64(schema.CapDefault) // none: the workspace default applies
	switch {
	case op.Cap.Set && op.Cap.Unlimited:
		override = schema.CapUnlimited
	case op.Cap.Set:
		override = op.Cap.Cap
	}
	r, err := s.do(ctx, mutation(fnSetMemberCap, op.WorkspaceID, op.Idem, op.Now, op.MemberID, override))
	if err != nil {
		return quota.Balance{}, err
	}
	return balance(op.WorkspaceID, op.MemberID, r.layout(schema.ReplyBalance))
}

// AddGrant adds a pool grant.
func (s *Store) AddGrant(ctx context.Context, op quota.GrantOp) (quota.Grant, error) {
	g := op.Grant
	r, err := s.do(ctx, mutation(fnAddGrant, g.WorkspaceID, op.Idem, op.Now,
		int(g.Kind), g.Amount, g.Start.UnixMilli(), g.Expiry.UnixMilli(), g.Priority))
	if err != nil {
		return quota.Grant{}, err
	}
	return grant(g.WorkspaceID, r.layout(schema.ReplyGrant))
}

// VoidGrant voids a pool grant.
func (s *Store) VoidGrant(ctx context.Context, op quota.VoidGrantOp) (quota.Grant, error) {
	r, err := s.do(ctx, mutation(fnVoidGrant, op.WorkspaceID, op.Idem, op.Now, op.GrantID))
	if err != nil {
		return quota.Grant{}, err
	}
	return grant(op.WorkspaceID, r.layout(schema.ReplyGrant))
}

// ListGrants lists pool grants, oldest first.
func (s *Store) ListGrants(ctx context.Context, ws string, now time.Time, after int64, limit int) ([]quota.Grant, int64, error) {
	r, err := s.do(ctx, call{entry: fnListGrants, ws: ws, now: now, args: []any{after, limit}})
	if err != nil {
		return nil, 0, err
	}
	next, n := r.int(), int(r.int())
	grants := make([]quota.Grant, 0, n)
	for range n {
		g, err := grant(ws, r.layout(schema.ReplyGrant))
		if err != nil {
			return nil, 0, err
		}
		grants = append(grants, g)
	}
	return grants, next, nil
}

// GetWorkspaceBalance returns a workspace's pool and usage as of now.
func (s *Store) GetWorkspaceBalance(ctx context.Context, ws string, now time.Time) (quota.WorkspaceBalance, error) {
	r, err := s.do(ctx, call{entry: fnWorkspaceBal, ws: ws, now: now})
	if err != nil {
		return quota.WorkspaceBalance{}, err
	}
	return workspaceBalance(ws, r.layout(schema.ReplyWorkspace))
}

// get reads a string key; found is false when it does not exist.
func (s *Store) get(ctx context.Context, key string) (val string, found bool, err error) {
	err = s.plain(ctx, func(ctx context.Context) error {
		v, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		val, found = v, err == nil
		return err
	})
	return val, found, err
}
