package server

import (
	"context"
	"fmt"
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

// badInputCase is a request the server must reject without touching the
// store.
type badInputCase struct {
	name string
	call func(context.Context, *env) error
	want wantStatus
}

// Valid requests, which each case breaks in one place.

func okReserve() *quotav1.ReserveRequest {
	return &quotav1.ReserveRequest{
		WorkspaceId: "ws-1", MemberId: "user@example.com", RequestId: "req-1",
		Amount: 10 * quota.Credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	}
}

func okExtend() *quotav1.ExtendRequest {
	return &quotav1.ExtendRequest{WorkspaceId: "ws-1", ReservationId: testResID, RequestId: "req-1", AddAmount: quota.Credit}
}

func okCommit() *quotav1.CommitRequest {
	return &quotav1.CommitRequest{WorkspaceId: "ws-1", ReservationId: testResID, RequestId: "req-1", Usage: okUsage()}
}

func okRefund() *quotav1.RefundRequest {
	return &quotav1.RefundRequest{WorkspaceId: "ws-1", ReservationId: testResID, RequestId: "req-1"}
}

func okSetWorkspace() *quotav1.SetWorkspaceRequest {
	return &quotav1.SetWorkspaceRequest{WorkspaceId: "ws-1", RequestId: "req-1", SubscriptionStart: timestamppb.New(testNow)}
}

func okSetSeat() *quotav1.SetSeatRequest {
	return &quotav1.SetSeatRequest{WorkspaceId: "ws-1", MemberId: "m-1", RequestId: "req-1", Seat: quotav1.Seat_SEAT_PRO}
}

func okSetPricing() *quotav1.SetPricingRequest {
	t := quota.DefaultPriceTable()
	return &quotav1.SetPricingRequest{RequestId: "req-1", Pricing: priceTableToProto(&t)}
}

// okUsage is a main agent with two sub-agents, each with two model lines
// and an action.
func okUsage() *quotav1.AgentRun {
	node := func(id string) *quotav1.AgentRun {
		return &quotav1.AgentRun{
			AgentId: id,
			Models: []*quotav1.ModelUsage{
				{Model: "claude-sonnet-4-5", InputTokens: 1000, OutputTokens: 200},
				{Model: "gpt-5-mini", InputTokens: 10, CacheReadTokens: 5},
			},
			Actions: []*quotav1.ToolAction{{Tool: "web_search", Tier: quotav1.ToolTier_TOOL_TIER_BASIC}},
		}
	}
	root := node("main")
	root.SubAgents = []*quotav1.AgentRun{node("sub-0"), node("sub-1")}
	return root
}

// with returns a copy of m changed by edit.
func with[M proto.Message](m M, edit func(M)) M {
	c := proto.Clone(m).(M)
	edit(c)
	return c
}

// badIDs are the ways an id can be wrong, named for the test.
var badIDs = []struct{ name, id string }{
	{"empty", ""},
	{"oversized", strings.Repeat("a", quota.MaxIDLen+1)},
	{"with a brace", "ws-{1}"},
	{"with a space", "a b"},
	{"with non-ASCII", "caf\u00e9"},
}

// idCases returns a case per bad id for field, set on a request by call.
func idCases(rpc, field string, call func(ctx context.Context, e *env, id string) error) []badInputCase {
	var cs []badInputCase
	for _, b := range badIDs {
		want := invalid(field)
		if (field == "member_id" || field == "spender_id") && b.id == "" {
			want = wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}
		}
		cs = append(cs, badInputCase{
			name: fmt.Sprintf("%s rejects %s %s", rpc, b.name, field),
			call: func(ctx context.Context, e *env) error { return call(ctx, e, b.id) },
			want: want,
		})
	}
	return cs
}

// deepChain is a chain of depth nodes, each the only sub-agent of the one
// before.
func deepChain(depth int) *quotav1.AgentRun {
	root := &quotav1.AgentRun{AgentId: "a0"}
	n := root
	for i := 1; i < depth; i++ {
		sub := &quotav1.AgentRun{AgentId: fmt.Sprintf("a%d", i)}
		n.SubAgents = []*quotav1.AgentRun{sub}
		n = sub
	}
	return root
}

// wideChain is a main agent with subs sub-agents.
func wideChain(subs int) *quotav1.AgentRun {
	root := &quotav1.AgentRun{AgentId: "main"}
	for i := range subs {
		root.SubAgents = append(root.SubAgents, &quotav1.AgentRun{AgentId: fmt.Sprintf("s%d", i)})
	}
	return root
}

