package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/quota-svc/quota/quota"
)

// fakeStore is a quota.Store whose methods call the function fields set by
// a test. It records every call; a method whose field is nil fails with an
// error naming it, which the server answers INTERNAL.
type fakeStore struct {
	setWorkspace   func(context.Context, quota.WorkspaceOp) (quota.Workspace, error)
	getWorkspace   func(ctx context.Context, workspaceID string) (quota.Workspace, error)
	setSeat        func(context.Context, quota.SeatOp) (quota.Balance, error)
	reserve        func(context.Context, quota.ReserveOp) (quota.Outcome, error)
	extend         func(context.Context, quota.ExtendOp) (quota.Outcome, error)
	commit         func(context.Context, quota.CommitOp) (quota.Outcome, error)
	refund         func(context.Context, quota.RefundOp) (quota.Outcome, error)
	getReservation func(ctx context.Context, workspaceID string, ref quota.ReservationRef, now time.Time) (quota.Reservation, error)
	listRun        func(ctx context.Context, workspaceID string, ref quota.ReservationRef, now time.Time, after int64, limit int) ([]quota.RunEntry, int64, error)
	getBalance     func(ctx context.Context, workspaceID, memberID string, now time.Time) (quota.Balance, error)
	currentPricing func(context.Context) (int64, bool, error)
	loadPricing    func(context.Context, int64) (quota.PriceVersion, error)
	savePricing    func(context.Context, quota.PricingOp) (quota.PriceVersion, error)
	listPricing    func(ctx context.Context, before int64, limit int) ([]quota.PriceVersion, int64, error)
	sweep          func(ctx context.Context, now time.Time, limit int) (quota.SweepStats, error)

	setPolicy           func(context.Context, quota.PolicyOp) (quota.Workspace, error)
	setMemberCap        func(context.Context, quota.MemberCapOp) (quota.Balance, error)
	addGrant            func(context.Context, quota.GrantOp) (quota.Grant, error)
	voidGrant           func(context.Context, quota.VoidGrantOp) (quota.Grant, error)
	listGrants          func(ctx context.Context, workspaceID string, now time.Time, after int64, limit int) ([]quota.Grant, int64, error)
	getWorkspaceBalance func(ctx context.Context, workspaceID string, now time.Time) (quota.WorkspaceBalance, error)
	adjust              func(context.Context, quota.AdjustOp) (quota.Adjustment, error)
	audit               func(ctx context.Context, workspaceID string, now time.Time) (quota.AuditReport, error)

	usage       func(context.Context, quota.UsageOp) (quota.UsagePage, error)
	listMembers func(ctx context.Context, workspaceID string, now time.Time, after string, limit int) ([]quota.Balance, string, error)
	listLedger  func(context.Context, quota.LedgerOp) (quota.LedgerPage, error)
	listHolds   func(context.Context, quota.HoldsOp) (quota.HoldsPage, error)

	mu    sync.Mutex
	calls []string
}

var _ quota.Store = (*fakeStore)(nil)

// record notes a call to method.
func (f *fakeStore) record(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
}

// Calls returns the methods called so far, in order.
func (f *fakeStore) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// unexpected is the error of a method the test did not set up.
func unexpected(method string) error {
	return fmt.Errorf("fakeStore: unexpected call to %s", method)
}

func (f *fakeStore) SetWorkspace(ctx context.Context, op quota.WorkspaceOp) (quota.Workspace, error) {
	f.record("SetWorkspace")
	if f.setWorkspace == nil {
		return quota.Workspace{}, unexpected("SetWorkspace")
	}
	return f.setWorkspace(ctx, op)
}

func (f *fakeStore) GetWorkspace(ctx context.Context, id string) (quota.Workspace, error) {
	f.record("GetWorkspace")
	if f.getWorkspace == nil {
		return quota.Workspace{}, unexpected("GetWorkspace")
	}
	return f.getWorkspace(ctx, id)
}

