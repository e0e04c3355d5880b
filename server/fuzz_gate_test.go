package server

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	"github.com/quota-svc/quota/quota"
)

// The API edge is a gate: whatever a client sends, the store only sees
// requests within the documented bounds, and the client only sees the
// documented errors. gateStore is a fake store that says yes to every
// call and checks what it was given; the fuzz targets (FuzzValidate,
// FuzzDecode) send it what the fuzzer makes up.

// edgeReasons are the errors a request can meet before the store answers,
// with their codes: each is in README.md's errors table. A fuzzed request
// must meet none other (never INTERNAL).
var edgeReasons = map[string]codes.Code{
	"INVALID_FIELD":             codes.InvalidArgument,
	"MEMBER_REQUIRED":           codes.InvalidArgument,
	"MEMBER_OR_SPENDER":         codes.InvalidArgument,
	"LIMIT_EXCEEDED":            codes.InvalidArgument,
	reasonMalformedMessage:      codes.InvalidArgument,
	"RESERVATION_NOT_FOUND":     codes.NotFound,
	"PARENT_NOT_FOUND":          codes.NotFound,
	"PRICING_VERSION_NOT_FOUND": codes.NotFound,
}

// validIDPattern is the README's id rule, written independently of
// checkID: 1 to 128 bytes of [A-Za-z0-9._:@-].
var validIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// validID tells whether id passes the README's id rule.
func validID(id string) bool { return validIDPattern.MatchString(id) }

// gate records what gateStore was given that it should not have been.
type gate struct {
	mu     sync.Mutex
	broken []string
	calls  int
}

// checkf notes a broken promise unless ok.
func (g *gate) checkf(ok bool, format string, args ...any) {
	if ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.broken = append(g.broken, fmt.Sprintf(format, args...))
}

// take returns and clears the broken promises and the number of calls.
func (g *gate) take() (broken []string, calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	broken, calls = g.broken, g.calls
	g.broken, g.calls = nil, 0
	return broken, calls
}

func (g *gate) call() {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
}

func (g *gate) id(field, id string) { g.checkf(validID(id), "the store got %s %q", field, id) }

func (g *gate) idem(idem quota.Idem) {
	g.id("request_id", idem.RequestID)
	g.checkf(len(idem.Fingerprint) == 64, "the store got a fingerprint %q", idem.Fingerprint)
}

func (g *gate) amount(field string, v, least int64) {
	g.checkf(v >= least && v <= quota.MaxAmount, "the store got %s %d", field, v)
}

func (g *gate) ref(field string, r quota.ReservationRef) {
	_, ok := quota.ParseReservationID(r.ID())
	g.checkf(ok, "the store got %s %+v", field, r)
}

// deadline checks a deadline now + ttl with ttl within the service's
// bounds.
func (g *gate) deadline(d, now time.Time, cfg quota.Config) {
	ttl := d.Sub(now)
	g.checkf(ttl >= cfg.MinTTL && ttl <= cfg.MaxTTL, "the store got a deadline %s after now", ttl)
}

func (g *gate) page(limit int) {
	g.checkf(limit >= 1 && limit <= quota.MaxPageSize, "the store got a page of %d", limit)
}

// owner checks a list's owner filter: "" (every owner), a member id, or
// quota.SpenderMark and a spender id.
func (g *gate) owner(owner string) {
	if spender, ok := strings.CutPrefix(owner, quota.SpenderMark); ok {
		g.id("spender_id", spender)
	} else if owner != "" {
		g.id("member_id", owner)
	}
}

// scan checks a filtered page's limit and its budget of entries read:
// at least the limit, at most quota.ScanFactor pages of the largest size.
func (g *gate) scan(limit, budget int) {
	g.page(limit)
	g.checkf(budget >= limit && budget <= quota.ScanFactor*quota.MaxPageSize, "the store got a budget of %d for a page of %d", budget, limit)
}

// reason checks an operator's reason (README, "Adjustments and operator
// refunds"): 1 to quota.MaxReasonLen bytes of UTF-8, no control
// characters, written independently of the domain's check.
func (g *gate) reason(reason string) {
	ok := reason != "" && len(reason) <= quota.MaxReasonLen && utf8.ValidString(reason) &&
		!strings.ContainsFunc(reason, unicode.IsControl)
	g.checkf(ok, "the store got a reason %q", reason)
}