// usageCases returns the cases of a bad agent chain, sent by call.
func usageCases(rpc string, call func(ctx context.Context, e *env, u *quotav1.AgentRun) error) []badInputCase {
	cases := []struct {
		name   string
		edit   func(*quotav1.AgentRun)
		field  string
		reason string // "" for INVALID_FIELD
	}{
		{"negative nested input_tokens", func(u *quotav1.AgentRun) { u.SubAgents[0].Models[1].InputTokens = -1 }, "usage.sub_agents[0].models[1].input_tokens", ""},
		{"output_tokens above MaxTokens", func(u *quotav1.AgentRun) { u.Models[0].OutputTokens = quota.MaxTokens + 1 }, "usage.models[0].output_tokens", ""},
		{"cache_write_tokens above MaxTokens", func(u *quotav1.AgentRun) { u.SubAgents[1].Models[0].CacheWriteTokens = quota.MaxTokens + 1 }, "usage.sub_agents[1].models[0].cache_write_tokens", ""},
		{"unknown tier 99", func(u *quotav1.AgentRun) { u.SubAgents[1].Actions[0].Tier = 99 }, "usage.sub_agents[1].actions[0].tier", ""},
		{"missing agent_id", func(u *quotav1.AgentRun) { u.SubAgents[0].AgentId = "" }, "usage.sub_agents[0].agent_id", ""},
		{"a chain deeper than MaxDepth", func(u *quotav1.AgentRun) { proto.Reset(u); proto.Merge(u, deepChain(quota.MaxDepth+1)) }, "usage", "LIMIT_EXCEEDED"},
		{"a chain of more than MaxNodes", func(u *quotav1.AgentRun) { proto.Reset(u); proto.Merge(u, wideChain(quota.MaxNodes)) }, "usage", "LIMIT_EXCEEDED"},
	}
	var cs []badInputCase
	for _, c := range cases {
		u := with(okUsage(), c.edit)
		want := invalid(c.field)
		if c.reason != "" {
			want.reason = c.reason
		}
		cs = append(cs, badInputCase{
			name: rpc + " rejects " + c.name,
			call: func(ctx context.Context, e *env) error { return call(ctx, e, u) },
			want: want,
		})
	}
	return cs
}

// ttlCases returns the cases of a bad ttl, sent by call.
func ttlCases(rpc string, call func(ctx context.Context, e *env, d *durationpb.Duration) error) []badInputCase {
	cases := []struct {
		name string
		ttl  *durationpb.Duration
	}{
		{"a negative ttl", durationpb.New(-5 * time.Second)},
		{"a ttl with nanos out of range", &durationpb.Duration{Seconds: 1, Nanos: 2_000_000_000}},
		{"a ttl with mixed signs", &durationpb.Duration{Seconds: 2, Nanos: -1}},
		{"a ttl below 1s", durationpb.New(500 * time.Millisecond)},
		{"a ttl above 24h", durationpb.New(24*time.Hour + time.Second)},
	}
	var cs []badInputCase
	for _, c := range cases {
		cs = append(cs, badInputCase{
			name: rpc + " rejects " + c.name,
			call: func(ctx context.Context, e *env) error { return call(ctx, e, c.ttl) },
			want: invalid("ttl"),
		})
	}
	return cs
}

