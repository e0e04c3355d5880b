package main

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// The rows of hostile inputs the service takes, legitimately: the colon
// (an id character, so that ids can be "user:42" or "key:abc"), names in
// a usage tree or a price table (any UTF-8 up to 128 bytes: they are
// shown, never part of a key), TTL 0 (the default), the far ends of the
// timestamp range, page sizes past the maximum (clamped). Each row checks
// the effect. The colon's refusals (an id that is valid but names
// nothing) are here too.

// colonRows are the rows of ids with a colon.
func colonRows() []hostileRow {
	var res *quotav1.Reservation
	return []hostileRow{
		{name: "SetSeat a member id with a colon", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "a:b", RequestId: "colon-seat", Seat: quotav1.Seat_SEAT_MAX})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if seat := h.balance(t, "acme", "a:b").GetSeat(); seat != quotav1.Seat_SEAT_MAX {
				t.Errorf("a:b's seat = %v, want MAX", seat)
			}
			if seat := h.balance(t, "acme", "a").GetSeat(); seat != quotav1.Seat_SEAT_UNASSIGNED {
				t.Errorf("a's seat = %v after a:b's was set, want UNASSIGNED", seat)
			}
		}},
		{name: "SetWorkspace a workspace id of a colon", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: ":", RequestId: "colon-ws",
				SubscriptionStart: timestamppb.New(time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC))})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			ctx := h.ctx(t, "")
			ws, err := h.c.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: ":"})
			if err != nil || !ws.GetWorkspace().GetSubscriptionStart().AsTime().Equal(time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("GetWorkspace(:) = %v, %v", ws, err)
			}
			acme, err := h.c.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: "acme"})
			if err != nil || acme.GetWorkspace().GetSubscriptionStart().AsTime().Year() == 2020 {
				t.Errorf("GetWorkspace(acme) = %v, %v: changed by workspace \":\"", acme, err)
			}
		}},
		{name: "SetWorkspacePolicy a request_id of a colon", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspacePolicy(ctx, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: "acme", RequestId: ":", Policy: &quotav1.WorkspacePolicy{}})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			ctx := h.ctx(t, "")
			if _, err := h.c.admin.SetWorkspacePolicy(ctx, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: "acme", RequestId: ":", Policy: &quotav1.WorkspacePolicy{}}); err != nil {
				t.Errorf("the same request again = %v, want its first answer", err)
			}
			_, err := h.c.admin.SetWorkspacePolicy(ctx, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: "acme", RequestId: ":",
				Policy: &quotav1.WorkspacePolicy{OverageEnabled: true, OverageCap: credit}})
			checkStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED")
		}},
		{name: "Reserve for a spender id of a colon", call: func(ctx context.Context, h *hostile) error {
			r, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", SpenderId: ":", RequestId: "colon-spender",
				Amount: credit, Origin: quotav1.Origin_ORIGIN_AUTOMATION})
			res = r.GetReservation()
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if res.GetSpenderId() != ":" || res.GetHeld() != credit || res.GetMemberId() != "" {
				t.Errorf("reservation = spender %q member %q held %d, want spender \":\" holding 1 credit", res.GetSpenderId(), res.GetMemberId(), res.GetHeld())
			}
		}},
		{name: "SetSeat a member id of 128 bytes", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: strings.Repeat("m", quota.MaxIDLen), RequestId: "long-seat", Seat: quotav1.Seat_SEAT_FREE})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if seat := h.balance(t, "acme", strings.Repeat("m", quota.MaxIDLen)).GetSeat(); seat != quotav1.Seat_SEAT_FREE {
				t.Errorf("the 128-byte member's seat = %v, want FREE", seat)
			}
		}},
		{name: "GetReservation a reservation_id of a colon", want: notFound("RESERVATION_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: "acme", ReservationId: ":"})
			return err
		}},
		{name: "Reserve a parent_reservation_id of a colon", want: notFound("PARENT_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", ParentReservationId: ":", RequestId: "colon-parent", Amount: credit})
			return err
		}},
		{name: "VoidPoolGrant a grant_id of a colon", want: notFound("GRANT_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.VoidPoolGrant(ctx, &quotav1.VoidPoolGrantRequest{WorkspaceId: "acme", GrantId: ":", RequestId: "colon-grant"})
			return err
		}},
		{name: "GetWorkspace a workspace id of a colon and a star", want: notFound("WORKSPACE_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: "acme:"})
			return err
		}},
	}
}