func (f *fakeStore) SetSeat(ctx context.Context, op quota.SeatOp) (quota.Balance, error) {
	f.record("SetSeat")
	if f.setSeat == nil {
		return quota.Balance{}, unexpected("SetSeat")
	}
	return f.setSeat(ctx, op)
}

func (f *fakeStore) Reserve(ctx context.Context, op quota.ReserveOp) (quota.Outcome, error) {
	f.record("Reserve")
	if f.reserve == nil {
		return quota.Outcome{}, unexpected("Reserve")
	}
	return f.reserve(ctx, op)
}

func (f *fakeStore) Extend(ctx context.Context, op quota.ExtendOp) (quota.Outcome, error) {
	f.record("Extend")
	if f.extend == nil {
		return quota.Outcome{}, unexpected("Extend")
	}
	return f.extend(ctx, op)
}

func (f *fakeStore) Commit(ctx context.Context, op quota.CommitOp) (quota.Outcome, error) {
	f.record("Commit")
	if f.commit == nil {
		return quota.Outcome{}, unexpected("Commit")
	}
	return f.commit(ctx, op)
}

func (f *fakeStore) Refund(ctx context.Context, op quota.RefundOp) (quota.Outcome, error) {
	f.record("Refund")
	if f.refund == nil {
		return quota.Outcome{}, unexpected("Refund")
	}
	return f.refund(ctx, op)
}

func (f *fakeStore) GetReservation(ctx context.Context, ws string, ref quota.ReservationRef, now time.Time) (quota.Reservation, error) {
	f.record("GetReservation")
	if f.getReservation == nil {
		return quota.Reservation{}, unexpected("GetReservation")
	}
	return f.getReservation(ctx, ws, ref, now)
}

func (f *fakeStore) ListRun(ctx context.Context, ws string, ref quota.ReservationRef, now time.Time, after int64, limit int) ([]quota.RunEntry, int64, error) {
	f.record("ListRun")
	if f.listRun == nil {
		return nil, 0, unexpected("ListRun")
	}
	return f.listRun(ctx, ws, ref, now, after, limit)
}

func (f *fakeStore) GetBalance(ctx context.Context, ws, member string, now time.Time) (quota.Balance, error) {
	f.record("GetBalance")
	if f.getBalance == nil {
		return quota.Balance{}, unexpected("GetBalance")
	}
	return f.getBalance(ctx, ws, member, now)
}

func (f *fakeStore) CurrentPricingVersion(ctx context.Context) (int64, bool, error) {
	f.record("CurrentPricingVersion")
	if f.currentPricing == nil {
		return 0, false, unexpected("CurrentPricingVersion")
	}
	return f.currentPricing(ctx)
}

func (f *fakeStore) LoadPricingVersion(ctx context.Context, v int64) (quota.PriceVersion, error) {
	f.record("LoadPricingVersion")
	if f.loadPricing == nil {
		return quota.PriceVersion{}, unexpected("LoadPricingVersion")
	}
	return f.loadPricing(ctx, v)
}

func (f *fakeStore) SavePricing(ctx context.Context, op quota.PricingOp) (quota.PriceVersion, error) {
	f.record("SavePricing")
	if f.savePricing == nil {
		return quota.PriceVersion{}, unexpected("SavePricing")
	}
	return f.savePricing(ctx, op)
}

func (f *fakeStore) ListPricingVersions(ctx context.Context, before int64, limit int) ([]quota.PriceVersion, int64, error) {
	f.record("ListPricingVersions")
	if f.listPricing == nil {
		return nil, 0, unexpected("ListPricingVersions")
	}
	return f.listPricing(ctx, before, limit)
}

func (f *fakeStore) Sweep(ctx context.Context, now time.Time, limit int) (quota.SweepStats, error) {
	f.record("Sweep")
	if f.sweep == nil {
		return quota.SweepStats{}, unexpected("Sweep")
	}
	return f.sweep(ctx, now, limit)
}