func TestBadInputIsRejectedBeforeTheStore(t *testing.T) {
	var cases []badInputCase
	add := func(cs ...badInputCase) { cases = append(cases, cs...) }

	// QuotaService.Reserve.
	reserve := func(edit func(*quotav1.ReserveRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.Reserve(ctx, with(okReserve(), edit))
			return err
		}
	}
	add(idCases("Reserve", "workspace_id", func(ctx context.Context, e *env, id string) error {
		return reserve(func(r *quotav1.ReserveRequest) { r.WorkspaceId = id })(ctx, e)
	})...)
	add(idCases("Reserve", "member_id", func(ctx context.Context, e *env, id string) error {
		return reserve(func(r *quotav1.ReserveRequest) { r.MemberId = id })(ctx, e)
	})...)
	add(idCases("Reserve", "request_id", func(ctx context.Context, e *env, id string) error {
		return reserve(func(r *quotav1.ReserveRequest) { r.RequestId = id })(ctx, e)
	})...)
	add(ttlCases("Reserve", func(ctx context.Context, e *env, d *durationpb.Duration) error {
		return reserve(func(r *quotav1.ReserveRequest) { r.Ttl = d })(ctx, e)
	})...)
	add(
		badInputCase{"Reserve rejects a zero amount", reserve(func(r *quotav1.ReserveRequest) { r.Amount = 0 }), invalid("amount")},
		badInputCase{"Reserve rejects a negative amount", reserve(func(r *quotav1.ReserveRequest) { r.Amount = -1 }), invalid("amount")},
		badInputCase{"Reserve rejects an amount above MaxAmount", reserve(func(r *quotav1.ReserveRequest) { r.Amount = quota.MaxAmount + 1 }), invalid("amount")},
		badInputCase{"Reserve rejects a negative min_amount", reserve(func(r *quotav1.ReserveRequest) { r.MinAmount = -1 }), invalid("min_amount")},
		badInputCase{"Reserve rejects a min_amount above MaxAmount", reserve(func(r *quotav1.ReserveRequest) { r.MinAmount = quota.MaxAmount + 1 }), invalid("min_amount")},
		badInputCase{"Reserve rejects a min_amount above amount", reserve(func(r *quotav1.ReserveRequest) { r.MinAmount = r.Amount + 1 }), invalid("min_amount")},
		badInputCase{"Reserve rejects an unspecified origin", reserve(func(r *quotav1.ReserveRequest) { r.Origin = quotav1.Origin_ORIGIN_UNSPECIFIED }), invalid("origin")},
		badInputCase{"Reserve rejects unknown origin 99", reserve(func(r *quotav1.ReserveRequest) { r.Origin = 99 }), invalid("origin")},
	)

	// QuotaService.Extend.
	extend := func(edit func(*quotav1.ExtendRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.Extend(ctx, with(okExtend(), edit))
			return err
		}
	}
	add(idCases("Extend", "workspace_id", func(ctx context.Context, e *env, id string) error {
		return extend(func(r *quotav1.ExtendRequest) { r.WorkspaceId = id })(ctx, e)
	})...)
	add(idCases("Extend", "reservation_id", func(ctx context.Context, e *env, id string) error {
		return extend(func(r *quotav1.ExtendRequest) { r.ReservationId = id })(ctx, e)
	})...)
	add(idCases("Extend", "request_id", func(ctx context.Context, e *env, id string) error {
		return extend(func(r *quotav1.ExtendRequest) { r.RequestId = id })(ctx, e)
	})...)
	add(ttlCases("Extend", func(ctx context.Context, e *env, d *durationpb.Duration) error {
		return extend(func(r *quotav1.ExtendRequest) { r.Ttl = d })(ctx, e)
	})...)
	add(
		badInputCase{"Extend rejects a negative add_amount", extend(func(r *quotav1.ExtendRequest) { r.AddAmount = -1 }), invalid("add_amount")},
		badInputCase{"Extend rejects an add_amount above MaxAmount", extend(func(r *quotav1.ExtendRequest) { r.AddAmount = quota.MaxAmount + 1 }), invalid("add_amount")},
		badInputCase{"Extend rejects neither add_amount nor ttl", extend(func(r *quotav1.ExtendRequest) { r.AddAmount = 0 }), invalid("add_amount")},
	)

	// QuotaService.Commit.
	commit := func(edit func(*quotav1.CommitRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.Commit(ctx, with(okCommit(), edit))
			return err
		}
	}
	add(idCases("Commit", "workspace_id", func(ctx context.Context, e *env, id string) error {
		return commit(func(r *quotav1.CommitRequest) { r.WorkspaceId = id })(ctx, e)
	})...)
	add(idCases("Commit", "reservation_id", func(ctx context.Context, e *env, id string) error {
		return commit(func(r *quotav1.CommitRequest) { r.ReservationId = id })(ctx, e)
	})...)
	add(idCases("Commit", "request_id", func(ctx context.Context, e *env, id string) error {
		return commit(func(r *quotav1.CommitRequest) { r.RequestId = id })(ctx, e)
	})...)
	add(usageCases("Commit", func(ctx context.Context, e *env, u *quotav1.AgentRun) error {
		return commit(func(r *quotav1.CommitRequest) { r.Usage = u })(ctx, e)
	})...)
	add(badInputCase{"Commit rejects a missing usage", commit(func(r *quotav1.CommitRequest) { r.Usage = nil }), invalid("usage.agent_id")})

	// QuotaService.Refund.
	refund := func(edit func(*quotav1.RefundRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.Refund(ctx, with(okRefund(), edit))
			return err
		}
	}
	add(idCases("Refund", "workspace_id", func(ctx context.Context, e *env, id string) error {
		return refund(func(r *quotav1.RefundRequest) { r.WorkspaceId = id })(ctx, e)
	})...)
	add(idCases("Refund", "reservation_id", func(ctx context.Context, e *env, id string) error {
		return refund(func(r *quotav1.RefundRequest) { r.ReservationId = id })(ctx, e)
	})...)
	add(idCases("Refund", "request_id", func(ctx context.Context, e *env, id string) error {
		return refund(func(r *quotav1.RefundRequest) { r.RequestId = id })(ctx, e)
	})...)

	// QuotaService reads.
	add(idCases("GetReservation", "workspace_id", func(ctx context.Context, e *env, id string) error {
		_, err := e.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: id, ReservationId: testResID})
		return err
	})...)
	add(idCases("GetReservation", "reservation_id", func(ctx context.Context, e *env, id string) error {
		_, err := e.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: "ws-1", ReservationId: id})
		return err
	})...)
	add(idCases("GetBalance", "workspace_id", func(ctx context.Context, e *env, id string) error {
		_, err := e.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: id, MemberId: "m-1"})
		return err
	})...)
	add(idCases("GetBalance", "member_id", func(ctx context.Context, e *env, id string) error {
		_, err := e.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: "ws-1", MemberId: id})
		return err
	})...)

	// QuotaService.EstimateCost.
	estimate := func(origin quotav1.Origin, u *quotav1.AgentRun) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.quota.EstimateCost(ctx, &quotav1.EstimateCostRequest{Origin: origin, Usage: u})
			return err
		}
	}
	add(
		badInputCase{"EstimateCost rejects an unspecified origin", estimate(quotav1.Origin_ORIGIN_UNSPECIFIED, okUsage()), invalid("origin")},
		badInputCase{"EstimateCost rejects unknown origin 99", estimate(99, okUsage()), invalid("origin")},
	)
	add(usageCases("EstimateCost", func(ctx context.Context, e *env, u *quotav1.AgentRun) error {
		return estimate(quotav1.Origin_ORIGIN_AUTOMATION, u)(ctx, e)
	})...)

	// AdminService.SetWorkspace and GetWorkspace.
	setWorkspace := func(edit func(*quotav1.SetWorkspaceRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.admin.SetWorkspace(ctx, with(okSetWorkspace(), edit))
			return err
		}
	}
	add(idCases("SetWorkspace", "workspace_id", func(ctx context.Context, e *env, id string) error {
		return setWorkspace(func(r *quotav1.SetWorkspaceRequest) { r.WorkspaceId = id })(ctx, e)
	})...)
	add(idCases("SetWorkspace", "request_id", func(ctx context.Context, e *env, id string) error {
		return setWorkspace(func(r *quotav1.SetWorkspaceRequest) { r.RequestId = id })(ctx, e)
	})...)
	add(
		badInputCase{"SetWorkspace rejects a missing subscription_start",
			setWorkspace(func(r *quotav1.SetWorkspaceRequest) { r.SubscriptionStart = nil }), invalid("subscription_start")},
		badInputCase{"SetWorkspace rejects an invalid subscription_start",
			setWorkspace(func(r *quotav1.SetWorkspaceRequest) { r.SubscriptionStart.Nanos = 1_000_000_000 }), invalid("subscription_start")},
	)
	add(idCases("GetWorkspace", "workspace_id", func(ctx context.Context, e *env, id string) error {
		_, err := e.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: id})
		return err
	})...)

	// AdminService.SetSeat.
	setSeat := func(edit func(*quotav1.SetSeatRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.admin.SetSeat(ctx, with(okSetSeat(), edit))
			return err
		}
	}
	add(idCases("SetSeat", "workspace_id", func(ctx context.Context, e *env, id string) error {
		return setSeat(func(r *quotav1.SetSeatRequest) { r.WorkspaceId = id })(ctx, e)
	})...)
	add(idCases("SetSeat", "member_id", func(ctx context.Context, e *env, id string) error {
		return setSeat(func(r *quotav1.SetSeatRequest) { r.MemberId = id })(ctx, e)
	})...)
	add(idCases("SetSeat", "request_id", func(ctx context.Context, e *env, id string) error {
		return setSeat(func(r *quotav1.SetSeatRequest) { r.RequestId = id })(ctx, e)
	})...)
	add(
		badInputCase{"SetSeat rejects an unspecified seat", setSeat(func(r *quotav1.SetSeatRequest) { r.Seat = quotav1.Seat_SEAT_UNSPECIFIED }), invalid("seat")},
		badInputCase{"SetSeat rejects unknown seat 99", setSeat(func(r *quotav1.SetSeatRequest) { r.Seat = 99 }), invalid("seat")},
	)

	// AdminService.SetPricing.
	setPricing := func(edit func(*quotav1.SetPricingRequest)) func(context.Context, *env) error {
		return func(ctx context.Context, e *env) error {
			_, err := e.admin.SetPricing(ctx, with(okSetPricing(), edit))
			return err
		}
	}
	add(idCases("SetPricing", "request_id", func(ctx context.Context, e *env, id string) error {
		return setPricing(func(r *quotav1.SetPricingRequest) { r.RequestId = id })(ctx, e)
	})...)
	add(
		badInputCase{"SetPricing rejects a missing table",
			setPricing(func(r *quotav1.SetPricingRequest) { r.Pricing = nil }), invalid("pricing.models")},
		badInputCase{"SetPricing rejects a negative rate",
			setPricing(func(r *quotav1.SetPricingRequest) { r.Pricing.Models[0].InputRate = -1 }), invalid("pricing.models[0].input_rate")},
		badInputCase{"SetPricing rejects a rate above MaxRate",
			setPricing(func(r *quotav1.SetPricingRequest) { r.Pricing.Models[2].CacheWriteRate = quota.MaxRate + 1 }), invalid("pricing.models[2].cache_write_rate")},
		badInputCase{"SetPricing rejects an unknown fallback_model",
			setPricing(func(r *quotav1.SetPricingRequest) { r.Pricing.FallbackModel = "gpt-99" }), invalid("pricing.fallback_model")},
		badInputCase{"SetPricing rejects unknown tool tier 99",
			setPricing(func(r *quotav1.SetPricingRequest) { r.Pricing.Tools[1].Tier = 99 }), invalid("pricing.tools[1].tier")},
		badInputCase{"SetPricing rejects an unspecified tool tier",
			setPricing(func(r *quotav1.SetPricingRequest) { r.Pricing.Tools[1].Tier = quotav1.ToolTier_TOOL_TIER_UNSPECIFIED }), invalid("pricing.tools[1].tier")},
	)

	runBadInput(t, cases)
}

