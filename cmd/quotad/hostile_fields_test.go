package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Rows of unknown enums, missing fields, absurd TTLs and rates, and caps,
// grants, times and pages out of bounds.

// enumAndMissingRows: unknown enum values and missing required fields.
func enumAndMissingRows() []hostileRow {
	return []hostileRow{
		reserveRow("Reserve origin 99", invalidField("origin"), func(r *quotav1.ReserveRequest) { r.Origin = 99 }),
		reserveRow("Reserve origin -1", invalidField("origin"), func(r *quotav1.ReserveRequest) { r.Origin = -1 }),
		{name: "Reserve a child with an origin not its parent's", want: invalidField("origin"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", ParentReservationId: h.resAcme, RequestId: "row-child-origin",
				Amount: credit, Origin: quotav1.Origin_ORIGIN_SIDEKICK})
			return err
		}},
		estimateRow("EstimateCost origin 99", invalidField("origin"), 99, smallUsage),
		{name: "SetSeat seat 99", want: invalidField("seat"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "row-seat-99", Seat: 99})
			return err
		}},
		commitRow("Commit an action of tier 99", invalidField("usage.actions[0].tier"), usageWith(func(u *quotav1.AgentRun) { u.Actions[0].Tier = 99 })),
		{name: "SetPricing a tool of tier 99", want: invalidField("pricing.tools[0].tier"), call: func(ctx context.Context, h *hostile) error {
			p := h.defaultPricing()
			p.Tools[0].Tier = 99
			_, err := h.c.admin.SetPricing(ctx, &quotav1.SetPricingRequest{RequestId: "row-tier-99", Pricing: p})
			return err
		}},
		{name: "AddPoolGrant kind 99", want: invalidField("kind"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "acme", RequestId: "row-kind-99", Kind: 99, Amount: credit})
			return err
		}},
		reserveRow("Reserve without origin", invalidField("origin"), func(r *quotav1.ReserveRequest) { r.Origin = 0 }),
		reserveRow("Reserve without member or spender", hostileWant{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}, func(r *quotav1.ReserveRequest) { r.MemberId = "" }),
		reserveRow("Reserve with a member and a spender", hostileWant{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"},
			func(r *quotav1.ReserveRequest) { r.SpenderId = "key-1" }),
		{name: "SetWorkspace without subscription_start", want: invalidField("subscription_start"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: "acme", RequestId: "row-no-start"})
			return err
		}},
		{name: "SetWorkspacePolicy without policy", want: invalidField("policy"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspacePolicy(ctx, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: "acme", RequestId: "row-no-policy"})
			return err
		}},
		{name: "SetPricing without pricing", want: invalidField("pricing.models"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetPricing(ctx, &quotav1.SetPricingRequest{RequestId: "row-no-pricing"})
			return err
		}},
		{name: "AddPoolGrant without kind", want: invalidField("kind"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "acme", RequestId: "row-no-kind", Amount: credit})
			return err
		}},
		{name: "AddPoolGrant a commitment without expire_time", want: invalidField("expire_time"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "acme", RequestId: "row-no-expiry",
				Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: credit})
			return err
		}},
		commitRow("Commit without usage", invalidField("usage.agent_id"), func() *quotav1.AgentRun { return nil }),
		estimateRow("EstimateCost without origin", invalidField("origin"), 0, smallUsage),
		estimateRow("EstimateCost without usage", invalidField("usage.agent_id"), quotav1.Origin_ORIGIN_CONVERSATION, func() *quotav1.AgentRun { return nil }),
		{name: "SetSeat without seat", want: invalidField("seat"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "row-no-seat"})
			return err
		}},
		{name: "SetMemberPoolCap with a cap and unlimited", want: invalidField("pool_cap"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetMemberPoolCap(ctx, &quotav1.SetMemberPoolCapRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "row-cap-both",
				PoolCap: proto.Int64(credit), Unlimited: true})
			return err
		}},
	}
}