// balance returns a member's balance, failing t on an error.
func (h *hostile) balance(t *testing.T, ws, member string) *quotav1.Balance {
	t.Helper()
	b, err := h.c.quota.GetBalance(h.ctx(t, ""), &quotav1.GetBalanceRequest{WorkspaceId: ws, MemberId: member})
	if err != nil {
		t.Fatalf("GetBalance(%s, %s): %v", ws, member, err)
	}
	return b.GetBalance()
}

// periodHolds checks that a workspace's current period contains now.
func (h *hostile) periodHolds(t *testing.T, ws string) {
	t.Helper()
	b, err := h.c.admin.GetWorkspaceBalance(h.ctx(t, ""), &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: ws})
	if err != nil {
		t.Fatalf("GetWorkspaceBalance(%s): %v", ws, err)
	}
	now := time.Now()
	if start, end := b.GetBalance().GetPeriodStart().AsTime(), b.GetBalance().GetPeriodEnd().AsTime(); start.After(now) || !end.After(now) {
		t.Errorf("%s's period [%s, %s) does not contain now", ws, start, end)
	}
}

// Names a usage tree and a price table may carry.
const (
	unicodeAgent = "агент \x00 🤖"
	unicodeModel = "模型\x00"
	unicodeTool  = "🔧"
)