// runBadInput runs each case on a fresh server, checking its error and
// that the store was never called.
func runBadInput(t *testing.T, cases []badInputCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			checkStatus(t, tc.call(testCtx(t), e), tc.want)
			if calls := e.store.Calls(); len(calls) != 0 {
				t.Errorf("the store was called: %v", calls)
			}
		})
	}
}

func TestIDsOfMaxLenWithEveryAllowedCharacterAreAccepted(t *testing.T) {
	id := strings.Repeat("aZ09._:@-", quota.MaxIDLen)[:quota.MaxIDLen]
	var got quota.ReserveOp
	e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
		got = op
		return quota.Outcome{}, nil
	}})
	req := okReserve()
	req.WorkspaceId, req.MemberId, req.RequestId = id, id, id
	if _, err := e.quota.Reserve(testCtx(t), req); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if got.WorkspaceID != id || got.MemberID != id || got.RequestID != id {
		t.Errorf("store got workspace %q, member %q, request %q; want %q for each", got.WorkspaceID, got.MemberID, got.RequestID, id)
	}
}

// TestBadIDCharacterIsNamed checks that the message of an id with a
// character outside the id rule names the character, not its first byte.
func TestBadIDCharacterIsNamed(t *testing.T) {
	for id, want := range map[string]string{
		"café": `got 'é' at byte 3`, "a b": `got ' ' at byte 1`, "a\x00": `got '\x00' at byte 1`,
		"数据": `got '数' at byte 0`, "w\xff": `got '�' at byte 1`,
	} {
		err := checkID("workspace_id", id)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkID(%q) = %v, want it to say %s", id, err, want)
		}
	}
}