// ttlAndRateRows: absurd TTLs and rates.
func ttlAndRateRows() []hostileRow {
	century := 100 * 365 * 24 * time.Hour
	pricing := func(name, field string, edit func(p *quotav1.PriceTable)) hostileRow {
		return hostileRow{name: name, want: invalidField(field), call: func(ctx context.Context, h *hostile) error {
			p := h.defaultPricing()
			edit(p)
			_, err := h.c.admin.SetPricing(ctx, &quotav1.SetPricingRequest{RequestId: rowID(name), Pricing: p})
			return err
		}}
	}
	return []hostileRow{
		reserveRow("Reserve ttl negative", invalidField("ttl"), func(r *quotav1.ReserveRequest) { r.Ttl = durationpb.New(-time.Second) }),
		reserveRow("Reserve ttl 500 ms", invalidField("ttl"), func(r *quotav1.ReserveRequest) { r.Ttl = durationpb.New(500 * time.Millisecond) }),
		reserveRow("Reserve ttl 100 years", invalidField("ttl"), func(r *quotav1.ReserveRequest) { r.Ttl = durationpb.New(century) }),
		reserveRow("Reserve ttl past Duration's range", invalidField("ttl"), func(r *quotav1.ReserveRequest) { r.Ttl = &durationpb.Duration{Seconds: 315_576_000_001} }),
		reserveRow("Reserve ttl nanos out of range", invalidField("ttl"), func(r *quotav1.ReserveRequest) { r.Ttl = &durationpb.Duration{Seconds: 60, Nanos: 2_000_000_000} }),
		extendRow("Extend ttl 100 years", invalidField("ttl"), func(r *quotav1.ExtendRequest) { r.Ttl = durationpb.New(century) }),
		extendRow("Extend ttl negative", invalidField("ttl"), func(r *quotav1.ExtendRequest) { r.Ttl = durationpb.New(-time.Hour) }),
		pricing("SetPricing input_rate negative", "pricing.models[0].input_rate", func(p *quotav1.PriceTable) { p.Models[0].InputRate = -1 }),
		pricing("SetPricing output_rate 10^12+1", "pricing.models[1].output_rate", func(p *quotav1.PriceTable) { p.Models[1].OutputRate = quota.MaxRate + 1 }),
		pricing("SetPricing cache_read_rate int64 max", "pricing.models[2].cache_read_rate", func(p *quotav1.PriceTable) { p.Models[2].CacheReadRate = math.MaxInt64 }),
		pricing("SetPricing cache_write_rate int64 min", "pricing.models[0].cache_write_rate", func(p *quotav1.PriceTable) { p.Models[0].CacheWriteRate = math.MinInt64 }),
		pricing("SetPricing a model listed twice", "pricing.models[1].model", func(p *quotav1.PriceTable) { p.Models[1].Model = p.Models[0].Model }),
		pricing("SetPricing a model name of 129 bytes", "pricing.models[0].model", func(p *quotav1.PriceTable) { p.Models[0].Model = strings.Repeat("m", quota.MaxIDLen+1) }),
		pricing("SetPricing a fallback not in the table", "pricing.fallback_model", func(p *quotav1.PriceTable) { p.FallbackModel = "no-such-model" }),
		pricing("SetPricing 1,001 models", "pricing.models", func(p *quotav1.PriceTable) {
			for i := len(p.Models); i <= quota.MaxPriceEntries; i++ {
				p.Models = append(p.Models, &quotav1.ModelPrice{Model: fmt.Sprintf("m-%d", i)})
			}
		}),
		pricing("SetPricing a tool listed twice", "pricing.tools[1].tool", func(p *quotav1.PriceTable) { p.Tools[1].Tool = p.Tools[0].Tool }),
	}
}