// acceptedRows are the hostile inputs the service takes; the last changes
// the price table in force.
func acceptedRows() []hostileRow {
	var (
		ttlRes *quotav1.Reservation
		est    *quotav1.EstimateCostResponse
		grants *quotav1.ListPoolGrantsResponse
	)
	far := time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
	rows := colonRows()
	return append(rows, []hostileRow{
		{name: "Reserve ttl 0 takes the default, 5 minutes", call: func(ctx context.Context, h *hostile) error {
			r, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "ttl-0",
				Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION, Ttl: &durationpb.Duration{}})
			ttlRes = r.GetReservation()
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if d := ttlRes.GetDeadline().AsTime().Sub(ttlRes.GetCreateTime().AsTime()); d != 5*time.Minute {
				t.Errorf("deadline = create time + %s, want + 5m", d)
			}
		}},
		{name: "Commit a usage tree whose names are unicode, NUL and emoji", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "acme", ReservationId: h.childAcme, RequestId: "unicode-commit",
				Usage: &quotav1.AgentRun{AgentId: unicodeAgent, Models: []*quotav1.ModelUsage{{Model: unicodeModel, InputTokens: 1000}},
					Actions: []*quotav1.ToolAction{{Tool: unicodeTool}}}})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			r, err := h.c.quota.GetReservation(h.ctx(t, ""), &quotav1.GetReservationRequest{WorkspaceId: "acme", ReservationId: h.childAcme})
			if err != nil {
				t.Fatal(err)
			}
			root := r.GetReservation().GetCost().GetRoot()
			m, a := root.GetModels(), root.GetActions()
			if root.GetAgentId() != unicodeAgent || len(m) != 1 || m[0].GetModel() != unicodeModel || !m[0].GetFallback() ||
				m[0].GetPricedAs() != quota.DefaultPriceTable().FallbackModel || len(a) != 1 || a[0].GetTool() != unicodeTool ||
				!a[0].GetUncatalogued() || a[0].GetCost() != 3*credit {
				t.Errorf("the stored cost does not carry the names as sent, priced by the rules: %v", root)
			}
			entries, err := h.c.quota.ListRunCosts(h.ctx(t, ""), &quotav1.ListRunCostsRequest{WorkspaceId: "acme", ReservationId: h.resAcme})
			if err != nil || len(entries.GetEntries()) != 1 || entries.GetEntries()[0].GetCost().GetRoot().GetAgentId() != unicodeAgent {
				t.Errorf("ListRunCosts = %v, %v; want the child's tree with its names", entries, err)
			}
		}},
		{name: "EstimateCost a model name with a NUL", readOnly: true, call: func(ctx context.Context, h *hostile) error {
			var err error
			est, err = h.c.quota.EstimateCost(ctx, &quotav1.EstimateCostRequest{Origin: quotav1.Origin_ORIGIN_CONVERSATION,
				Usage: &quotav1.AgentRun{AgentId: "a", Models: []*quotav1.ModelUsage{{Model: "m\x00", OutputTokens: 1}}}})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if fm := est.GetCost().GetFallbackModels(); len(fm) != 1 || fm[0] != "m\x00" {
				t.Errorf("fallback models = %q, want [m\\x00]", fm)
			}
		}},
		{name: "GetBalance of a member the workspace does not know", readOnly: true, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: "acme", MemberId: "nobody"})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if b := h.balance(t, "acme", "nobody"); b.GetSeat() != quotav1.Seat_SEAT_UNASSIGNED || b.GetAllocated() != 0 {
				t.Errorf("nobody's balance = %v, want no seat and nothing allocated", b)
			}
		}},
		{name: "ListPoolGrants page_size int32 max is clamped to 500", readOnly: true, call: func(ctx context.Context, h *hostile) error {
			var err error
			grants, err = h.c.admin.ListPoolGrants(ctx, &quotav1.ListPoolGrantsRequest{WorkspaceId: "acme", PageSize: math.MaxInt32})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if len(grants.GetGrants()) != 2 || grants.GetNextPageToken() != "" {
				t.Errorf("grants = %d, next %q; want acme's 2 and no next page", len(grants.GetGrants()), grants.GetNextPageToken())
			}
		}},
		{name: "ListPoolGrants page_token int64 max", readOnly: true, call: func(ctx context.Context, h *hostile) error {
			var err error
			grants, err = h.c.admin.ListPoolGrants(ctx, &quotav1.ListPoolGrantsRequest{WorkspaceId: "acme", PageToken: "9223372036854775807"})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if len(grants.GetGrants()) != 0 || grants.GetNextPageToken() != "" {
				t.Errorf("grants after the last = %v, want none", grants)
			}
		}},
		{name: "AddPoolGrant expiring at the end of year 9999", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "beta", RequestId: "far-grant",
				Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: credit, ExpireTime: timestamppb.New(far)})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			g, err := h.c.admin.ListPoolGrants(h.ctx(t, ""), &quotav1.ListPoolGrantsRequest{WorkspaceId: "beta"})
			if err != nil {
				t.Fatal(err)
			}
			last := g.GetGrants()[len(g.GetGrants())-1]
			if !last.GetExpireTime().AsTime().Equal(far) || last.GetState() != quotav1.GrantState_GRANT_STATE_ACTIVE {
				t.Errorf("the grant = %v, want ACTIVE until %s", last, far)
			}
		}},
		{name: "SetWorkspace starting at the end of year 9999", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: "far", RequestId: "far-ws", SubscriptionStart: timestamppb.New(far)})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			if _, err := h.c.admin.SetSeat(h.ctx(t, ""), &quotav1.SetSeatRequest{WorkspaceId: "far", MemberId: "x", RequestId: "far-seat", Seat: quotav1.Seat_SEAT_PRO}); err != nil {
				t.Fatal(err)
			}
			if b := h.balance(t, "far", "x"); b.GetAvailable() != 8_000*credit {
				t.Errorf("a Pro seat in far has %d available, want 8,000 credits", b.GetAvailable())
			}
			h.periodHolds(t, "far")
		}},
		{name: "SetWorkspace starting at the Unix epoch", call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: "epoch", RequestId: "epoch-ws", SubscriptionStart: timestamppb.New(quota.MinTime)})
			return err
		}, accepted: func(t *testing.T, h *hostile) { h.periodHolds(t, "epoch") }},
		{name: "SetPricing names that are unicode and NUL, rates of 10^12", call: func(ctx context.Context, h *hostile) error {
			p := h.defaultPricing()
			p.Models = append(p.Models, &quotav1.ModelPrice{Model: unicodeModel, InputRate: quota.MaxRate, OutputRate: quota.MaxRate,
				CacheReadRate: quota.MaxRate, CacheWriteRate: quota.MaxRate})
			p.Tools = append(p.Tools, &quotav1.ToolPrice{Tool: unicodeTool, Tier: quotav1.ToolTier_TOOL_TIER_FREE})
			p.FallbackModel = ""
			_, err := h.c.admin.SetPricing(ctx, &quotav1.SetPricingRequest{RequestId: "unicode-pricing", Pricing: p})
			return err
		}, accepted: func(t *testing.T, h *hostile) {
			p, err := h.c.admin.GetPricing(h.ctx(t, ""), &quotav1.GetPricingRequest{Version: proto.Int64(1)})
			if err != nil {
				t.Fatal(err)
			}
			ms, ts := p.GetPricing().GetModels(), p.GetPricing().GetTools()
			if m := ms[len(ms)-1]; m.GetModel() != unicodeModel || m.GetCacheWriteRate() != quota.MaxRate || p.GetPricing().GetFallbackModel() != unicodeModel {
				t.Errorf("the stored table's last model %v, fallback %q; want %q at 10^12, the fallback", m, p.GetPricing().GetFallbackModel(), unicodeModel)
			}
			if tl := ts[len(ts)-1]; tl.GetTool() != unicodeTool || tl.GetTier() != quotav1.ToolTier_TOOL_TIER_FREE {
				t.Errorf("the stored table's last tool = %v, want %q FREE", tl, unicodeTool)
			}
		}},
	}...)
}
