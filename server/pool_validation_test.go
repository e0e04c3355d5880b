package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Valid pool requests, which each case breaks in one place.

func okSpenderReserve() *quotav1.ReserveRequest {
	r := okReserve()
	r.MemberId, r.SpenderId, r.Origin = "", "key:ci-bot", quotav1.Origin_ORIGIN_AUTOMATION
	return r
}

func okSetWorkspacePolicy() *quotav1.SetWorkspacePolicyRequest {
	return &quotav1.SetWorkspacePolicyRequest{WorkspaceId: "ws-1", RequestId: "req-1", Policy: &quotav1.WorkspacePolicy{
		DefaultMemberPoolCap: proto.Int64(1_000 * quota.Credit),
		OverageEnabled:       true,
		OverageCap:           5_000 * quota.Credit,
		ProgrammaticCap:      proto.Int64(2_000 * quota.Credit),
	}}
}

func okSetMemberPoolCap() *quotav1.SetMemberPoolCapRequest {
	return &quotav1.SetMemberPoolCapRequest{WorkspaceId: "ws-1", MemberId: "m-1", RequestId: "req-1", PoolCap: proto.Int64(quota.Credit)}
}

func okAddPoolGrant() *quotav1.AddPoolGrantRequest {
	return &quotav1.AddPoolGrantRequest{
		WorkspaceId: "ws-1", RequestId: "req-1",
		Kind: quotav1.GrantKind_GRANT_KIND_COMMITMENT, Amount: 100_000 * quota.Credit,
		StartTime:  timestamppb.New(testNow),
		ExpireTime: timestamppb.New(testNow.AddDate(0, 6, 0)),
		Priority:   10,
	}
}

func okVoidPoolGrant() *quotav1.VoidPoolGrantRequest {
	return &quotav1.VoidPoolGrantRequest{WorkspaceId: "ws-1", GrantId: "g-1", RequestId: "req-1"}
}

// call returns a case's call: send sends edit's change of ok.
func call[M proto.Message](ok func() M, edit func(M), send func(context.Context, *env, M) error) func(context.Context, *env) error {
	return func(ctx context.Context, e *env) error { return send(ctx, e, with(ok(), edit)) }
}

// idsOf returns the id cases of each field, set on ok's request by set.
func idsOf[M proto.Message](rpc string, ok func() M, send func(context.Context, *env, M) error, fields map[string]func(M, string)) []badInputCase {
	var cs []badInputCase
	for field, set := range fields {
		cs = append(cs, idCases(rpc, field, func(ctx context.Context, e *env, id string) error {
			return call(ok, func(m M) { set(m, id) }, send)(ctx, e)
		})...)
	}
	return cs
}