// gateStore returns a store that says yes to everything and checks, on g,
// each call against the edge's promises; cfg is the service's (with its
// defaults).
func gateStore(g *gate, cfg quota.Config) *fakeStore {
	return &fakeStore{
		setWorkspace: func(_ context.Context, op quota.WorkspaceOp) (quota.Workspace, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.Workspace.ID)
			g.checkf(!op.Workspace.SubscriptionStart.IsZero(), "the store got no subscription start")
			return op.Workspace, nil
		},
		getWorkspace: func(_ context.Context, ws string) (quota.Workspace, error) {
			g.call()
			g.id("workspace_id", ws)
			return quota.Workspace{ID: ws, SubscriptionStart: testNow}, nil
		},
		setSeat: func(_ context.Context, op quota.SeatOp) (quota.Balance, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			g.id("member_id", op.MemberID)
			g.checkf(op.Seat >= quota.SeatNone && op.Seat <= quota.SeatMax, "the store got seat %d", op.Seat)
			return quota.Balance{WorkspaceID: op.WorkspaceID, MemberID: op.MemberID, Seat: op.Seat}, nil
		},
		reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			switch {
			case op.MemberID != "" && op.SpenderID != "":
				g.checkf(false, "the store got a member and a spender")
			case op.MemberID != "":
				g.id("member_id", op.MemberID)
			case op.SpenderID != "":
				g.id("spender_id", op.SpenderID)
			default:
				g.checkf(op.Parent.Hex != "", "the store got a root Reserve with no member or spender")
			}
			if op.Parent.Hex != "" {
				g.ref("parent", op.Parent)
				g.checkf(op.Ref.Origin == op.Parent.Origin && op.Ref.Version == op.Parent.Version, "a child's origin or version is not its parent's")
				g.checkf(!op.HasRunTokenCap, "the store got a run token cap on a child")
			}
			g.ref("reservation", op.Ref)
			least := int64(1)
			if op.Ref.Origin == quota.OriginSidekick {
				least = 0
				g.checkf(op.Amount == 0 && op.Min == 0, "the store got a Sidekick hold of %d", op.Amount)
			}
			g.amount("amount", op.Amount, least)
			g.amount("min_amount", op.Min, least)
			g.checkf(op.Min <= op.Amount, "the store got min %d above amount %d", op.Min, op.Amount)
			if op.HasRunTokenCap {
				g.amount("run_token_cap", op.RunTokenCap, 0)
			}
			g.deadline(op.Deadline, op.Now, cfg)
			return quota.Outcome{Reservation: quota.Reservation{WorkspaceID: op.WorkspaceID, ID: op.Ref.ID(), Held: op.Amount}}, nil
		},
		extend: func(_ context.Context, op quota.ExtendOp) (quota.Outcome, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			g.ref("reservation", op.Ref)
			g.amount("add_amount", op.AddAmount, 0)
			if !op.Deadline.IsZero() {
				g.deadline(op.Deadline, op.Now, cfg)
			}
			g.checkf(op.AddAmount > 0 || !op.Deadline.IsZero() || op.Ref.Origin == quota.OriginSidekick, "the store got an Extend that changes nothing")
			return quota.Outcome{Reservation: quota.Reservation{WorkspaceID: op.WorkspaceID, ID: op.Ref.ID(), Origin: op.Ref.Origin}}, nil
		},
		commit: func(_ context.Context, op quota.CommitOp) (quota.Outcome, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			g.ref("reservation", op.Ref)
			c := op.Cost
			g.amount("cost", c.TotalCost, 0)
			g.checkf(c.TotalCost == c.TokenCost+c.ActionCost && c.TokenCost >= 0 && c.ActionCost >= 0,
				"the store got a cost %d = %d + %d", c.TotalCost, c.TokenCost, c.ActionCost)
			g.checkf(op.Agents >= 1 && op.Agents <= quota.MaxNodes, "the store got %d agents", op.Agents)
			g.checkf(op.Ref.Origin != quota.OriginSidekick || c.TotalCost == 0, "the store got a Sidekick cost of %d", c.TotalCost)
			return quota.Outcome{Reservation: quota.Reservation{WorkspaceID: op.WorkspaceID, ID: op.Ref.ID(), Cost: &c, State: quota.StateCommitted}}, nil
		},
		refund: func(_ context.Context, op quota.RefundOp) (quota.Outcome, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			g.ref("reservation", op.Ref)
			if op.Reason != "" || op.Actor != "" { // an operator's (RefundReservation)
				g.reason(op.Reason)
			}
			return quota.Outcome{Reservation: quota.Reservation{WorkspaceID: op.WorkspaceID, ID: op.Ref.ID(), State: quota.StateRefunded}}, nil
		},
		getReservation: func(_ context.Context, ws string, ref quota.ReservationRef, _ time.Time) (quota.Reservation, error) {
			g.call()
			g.id("workspace_id", ws)
			g.ref("reservation", ref)
			return quota.Reservation{WorkspaceID: ws, ID: ref.ID()}, nil
		},
		listRun: func(_ context.Context, ws string, ref quota.ReservationRef, _ time.Time, after int64, limit int) ([]quota.RunEntry, int64, error) {
			g.call()
			g.id("workspace_id", ws)
			g.ref("reservation", ref)
			g.checkf(after >= -1, "the store got a run page after %d", after)
			g.page(limit)
			return nil, -1, nil
		},
		getBalance: func(_ context.Context, ws, member string, _ time.Time) (quota.Balance, error) {
			g.call()
			g.id("workspace_id", ws)
			g.id("member_id", member)
			return quota.Balance{WorkspaceID: ws, MemberID: member}, nil
		},
		currentPricing: func(context.Context) (int64, bool, error) { return 0, false, nil },
		loadPricing: func(_ context.Context, v int64) (quota.PriceVersion, error) {
			g.call()
			g.checkf(v >= 0, "the store got price version %d", v)
			pv := quota.DefaultPriceVersion()
			pv.Version = v
			return pv, nil
		},
		savePricing: func(_ context.Context, op quota.PricingOp) (quota.PriceVersion, error) {
			g.call()
			g.idem(op.Idem)
			g.checkf(op.Table.Validate() == nil, "the store got an invalid table: %v", op.Table.Validate())
			return quota.PriceVersion{Version: 1, Table: op.Table, Created: op.Now}, nil
		},
		listPricing: func(_ context.Context, before int64, limit int) ([]quota.PriceVersion, int64, error) {
			g.call()
			g.checkf(before >= 0, "the store got versions before %d", before)
			g.page(limit)
			return nil, 0, nil
		},
		setPolicy: func(_ context.Context, op quota.PolicyOp) (quota.Workspace, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			p := op.Policy
			g.amount("default_member_pool_cap", p.DefaultPoolCap, 0)
			g.amount("overage_cap", p.OverageCap, 0)
			g.amount("programmatic_cap", p.ProgrammaticCap, 0)
			return quota.Workspace{ID: op.WorkspaceID, SubscriptionStart: testNow, Policy: p}, nil
		},
		setMemberCap: func(_ context.Context, op quota.MemberCapOp) (quota.Balance, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			g.id("member_id", op.MemberID)
			g.amount("pool_cap", op.Cap.Cap, 0)
			return quota.Balance{WorkspaceID: op.WorkspaceID, MemberID: op.MemberID}, nil
		},
		addGrant: func(_ context.Context, op quota.GrantOp) (quota.Grant, error) {
			g.call()
			g.idem(op.Idem)
			gr := op.Grant
			g.id("workspace_id", gr.WorkspaceID)
			g.checkf(gr.Kind == quota.GrantTopUp || gr.Kind == quota.GrantCommitment, "the store got grant kind %d", gr.Kind)
			g.amount("amount", gr.Amount, 1)
			g.checkf(gr.Expiry.After(gr.Start) && gr.Expiry.After(op.Now), "the store got a grant from %s to %s", gr.Start, gr.Expiry)
			g.checkf(gr.Priority >= -quota.MaxPriority && gr.Priority <= quota.MaxPriority, "the store got priority %d", gr.Priority)
			gr.ID = "g-1"
			return gr, nil
		},
		voidGrant: func(_ context.Context, op quota.VoidGrantOp) (quota.Grant, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			g.id("grant_id", op.GrantID)
			return quota.Grant{WorkspaceID: op.WorkspaceID, ID: op.GrantID}, nil
		},
		listGrants: func(_ context.Context, ws string, _ time.Time, after int64, limit int) ([]quota.Grant, int64, error) {
			g.call()
			g.id("workspace_id", ws)
			g.checkf(after >= 0, "the store got grants after %d", after)
			g.page(limit)
			return nil, 0, nil
		},
		getWorkspaceBalance: func(_ context.Context, ws string, _ time.Time) (quota.WorkspaceBalance, error) {
			g.call()
			g.id("workspace_id", ws)
			return quota.WorkspaceBalance{WorkspaceID: ws}, nil
		},
		adjust: func(_ context.Context, op quota.AdjustOp) (quota.Adjustment, error) {
			g.call()
			g.idem(op.Idem)
			g.id("workspace_id", op.WorkspaceID)
			if op.MemberID != "" {
				g.id("member_id", op.MemberID)
			}
			g.checkf(op.Amount != 0 && op.Amount >= -quota.MaxAmount && op.Amount <= quota.MaxAmount, "the store got an adjustment of %d", op.Amount)
			g.reason(op.Reason)
			if op.MemberID == "" && op.Amount > 0 { // a pool credit: a new grant
				g.checkf(op.Expiry.After(op.Now), "the store got a pool credit expiring at %s", op.Expiry)
			} else {
				g.checkf(op.Expiry.IsZero(), "the store got an expiry %s for no pool credit", op.Expiry)
			}
			adj := quota.Adjustment{Workspace: quota.WorkspaceBalance{WorkspaceID: op.WorkspaceID}}
			if op.MemberID != "" {
				adj.Balance = &quota.Balance{WorkspaceID: op.WorkspaceID, MemberID: op.MemberID}
			}
			return adj, nil
		},
		audit: func(_ context.Context, ws string, _ time.Time) (quota.AuditReport, error) {
			g.call()
			g.id("workspace_id", ws)
			return quota.AuditReport{}, nil
		},
		usage: func(_ context.Context, op quota.UsageOp) (quota.UsagePage, error) {
			g.call()
			g.id("workspace_id", op.WorkspaceID)
			g.checkf(op.GroupBy >= quota.UsageByMember && op.GroupBy <= quota.UsageByDay, "the store got grouping %d", op.GroupBy)
			// The difference as uint64 is exact when EndDay > FirstDay.
			g.checkf(op.EndDay > op.FirstDay && uint64(op.EndDay-op.FirstDay) <= quota.MaxUsageDays,
				"the store got the days [%d, %d)", op.FirstDay, op.EndDay)
			g.page(op.Limit)
			return quota.UsagePage{}, nil
		},
		listMembers: func(_ context.Context, ws string, _ time.Time, _ string, limit int) ([]quota.Balance, string, error) {
			g.call()
			g.id("workspace_id", ws)
			g.page(limit)
			return nil, "", nil
		},
		listLedger: func(_ context.Context, op quota.LedgerOp) (quota.LedgerPage, error) {
			g.call()
			g.id("workspace_id", op.WorkspaceID)
			g.owner(op.Owner)
			for _, o := range op.Ops {
				g.checkf(slices.Contains(quota.LedgerOperations, o), "the store got operation %q", o)
			}
			g.checkf(op.Start.IsZero() || op.End.IsZero() || op.End.After(op.Start), "the store got the range [%s, %s)", op.Start, op.End)
			g.scan(op.Limit, op.Budget)
			return quota.LedgerPage{Next: "0-0"}, nil
		},
		listHolds: func(_ context.Context, op quota.HoldsOp) (quota.HoldsPage, error) {
			g.call()
			g.id("workspace_id", op.WorkspaceID)
			g.owner(op.Owner)
			g.scan(op.Limit, op.Budget)
			return quota.HoldsPage{}, nil
		},
	}
}

// topField is the request field an error's field path starts with:
// "usage" for "usage.sub_agents[0].agent_id".
func topField(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}
