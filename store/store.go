// Package store implements quota.Store on Redis.
//
// Every mutation is one Lua script (lua/*.lua, embedded) that does the
// check, the change, the idempotency record and the ledger entry in one
// atomic step, so the hot path (Reserve, Commit, Refund) is one round trip.
// The one exception is rare: when a member's billing period has ended, the
// script answers ROLL with the workspace's anchor, the store computes the
// new period with quota.PeriodAt and runs the script again with it.
//
// Every key of a workspace carries the hash tag {ws:<id>} (see keys.go), so
// the same scripts run unchanged on a single Redis, Sentinel or Cluster,
// and on the embedded server of StartEmbedded.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/redis/go-redis/v9"
)

// Store is quota.Store on Redis. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
}

// New returns a Store on rdb: a *redis.Client, *redis.ClusterClient or
// failover client.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

var _ quota.Store = (*Store)(nil)

// call is one script invocation. Args follow the six common ARGV of
// lua/lib.lua.
type call struct {
	script *redis.Script
	keys   []string
	prefix string
	idem   quota.Idem
	now    time.Time
	args   []any
}

// maxRolls bounds the ROLL exchange: one roll always suffices, the second
// try only covers a period ending between the two calls.
const maxRolls = 3

// run runs a script and returns its OK reply as fields, after answering
// ROLL replies with the new period.
func (s *Store) run(ctx context.Context, c call) (fields, error) {
	nowMS := c.now.UnixMilli()
	var rollStart, rollEnd int64
	for range maxRolls {
		argv := append([]any{nowMS, c.prefix, rollStart, rollEnd, c.idem.RequestID, c.idem.Fingerprint}, c.args...)
		reply, err := c.script.Run(ctx, s.rdb, c.keys, argv...).StringSlice()
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if len(reply) == 0 {
			return nil, errors.New("store: empty script reply")
		}
		switch reply[0] {
		case "OK":
			return parseFields(reply[1:]), nil
		case "ERR":
			return nil, scriptError(reply[1:])
		case "ROLL":
			anchor, err := strconv.ParseInt(reply[1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("store: bad anchor %q", reply[1])
			}
			start, end := quota.PeriodAt(msTime(anchor), time.UnixMilli(nowMS).UTC())
			rollStart, rollEnd = start.UnixMilli(), end.UnixMilli()
		default:
			return nil, fmt.Errorf("store: unexpected script reply %q", reply[0])
		}
	}
	return nil, errors.New("store: billing period rollover did not settle")
}

// scriptError turns an {"ERR", code, ...} reply into a quota error.
func scriptError(r []string) error {
	code := ""
	if len(r) > 0 {
		code = r[0]
	}
	switch {
	case code == "NOT_FOUND":
		return quota.ErrReservationNotFound
	case code == "WS_NOT_FOUND":
		return quota.ErrWorkspaceNotFound
	case code == "IDEM":
		return quota.ErrRequestIDReused
	case code == "TRANSITION" && len(r) == 3:
		return &quota.TransitionError{From: quota.State(atoi(r[1])), To: quota.State(atoi(r[2]))}
	case code == "DENIED" && len(r) == 7:
		return &quota.DeniedError{Reason: r[1], Requested: atoi(r[2]), Minimum: atoi(r[3]), Available: atoi(r[4]), MemberID: r[5], SpenderID: r[6]}
	case code == "GRANT_NOT_FOUND":
		return quota.ErrGrantNotFound
	case code == "GRANT_ENDED":
		return quota.ErrGrantEnded
	case code == "PARENT_NOT_FOUND":
		return quota.ErrParentNotFound
	case code == "PARENT_NOT_HELD":
		return quota.ErrParentNotHeld
	case code == "OWNER_MISMATCH":
		return quota.Invalid("member_id", "must be the parent reservation's member or spender, or unset")
	case code == "TOO_DEEP":
		return quota.Invalid("parent_reservation_id", "the run is already %d reservations deep", quota.MaxDepth)
	case code == "POOL_FULL" && len(r) == 2:
		return quota.Invalid("amount", "the pool's grants would pass %s µcredits in all", r[1])
	}
	return fmt.Errorf("store: script error %q", r)
}

// SetWorkspace creates or updates a workspace.
func (s *Store) SetWorkspace(ctx context.Context, op quota.WorkspaceOp) (quota.Workspace, error) {
	ws := op.Workspace.ID
	// The sweeper's index lives outside the workspace's slot, so it is its
	// own command; adding first means a workspace is never missed.
	if err := s.rdb.SAdd(ctx, keyWorkspaces, ws).Err(); err != nil {
		return quota.Workspace{}, fmt.Errorf("store: %w", err)
	}
	f, err := s.run(ctx, call{
		script: scriptSetWorkspace, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now,
		args: []any{ws, op.Workspace.SubscriptionStart.UnixMilli()},
	})
	if err != nil {
		return quota.Workspace{}, err
	}
	return f.workspace(ws), nil
}

// wsFields are the workspace hash fields a Workspace is read from.
var wsFields = []string{"anchor", "pooled", "pcap", "ov_on", "ov_cap", "prog_cap"}

// GetWorkspace returns a workspace.
func (s *Store) GetWorkspace(ctx context.Context, id string) (quota.Workspace, error) {
	vals, err := s.rdb.HMGet(ctx, wsKey(id), wsFields...).Result()
	if err != nil {
		return quota.Workspace{}, fmt.Errorf("store: %w", err)
	}
	if vals[0] == nil {
		return quota.Workspace{}, quota.ErrWorkspaceNotFound
	}
	f := fields{}
	for i, name := range wsFields {
		if v, ok := vals[i].(string); ok {
			f["w."+name] = v
		}
	}
	return f.workspace(id), nil
}

// SetSeat changes a member's seat.
func (s *Store) SetSeat(ctx context.Context, op quota.SeatOp) (quota.Balance, error) {
	ws := op.WorkspaceID
	f, err := s.run(ctx, call{
		script: scriptSetSeat, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now,
		args: []any{op.MemberID, op.Rank, op.Monthly, op.Lifetime},
	})
	if err != nil {
		return quota.Balance{}, err
	}
	return f.balance(ws, op.MemberID), nil
}

// Reserve takes a hold.
func (s *Store) Reserve(ctx context.Context, op quota.ReserveOp) (quota.Outcome, error) {
	ws := op.WorkspaceID
	f, err := s.run(ctx, call{
		script: scriptReserve, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now,
		args: []any{owner(op.MemberID, op.SpenderID), op.ReservationID, int(op.Origin), op.Amount, op.Min,
			op.Deadline.UnixMilli(), op.ParentID, flag(op.AllowTopUp), capArg(op.RunTokenCap, op.HasRunTokenCap)},
	})
	if err != nil {
		return quota.Outcome{}, err
	}
	return f.outcome(ws), nil
}

// Extend raises a hold and/or moves its deadline.
func (s *Store) Extend(ctx context.Context, op quota.ExtendOp) (quota.Outcome, error) {
	var deadline int64
	if !op.Deadline.IsZero() {
		deadline = op.Deadline.UnixMilli()
	}
	return s.settle(ctx, scriptExtend, op.WorkspaceID, op.ReservationID, op.Idem, op.Now, op.AddAmount, deadline)
}

// Commit settles a reservation with a priced run.
func (s *Store) Commit(ctx context.Context, op quota.CommitOp) (quota.Outcome, error) {
	cost, err := json.Marshal(op.Cost)
	if err != nil {
		return quota.Outcome{}, fmt.Errorf("store: %w", err)
	}
	return s.settle(ctx, scriptCommit, op.WorkspaceID, op.ReservationID, op.Idem, op.Now, op.Cost.TotalCost, cost, op.Cost.TokenCost)
}

// Refund voids a hold.
func (s *Store) Refund(ctx context.Context, op quota.RefundOp) (quota.Outcome, error) {
	return s.settle(ctx, scriptRefund, op.WorkspaceID, op.ReservationID, op.Idem, op.Now)
}

// settle runs one of the scripts that act on an existing reservation.
func (s *Store) settle(ctx context.Context, sc *redis.Script, ws, id string, idem quota.Idem, now time.Time, args ...any) (quota.Outcome, error) {
	f, err := s.run(ctx, call{
		script: sc, keys: []string{resKey(ws, id), idemKey(ws, idem.RequestID)},
		prefix: prefix(ws), idem: idem, now: now, args: append([]any{id}, args...),
	})
	var t *quota.TransitionError
	if errors.As(err, &t) {
		t.ReservationID = id
	}
	if err != nil {
		return quota.Outcome{}, err
	}
	return f.outcome(ws), nil
}

// GetReservation returns a reservation as of now.
func (s *Store) GetReservation(ctx context.Context, ws, id string, now time.Time) (quota.Reservation, error) {
	f, err := s.run(ctx, call{
		script: scriptGetReservation, keys: []string{resKey(ws, id)},
		prefix: prefix(ws), now: now, args: []any{id},
	})
	if err != nil {
		return quota.Reservation{}, err
	}
	return f.reservation(ws), nil
}

// GetBalance returns a member's balance as of now.
func (s *Store) GetBalance(ctx context.Context, ws, member string, now time.Time) (quota.Balance, error) {
	f, err := s.run(ctx, call{
		script: scriptGetBalance, keys: []string{wsKey(ws)},
		prefix: prefix(ws), now: now, args: []any{member},
	})
	if err != nil {
		return quota.Balance{}, err
	}
	return f.balance(ws, member), nil
}

// LoadPricing returns the stored price table.
func (s *Store) LoadPricing(ctx context.Context) (quota.PriceTable, bool, error) {
	raw, err := s.rdb.Get(ctx, keyPricing).Bytes()
	if errors.Is(err, redis.Nil) {
		return quota.PriceTable{}, false, nil
	}
	if err != nil {
		return quota.PriceTable{}, false, fmt.Errorf("store: %w", err)
	}
	var t quota.PriceTable
	if err := json.Unmarshal(raw, &t); err != nil {
		return quota.PriceTable{}, false, fmt.Errorf("store: stored price table: %w", err)
	}
	return t, true, nil
}

// SavePricing replaces the price table.
func (s *Store) SavePricing(ctx context.Context, op quota.PricingOp) (quota.PriceTable, error) {
	raw, err := json.Marshal(op.Table)
	if err != nil {
		return quota.PriceTable{}, fmt.Errorf("store: %w", err)
	}
	f, err := s.run(ctx, call{
		script: scriptSetPricing, keys: []string{keyPricing, keyPricingIdem + op.RequestID},
		idem: op.Idem, args: []any{raw},
	})
	if err != nil {
		return quota.PriceTable{}, err
	}
	var t quota.PriceTable
	if err := json.Unmarshal([]byte(f["table"]), &t); err != nil {
		return quota.PriceTable{}, fmt.Errorf("store: stored price table: %w", err)
	}
	return t, nil
}

// Sweep releases up to limit expired holds across all workspaces.
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	released := 0
	iter := s.rdb.SScan(ctx, keyWorkspaces, 0, "", 100).Iterator()
	for released < limit && iter.Next(ctx) {
		ws := iter.Val()
		n, err := scriptSweep.Run(ctx, s.rdb, []string{deadlinesKey(ws)},
			now.UnixMilli(), prefix(ws), 0, 0, "", "", limit-released).Int()
		if err != nil {
			return released, fmt.Errorf("store: sweep %s: %w", ws, err)
		}
		released += n
	}
	if err := iter.Err(); err != nil {
		return released, fmt.Errorf("store: %w", err)
	}
	return released, nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func atoi(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// spenderMark starts the account owner of a programmatic spender: member
// ids cannot contain it (the API restricts them to [A-Za-z0-9._:@-]).
const spenderMark = "~"

// owner is the account a reservation draws on: the member, or the
// programmatic spender; "" for a child that names neither (the parent's).
func owner(member, spender string) string {
	switch {
	case member != "":
		return member
	case spender != "":
		return spenderMark + spender
	}
	return ""
}

// capArg encodes an optional cap for the scripts: -1 means none.
func capArg(c int64, set bool) int64 {
	if !set {
		return -1
	}
	return c
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SetPolicy sets a workspace's pool and overage settings.
func (s *Store) SetPolicy(ctx context.Context, op quota.PolicyOp) (quota.Workspace, error) {
	ws, p := op.WorkspaceID, op.Policy
	f, err := s.run(ctx, call{
		script: scriptSetPolicy, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now,
		args: []any{capArg(p.DefaultPoolCap, p.HasDefaultPoolCap), flag(p.OverageEnabled), p.OverageCap,
			capArg(p.ProgrammaticCap, p.HasProgrammaticCap), flag(p.Pooled)},
	})
	if err != nil {
		return quota.Workspace{}, err
	}
	return f.workspace(ws), nil
}

// SetMemberCap sets or clears a member's pool cap override.
func (s *Store) SetMemberCap(ctx context.Context, op quota.MemberCapOp) (quota.Balance, error) {
	ws := op.WorkspaceID
	override := int64(-2) // none: the workspace default applies
	switch {
	case op.Cap.Set && op.Cap.Unlimited:
		override = -1
	case op.Cap.Set:
		override = op.Cap.Cap
	}
	f, err := s.run(ctx, call{
		script: scriptSetMemberCap, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now, args: []any{op.MemberID, override},
	})
	if err != nil {
		return quota.Balance{}, err
	}
	return f.balance(ws, op.MemberID), nil
}

// AddGrant adds a pool grant.
func (s *Store) AddGrant(ctx context.Context, op quota.GrantOp) (quota.Grant, error) {
	g, ws := op.Grant, op.Grant.WorkspaceID
	f, err := s.run(ctx, call{
		script: scriptAddGrant, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now,
		args: []any{int(g.Kind), g.Amount, g.Start.UnixMilli(), g.Expiry.UnixMilli(), g.Priority},
	})
	if err != nil {
		return quota.Grant{}, err
	}
	return f.grant(ws, "g.", op.Now), nil
}

// VoidGrant voids a pool grant.
func (s *Store) VoidGrant(ctx context.Context, op quota.VoidGrantOp) (quota.Grant, error) {
	ws := op.WorkspaceID
	f, err := s.run(ctx, call{
		script: scriptVoidGrant, keys: []string{wsKey(ws), idemKey(ws, op.RequestID)},
		prefix: prefix(ws), idem: op.Idem, now: op.Now, args: []any{op.GrantID},
	})
	if err != nil {
		return quota.Grant{}, err
	}
	return f.grant(ws, "g.", op.Now), nil
}

// ListGrants lists pool grants, oldest first.
func (s *Store) ListGrants(ctx context.Context, ws string, now time.Time, after int64, limit int) ([]quota.Grant, int64, error) {
	f, err := s.run(ctx, call{
		script: scriptListGrants, keys: []string{wsKey(ws)},
		prefix: prefix(ws), now: now, args: []any{after, limit},
	})
	if err != nil {
		return nil, 0, err
	}
	n := int(f.int("count"))
	grants := make([]quota.Grant, 0, n)
	for i := 1; i <= n; i++ {
		grants = append(grants, f.grant(ws, "g"+strconv.Itoa(i)+".", now))
	}
	return grants, f.int("next"), nil
}

// GetWorkspaceBalance returns a workspace's pool and usage as of now.
func (s *Store) GetWorkspaceBalance(ctx context.Context, ws string, now time.Time) (quota.WorkspaceBalance, error) {
	f, err := s.run(ctx, call{
		script: scriptWorkspaceBal, keys: []string{wsKey(ws)}, prefix: prefix(ws), now: now,
	})
	if err != nil {
		return quota.WorkspaceBalance{}, err
	}
	return f.workspaceBalance(ws), nil
}