func (f *fakeStore) SetPolicy(ctx context.Context, op quota.PolicyOp) (quota.Workspace, error) {
	f.record("SetPolicy")
	if f.setPolicy == nil {
		return quota.Workspace{}, unexpected("SetPolicy")
	}
	return f.setPolicy(ctx, op)
}

func (f *fakeStore) SetMemberCap(ctx context.Context, op quota.MemberCapOp) (quota.Balance, error) {
	f.record("SetMemberCap")
	if f.setMemberCap == nil {
		return quota.Balance{}, unexpected("SetMemberCap")
	}
	return f.setMemberCap(ctx, op)
}

func (f *fakeStore) AddGrant(ctx context.Context, op quota.GrantOp) (quota.Grant, error) {
	f.record("AddGrant")
	if f.addGrant == nil {
		return quota.Grant{}, unexpected("AddGrant")
	}
	return f.addGrant(ctx, op)
}

func (f *fakeStore) VoidGrant(ctx context.Context, op quota.VoidGrantOp) (quota.Grant, error) {
	f.record("VoidGrant")
	if f.voidGrant == nil {
		return quota.Grant{}, unexpected("VoidGrant")
	}
	return f.voidGrant(ctx, op)
}

func (f *fakeStore) ListGrants(ctx context.Context, ws string, now time.Time, after int64, limit int) ([]quota.Grant, int64, error) {
	f.record("ListGrants")
	if f.listGrants == nil {
		return nil, 0, unexpected("ListGrants")
	}
	return f.listGrants(ctx, ws, now, after, limit)
}

func (f *fakeStore) GetWorkspaceBalance(ctx context.Context, ws string, now time.Time) (quota.WorkspaceBalance, error) {
	f.record("GetWorkspaceBalance")
	if f.getWorkspaceBalance == nil {
		return quota.WorkspaceBalance{}, unexpected("GetWorkspaceBalance")
	}
	return f.getWorkspaceBalance(ctx, ws, now)
}

func (f *fakeStore) Adjust(ctx context.Context, op quota.AdjustOp) (quota.Adjustment, error) {
	f.record("Adjust")
	if f.adjust == nil {
		return quota.Adjustment{}, unexpected("Adjust")
	}
	return f.adjust(ctx, op)
}

func (f *fakeStore) Audit(ctx context.Context, ws string, now time.Time) (quota.AuditReport, error) {
	f.record("Audit")
	if f.audit == nil {
		return quota.AuditReport{}, unexpected("Audit")
	}
	return f.audit(ctx, ws, now)
}

func (f *fakeStore) Workspaces(context.Context) ([]string, error) {
	f.record("Workspaces")
	return nil, unexpected("Workspaces")
}

func (f *fakeStore) Usage(ctx context.Context, op quota.UsageOp) (quota.UsagePage, error) {
	f.record("Usage")
	if f.usage == nil {
		return quota.UsagePage{}, unexpected("Usage")
	}
	return f.usage(ctx, op)
}

func (f *fakeStore) ListMembers(ctx context.Context, ws string, now time.Time, after string, limit int) ([]quota.Balance, string, error) {
	f.record("ListMembers")
	if f.listMembers == nil {
		return nil, "", unexpected("ListMembers")
	}
	return f.listMembers(ctx, ws, now, after, limit)
}

func (f *fakeStore) ListLedger(ctx context.Context, op quota.LedgerOp) (quota.LedgerPage, error) {
	f.record("ListLedger")
	if f.listLedger == nil {
		return quota.LedgerPage{}, unexpected("ListLedger")
	}
	return f.listLedger(ctx, op)
}

func (f *fakeStore) ListHolds(ctx context.Context, op quota.HoldsOp) (quota.HoldsPage, error) {
	f.record("ListHolds")
	if f.listHolds == nil {
		return quota.HoldsPage{}, unexpected("ListHolds")
	}
	return f.listHolds(ctx, op)
}