// capGrantAndPageRows: caps, grants, timestamps, versions and pages out
// of bounds.
func capGrantAndPageRows() []hostileRow {
	policy := func(name, field string, p *quotav1.WorkspacePolicy) hostileRow {
		return hostileRow{name: name, want: invalidField(field), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspacePolicy(ctx, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: "acme", RequestId: rowID(name), Policy: p})
			return err
		}}
	}
	memberCap := func(name string, v int64) hostileRow {
		return hostileRow{name: name, want: invalidField("pool_cap"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetMemberPoolCap(ctx, &quotav1.SetMemberPoolCapRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: rowID(name), PoolCap: proto.Int64(v)})
			return err
		}}
	}
	grant := func(name, field string, edit func(g *quotav1.AddPoolGrantRequest)) hostileRow {
		return hostileRow{name: name, want: invalidField(field), call: func(ctx context.Context, h *hostile) error {
			g := &quotav1.AddPoolGrantRequest{WorkspaceId: "acme", RequestId: rowID(name), Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: credit}
			edit(g)
			_, err := h.c.admin.AddPoolGrant(ctx, g)
			return err
		}}
	}
	start := func(name string, ts *timestamppb.Timestamp) hostileRow {
		return hostileRow{name: name, want: invalidField("subscription_start"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: "acme", RequestId: rowID(name), SubscriptionStart: ts})
			return err
		}}
	}
	page := func(name, field string, call func(ctx context.Context, h *hostile) error) hostileRow {
		return hostileRow{name: name, want: invalidField(field), call: call}
	}
	grants := func(size int32, token string) func(ctx context.Context, h *hostile) error {
		return func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.ListPoolGrants(ctx, &quotav1.ListPoolGrantsRequest{WorkspaceId: "acme", PageSize: size, PageToken: token})
			return err
		}
	}
	past := timestamppb.New(time.Now().Add(-time.Hour))
	return []hostileRow{
		policy("SetWorkspacePolicy default_member_pool_cap negative", "policy.default_member_pool_cap", &quotav1.WorkspacePolicy{DefaultMemberPoolCap: proto.Int64(-1)}),
		policy("SetWorkspacePolicy overage_cap int64 max", "policy.overage_cap", &quotav1.WorkspacePolicy{OverageEnabled: true, OverageCap: math.MaxInt64}),
		policy("SetWorkspacePolicy programmatic_cap 10^15+1", "policy.programmatic_cap", &quotav1.WorkspacePolicy{ProgrammaticCap: proto.Int64(quota.MaxAmount + 1)}),
		memberCap("SetMemberPoolCap pool_cap negative", -1),
		memberCap("SetMemberPoolCap pool_cap int64 max", math.MaxInt64),
		grant("AddPoolGrant amount 0", "amount", func(g *quotav1.AddPoolGrantRequest) { g.Amount = 0 }),
		grant("AddPoolGrant amount negative", "amount", func(g *quotav1.AddPoolGrantRequest) { g.Amount = -1 }),
		grant("AddPoolGrant amount int64 max", "amount", func(g *quotav1.AddPoolGrantRequest) { g.Amount = math.MaxInt64 }),
		grant("AddPoolGrant priority 10^9+1", "priority", func(g *quotav1.AddPoolGrantRequest) { g.Priority = quota.MaxPriority + 1 }),
		grant("AddPoolGrant priority int64 min", "priority", func(g *quotav1.AddPoolGrantRequest) { g.Priority = math.MinInt64 }),
		grant("AddPoolGrant expiring in the past", "expire_time", func(g *quotav1.AddPoolGrantRequest) { g.ExpireTime = past }),
		grant("AddPoolGrant expiring before its start", "expire_time", func(g *quotav1.AddPoolGrantRequest) {
			g.StartTime, g.ExpireTime = timestamppb.New(time.Now().Add(48*time.Hour)), timestamppb.New(time.Now().Add(24*time.Hour))
		}),
		grant("AddPoolGrant starting in year 10000", "start_time", func(g *quotav1.AddPoolGrantRequest) { g.StartTime = &timestamppb.Timestamp{Seconds: 253_402_300_800} }),
		grant("AddPoolGrant expire_time nanos negative", "expire_time", func(g *quotav1.AddPoolGrantRequest) {
			g.ExpireTime = &timestamppb.Timestamp{Seconds: time.Now().Unix() + 3600, Nanos: -1}
		}),
		start("SetWorkspace starting in year 10000", &timestamppb.Timestamp{Seconds: 253_402_300_800}),
		start("SetWorkspace starting before year 1", &timestamppb.Timestamp{Seconds: -62_135_596_801}),
		start("SetWorkspace start nanos negative", &timestamppb.Timestamp{Seconds: 0, Nanos: -1}),
		// The first instant of year 1 is Go's zero time, which the domain
		// reads as unset.
		start("SetWorkspace starting at 0001-01-01T00:00:00Z", timestamppb.New(time.Time{})),
		// Before 1970 the embedded store cannot keep a time (it answered
		// INTERNAL).
		start("SetWorkspace starting one second into year 1", timestamppb.New(time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC))),
		start("SetWorkspace starting a millisecond before 1970", timestamppb.New(quota.MinTime.Add(-time.Millisecond))),
		grant("AddPoolGrant starting in 1960", "start_time", func(g *quotav1.AddPoolGrantRequest) {
			g.StartTime = timestamppb.New(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))
		}),
		page("ListPoolGrants page_size negative", "page_size", grants(-1, "")),
		page("ListPoolGrants page_token not a number", "page_token", grants(0, "abc")),
		page("ListPoolGrants page_token 0", "page_token", grants(0, "0")),
		page("ListPoolGrants page_token past int64", "page_token", grants(0, "9223372036854775808")),
		page("ListRunCosts page_token negative", "page_token", func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.ListRunCosts(ctx, &quotav1.ListRunCostsRequest{WorkspaceId: "acme", ReservationId: h.resAcme, PageToken: "-1"})
			return err
		}),
		page("ListRunCosts page_size int32 min", "page_size", func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.ListRunCosts(ctx, &quotav1.ListRunCostsRequest{WorkspaceId: "acme", ReservationId: h.resAcme, PageSize: math.MinInt32})
			return err
		}),
		page("ListPricingVersions page_token negative", "page_token", func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.ListPricingVersions(ctx, &quotav1.ListPricingVersionsRequest{PageToken: "-5"})
			return err
		}),
		page("GetPricing version negative", "version", func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.GetPricing(ctx, &quotav1.GetPricingRequest{Version: proto.Int64(-1)})
			return err
		}),
		{name: "GetPricing version int64 max", want: notFound("PRICING_VERSION_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.GetPricing(ctx, &quotav1.GetPricingRequest{Version: proto.Int64(math.MaxInt64)})
			return err
		}},
	}
}