func TestPoolBadInputIsRejectedBeforeTheStore(t *testing.T) {
	var cases []badInputCase
	add := func(cs ...badInputCase) { cases = append(cases, cs...) }

	// QuotaService.Reserve for a programmatic spender.
	reserve := func(ctx context.Context, e *env, r *quotav1.ReserveRequest) error {
		_, err := e.quota.Reserve(ctx, r)
		return err
	}
	add(idsOf("Reserve", okSpenderReserve, reserve, map[string]func(*quotav1.ReserveRequest, string){
		"spender_id": func(r *quotav1.ReserveRequest, id string) { r.SpenderId = id },
	})...)
	add(
		badInputCase{"Reserve rejects both member_id and spender_id",
			call(okSpenderReserve, func(r *quotav1.ReserveRequest) { r.MemberId = "m-1" }, reserve),
			wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"}},
		badInputCase{"Reserve rejects both member_id and a bad spender_id",
			call(okSpenderReserve, func(r *quotav1.ReserveRequest) { r.MemberId, r.SpenderId = "m-1", "a b" }, reserve),
			wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"}},
		badInputCase{"Reserve rejects neither member_id nor spender_id",
			call(okSpenderReserve, func(r *quotav1.ReserveRequest) { r.SpenderId = "" }, reserve),
			wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}},
		badInputCase{"Reserve for a spender rejects a negative amount",
			call(okSpenderReserve, func(r *quotav1.ReserveRequest) { r.Amount = -1 }, reserve), invalid("amount")},
	)

	// AdminService.SetWorkspacePolicy.
	setPolicy := func(ctx context.Context, e *env, r *quotav1.SetWorkspacePolicyRequest) error {
		_, err := e.admin.SetWorkspacePolicy(ctx, r)
		return err
	}
	add(idsOf("SetWorkspacePolicy", okSetWorkspacePolicy, setPolicy, map[string]func(*quotav1.SetWorkspacePolicyRequest, string){
		"workspace_id": func(r *quotav1.SetWorkspacePolicyRequest, id string) { r.WorkspaceId = id },
		"request_id":   func(r *quotav1.SetWorkspacePolicyRequest, id string) { r.RequestId = id },
	})...)
	policy := func(name string, edit func(*quotav1.WorkspacePolicy), field string) badInputCase {
		return badInputCase{"SetWorkspacePolicy rejects " + name,
			call(okSetWorkspacePolicy, func(r *quotav1.SetWorkspacePolicyRequest) { edit(r.Policy) }, setPolicy), invalid(field)}
	}
	add(
		badInputCase{"SetWorkspacePolicy rejects a missing policy",
			call(okSetWorkspacePolicy, func(r *quotav1.SetWorkspacePolicyRequest) { r.Policy = nil }, setPolicy), invalid("policy")},
		policy("a negative default_member_pool_cap", func(p *quotav1.WorkspacePolicy) { p.DefaultMemberPoolCap = proto.Int64(-1) }, "policy.default_member_pool_cap"),
		policy("a default_member_pool_cap above MaxAmount", func(p *quotav1.WorkspacePolicy) { p.DefaultMemberPoolCap = proto.Int64(quota.MaxAmount + 1) }, "policy.default_member_pool_cap"),
		policy("a negative overage_cap", func(p *quotav1.WorkspacePolicy) { p.OverageCap = -1 }, "policy.overage_cap"),
		policy("an overage_cap above MaxAmount", func(p *quotav1.WorkspacePolicy) { p.OverageCap = quota.MaxAmount + 1 }, "policy.overage_cap"),
		policy("a negative programmatic_cap", func(p *quotav1.WorkspacePolicy) { p.ProgrammaticCap = proto.Int64(-1) }, "policy.programmatic_cap"),
		policy("a programmatic_cap above MaxAmount", func(p *quotav1.WorkspacePolicy) { p.ProgrammaticCap = proto.Int64(quota.MaxAmount + 1) }, "policy.programmatic_cap"),
	)

	// AdminService.SetMemberPoolCap.
	setCap := func(ctx context.Context, e *env, r *quotav1.SetMemberPoolCapRequest) error {
		_, err := e.admin.SetMemberPoolCap(ctx, r)
		return err
	}
	add(idsOf("SetMemberPoolCap", okSetMemberPoolCap, setCap, map[string]func(*quotav1.SetMemberPoolCapRequest, string){
		"workspace_id": func(r *quotav1.SetMemberPoolCapRequest, id string) { r.WorkspaceId = id },
		"member_id":    func(r *quotav1.SetMemberPoolCapRequest, id string) { r.MemberId = id },
		"request_id":   func(r *quotav1.SetMemberPoolCapRequest, id string) { r.RequestId = id },
	})...)
	add(
		badInputCase{"SetMemberPoolCap rejects a negative pool_cap",
			call(okSetMemberPoolCap, func(r *quotav1.SetMemberPoolCapRequest) { r.PoolCap = proto.Int64(-1) }, setCap), invalid("pool_cap")},
		badInputCase{"SetMemberPoolCap rejects a pool_cap above MaxAmount",
			call(okSetMemberPoolCap, func(r *quotav1.SetMemberPoolCapRequest) { r.PoolCap = proto.Int64(quota.MaxAmount + 1) }, setCap), invalid("pool_cap")},
		badInputCase{"SetMemberPoolCap rejects pool_cap with unlimited",
			call(okSetMemberPoolCap, func(r *quotav1.SetMemberPoolCapRequest) { r.Unlimited = true }, setCap), invalid("pool_cap")},
		badInputCase{"SetMemberPoolCap rejects a pool_cap of 0 with unlimited",
			call(okSetMemberPoolCap, func(r *quotav1.SetMemberPoolCapRequest) { r.PoolCap, r.Unlimited = proto.Int64(0), true }, setCap), invalid("pool_cap")},
	)

	// AdminService.AddPoolGrant.
	addGrant := func(ctx context.Context, e *env, r *quotav1.AddPoolGrantRequest) error {
		_, err := e.admin.AddPoolGrant(ctx, r)
		return err
	}
	add(idsOf("AddPoolGrant", okAddPoolGrant, addGrant, map[string]func(*quotav1.AddPoolGrantRequest, string){
		"workspace_id": func(r *quotav1.AddPoolGrantRequest, id string) { r.WorkspaceId = id },
		"request_id":   func(r *quotav1.AddPoolGrantRequest, id string) { r.RequestId = id },
	})...)
	grant := func(name string, edit func(*quotav1.AddPoolGrantRequest), field string) badInputCase {
		return badInputCase{"AddPoolGrant rejects " + name, call(okAddPoolGrant, edit, addGrant), invalid(field)}
	}
	add(
		grant("an unspecified kind", func(r *quotav1.AddPoolGrantRequest) { r.Kind = quotav1.GrantKind_GRANT_KIND_UNSPECIFIED }, "kind"),
		grant("unknown kind 99", func(r *quotav1.AddPoolGrantRequest) { r.Kind = 99 }, "kind"),
		grant("a zero amount", func(r *quotav1.AddPoolGrantRequest) { r.Amount = 0 }, "amount"),
		grant("a negative amount", func(r *quotav1.AddPoolGrantRequest) { r.Amount = -1 }, "amount"),
		grant("an amount above MaxAmount", func(r *quotav1.AddPoolGrantRequest) { r.Amount = quota.MaxAmount + 1 }, "amount"),
		grant("a commitment without expire_time", func(r *quotav1.AddPoolGrantRequest) { r.ExpireTime = nil }, "expire_time"),
		grant("an expire_time before start_time", func(r *quotav1.AddPoolGrantRequest) {
			r.ExpireTime = timestamppb.New(testNow.Add(-time.Hour))
		}, "expire_time"),
		grant("an expire_time equal to start_time", func(r *quotav1.AddPoolGrantRequest) { r.ExpireTime = r.StartTime }, "expire_time"),
		grant("a top-up expiring before its default start (now)", func(r *quotav1.AddPoolGrantRequest) {
			r.Kind, r.StartTime, r.ExpireTime = quotav1.GrantKind_GRANT_KIND_TOP_UP, nil, timestamppb.New(testNow.Add(-time.Second))
		}, "expire_time"),
		grant("an invalid start_time", func(r *quotav1.AddPoolGrantRequest) { r.StartTime.Nanos = 1_000_000_000 }, "start_time"),
		grant("an invalid expire_time", func(r *quotav1.AddPoolGrantRequest) { r.ExpireTime.Seconds = 1 << 40 }, "expire_time"),
		grant("a priority above MaxPriority", func(r *quotav1.AddPoolGrantRequest) { r.Priority = quota.MaxPriority + 1 }, "priority"),
		grant("a priority below -MaxPriority", func(r *quotav1.AddPoolGrantRequest) { r.Priority = -quota.MaxPriority - 1 }, "priority"),
	)

	// AdminService.VoidPoolGrant.
	voidGrant := func(ctx context.Context, e *env, r *quotav1.VoidPoolGrantRequest) error {
		_, err := e.admin.VoidPoolGrant(ctx, r)
		return err
	}
	add(idsOf("VoidPoolGrant", okVoidPoolGrant, voidGrant, map[string]func(*quotav1.VoidPoolGrantRequest, string){
		"workspace_id": func(r *quotav1.VoidPoolGrantRequest, id string) { r.WorkspaceId = id },
		"grant_id":     func(r *quotav1.VoidPoolGrantRequest, id string) { r.GrantId = id },
		"request_id":   func(r *quotav1.VoidPoolGrantRequest, id string) { r.RequestId = id },
	})...)

	// AdminService.ListPoolGrants.
	okList := func() *quotav1.ListPoolGrantsRequest { return &quotav1.ListPoolGrantsRequest{WorkspaceId: "ws-1"} }
	list := func(ctx context.Context, e *env, r *quotav1.ListPoolGrantsRequest) error {
		_, err := e.admin.ListPoolGrants(ctx, r)
		return err
	}
	add(idsOf("ListPoolGrants", okList, list, map[string]func(*quotav1.ListPoolGrantsRequest, string){
		"workspace_id": func(r *quotav1.ListPoolGrantsRequest, id string) { r.WorkspaceId = id },
	})...)
	for _, tok := range []string{"abc", "0", "-3", "1.5", "99999999999999999999"} {
		add(badInputCase{"ListPoolGrants rejects page_token " + tok,
			call(okList, func(r *quotav1.ListPoolGrantsRequest) { r.PageToken = tok }, list), invalid("page_token")})
	}
	add(badInputCase{"ListPoolGrants rejects a negative page_size",
		call(okList, func(r *quotav1.ListPoolGrantsRequest) { r.PageSize = -1 }, list), invalid("page_size")})

	// AdminService.GetWorkspaceBalance.
	okBalance := func() *quotav1.GetWorkspaceBalanceRequest {
		return &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: "ws-1"}
	}
	add(idsOf("GetWorkspaceBalance", okBalance, func(ctx context.Context, e *env, r *quotav1.GetWorkspaceBalanceRequest) error {
		_, err := e.admin.GetWorkspaceBalance(ctx, r)
		return err
	}, map[string]func(*quotav1.GetWorkspaceBalanceRequest, string){
		"workspace_id": func(r *quotav1.GetWorkspaceBalanceRequest, id string) { r.WorkspaceId = id },
	})...)

	runBadInput(t, cases)
}

func TestMemberRequiredSaysWhatIsMissing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := testCtx(t)
	_, err := e.quota.Reserve(ctx, with(okReserve(), func(r *quotav1.ReserveRequest) { r.MemberId = "" }))
	checkStatus(t, err, wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"})
	if st, d := detailsOf(t, err); st.Message() != d.bad.GetFieldViolations()[0].GetDescription() ||
		st.Message() != "member_id or spender_id is required: a run is charged to a member, or, for programmatic usage, to an API key or trigger id" {
		t.Errorf("Reserve: message %q, BadRequest %q; want both to ask for member_id or spender_id", st.Message(), d.bad)
	}
	_, err = e.admin.SetSeat(ctx, with(okSetSeat(), func(r *quotav1.SetSeatRequest) { r.MemberId = "" }))
	checkStatus(t, err, wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"})
	if st, _ := detailsOf(t, err); st.Message() != "member_id is required" {
		t.Errorf("SetSeat: message %q, want %q", st.Message(), "member_id is required")
	}
}
