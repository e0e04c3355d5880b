package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// FuzzValidate fuzzes the request validation of every RPC (issue 10): the
// fuzzer's strings, numbers, enum and flags fill the fields of one RPC's
// request, which goes to its handler on a gateStore. The handler must
// not panic; it answers OK or one of edgeReasons (never INTERNAL), on a
// field of the request, never refusing a valid id; and the store sees
// only requests within the documented bounds. The seed corpus is in
// testdata/fuzz/FuzzValidate; to fuzz longer:
//
//	go test ./server -run '^$' -fuzz '^FuzzValidate$' -fuzztime 5m

// fuzzArgs are the values a fuzzed request is made of; each RPC puts them
// in fields of its own (validateRPCs).
type fuzzArgs struct {
	ws, id, req, alt string
	a, b, c, secs    int64
	nanos, enum      int32
	flags            uint16
}

// has tells whether flag bit i is set.
func (x *fuzzArgs) has(i uint) bool { return x.flags&(1<<i) != 0 }

func (x *fuzzArgs) duration() *durationpb.Duration {
	return &durationpb.Duration{Seconds: x.secs, Nanos: x.nanos}
}

func (x *fuzzArgs) timestamp(secs int64) *timestamppb.Timestamp {
	return &timestamppb.Timestamp{Seconds: secs, Nanos: x.nanos}
}

// usage is a chain of one or two nodes, or none (flag 0).
func (x *fuzzArgs) usage() *quotav1.AgentRun {
	if x.has(0) {
		return nil
	}
	run := &quotav1.AgentRun{
		AgentId: x.alt,
		Models:  []*quotav1.ModelUsage{{Model: x.id, InputTokens: x.a, OutputTokens: x.b, CacheReadTokens: x.c, CacheWriteTokens: x.secs}},
		Actions: []*quotav1.ToolAction{{Tool: x.ws, Tier: quotav1.ToolTier(x.enum), ExternalMcp: x.has(2), NotRun: x.has(3)}},
	}
	if x.has(1) {
		run.SubAgents = []*quotav1.AgentRun{proto.Clone(run).(*quotav1.AgentRun)}
	}
	return run
}

// optional returns &v if the flag is set.
func (x *fuzzArgs) optional(flag uint, v int64) *int64 {
	if x.has(flag) {
		return &v
	}
	return nil
}

// fuzzServers are the handlers of both services on one gateStore.
type fuzzServers struct {
	quota *quotaServer
	admin *adminServer
	gate  *gate
}

// newFuzzServers returns fresh handlers (a fresh service: SetPricing
// changes the table in force) on a fresh gateStore.
func newFuzzServers() *fuzzServers {
	cfg := quota.Config{Now: func() time.Time { return testNow }}
	g := &gate{}
	svc := quota.NewService(gateStore(g, quota.NewService(nil, cfg).Config()), cfg)
	h := handler{svc: svc, log: slog.New(slog.DiscardHandler)}
	return &fuzzServers{quota: &quotaServer{handler: h}, admin: &adminServer{handler: h}, gate: g}
}

// validateRPC is one RPC: how to make its request of fuzzArgs, and its
// handler.
type validateRPC struct {
	name  string
	build func(*fuzzArgs) proto.Message
	call  func(ctx context.Context, s *fuzzServers, req proto.Message) error
}

// rpc returns the validateRPC that builds its request with build and
// calls handle.
func rpc[Req proto.Message, Resp any](name string, build func(*fuzzArgs) Req, handle func(*fuzzServers) func(context.Context, Req) (Resp, error)) validateRPC {
	return validateRPC{
		name:  name,
		build: func(x *fuzzArgs) proto.Message { return build(x) },
		call: func(ctx context.Context, s *fuzzServers, req proto.Message) error {
			_, err := handle(s)(ctx, req.(Req))
			return err
		},
	}
}

// validateRPCs are every RPC of both services.
var validateRPCs = []validateRPC{
	rpc("Reserve", func(x *fuzzArgs) *quotav1.ReserveRequest {
		r := &quotav1.ReserveRequest{WorkspaceId: x.ws, RequestId: x.req, Amount: x.a, MinAmount: x.b,
			Origin: quotav1.Origin(x.enum), AllowTopUp: x.has(5), RunTokenCap: x.optional(4, x.c)}
		if x.has(0) {
			r.MemberId = x.id
		}
		if x.has(1) {
			r.SpenderId = x.alt
		}
		if x.has(2) {
			r.Ttl = x.duration()
		}
		if x.has(3) {
			r.ParentReservationId = x.alt
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.ReserveRequest) (*quotav1.ReserveResponse, error) {
		return s.quota.Reserve
	}),
	rpc("Extend", func(x *fuzzArgs) *quotav1.ExtendRequest {
		r := &quotav1.ExtendRequest{WorkspaceId: x.ws, ReservationId: x.id, RequestId: x.req, AddAmount: x.a}
		if x.has(2) {
			r.Ttl = x.duration()
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.ExtendRequest) (*quotav1.ExtendResponse, error) {
		return s.quota.Extend
	}),
	rpc("Commit", func(x *fuzzArgs) *quotav1.CommitRequest {
		return &quotav1.CommitRequest{WorkspaceId: x.ws, ReservationId: x.id, RequestId: x.req, Usage: x.usage()}
	}, func(s *fuzzServers) func(context.Context, *quotav1.CommitRequest) (*quotav1.CommitResponse, error) {
		return s.quota.Commit
	}),
	rpc("Refund", func(x *fuzzArgs) *quotav1.RefundRequest {
		return &quotav1.RefundRequest{WorkspaceId: x.ws, ReservationId: x.id, RequestId: x.req}
	}, func(s *fuzzServers) func(context.Context, *quotav1.RefundRequest) (*quotav1.RefundResponse, error) {
		return s.quota.Refund
	}),
	rpc("GetReservation", func(x *fuzzArgs) *quotav1.GetReservationRequest {
		return &quotav1.GetReservationRequest{WorkspaceId: x.ws, ReservationId: x.id}
	}, func(s *fuzzServers) func(context.Context, *quotav1.GetReservationRequest) (*quotav1.GetReservationResponse, error) {
		return s.quota.GetReservation
	}),
	rpc("GetBalance", func(x *fuzzArgs) *quotav1.GetBalanceRequest {
		return &quotav1.GetBalanceRequest{WorkspaceId: x.ws, MemberId: x.id}
	}, func(s *fuzzServers) func(context.Context, *quotav1.GetBalanceRequest) (*quotav1.GetBalanceResponse, error) {
		return s.quota.GetBalance
	}),
	rpc("EstimateCost", func(x *fuzzArgs) *quotav1.EstimateCostRequest {
		return &quotav1.EstimateCostRequest{Origin: quotav1.Origin(x.nanos), Usage: x.usage()}
	}, func(s *fuzzServers) func(context.Context, *quotav1.EstimateCostRequest) (*quotav1.EstimateCostResponse, error) {
		return s.quota.EstimateCost
	}),
	rpc("ListRunCosts", func(x *fuzzArgs) *quotav1.ListRunCostsRequest {
		return &quotav1.ListRunCostsRequest{WorkspaceId: x.ws, ReservationId: x.id, PageSize: int32(x.a), PageToken: x.alt}
	}, func(s *fuzzServers) func(context.Context, *quotav1.ListRunCostsRequest) (*quotav1.ListRunCostsResponse, error) {
		return s.quota.ListRunCosts
	}),
	rpc("SetWorkspace", func(x *fuzzArgs) *quotav1.SetWorkspaceRequest {
		r := &quotav1.SetWorkspaceRequest{WorkspaceId: x.ws, RequestId: x.req}
		if x.has(2) {
			r.SubscriptionStart = x.timestamp(x.secs)
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.SetWorkspaceRequest) (*quotav1.SetWorkspaceResponse, error) {
		return s.admin.SetWorkspace
	}),
	rpc("GetWorkspace", func(x *fuzzArgs) *quotav1.GetWorkspaceRequest {
		return &quotav1.GetWorkspaceRequest{WorkspaceId: x.ws}
	}, func(s *fuzzServers) func(context.Context, *quotav1.GetWorkspaceRequest) (*quotav1.GetWorkspaceResponse, error) {
		return s.admin.GetWorkspace
	}),
	rpc("SetSeat", func(x *fuzzArgs) *quotav1.SetSeatRequest {
		return &quotav1.SetSeatRequest{WorkspaceId: x.ws, MemberId: x.id, RequestId: x.req, Seat: quotav1.Seat(x.enum)}
	}, func(s *fuzzServers) func(context.Context, *quotav1.SetSeatRequest) (*quotav1.SetSeatResponse, error) {
		return s.admin.SetSeat
	}),
	rpc("GetPricing", func(x *fuzzArgs) *quotav1.GetPricingRequest {
		return &quotav1.GetPricingRequest{Version: x.optional(0, x.a)}
	}, func(s *fuzzServers) func(context.Context, *quotav1.GetPricingRequest) (*quotav1.GetPricingResponse, error) {
		return s.admin.GetPricing
	}),
	rpc("SetPricing", func(x *fuzzArgs) *quotav1.SetPricingRequest {
		r := &quotav1.SetPricingRequest{RequestId: x.req}
		if !x.has(0) {
			r.Pricing = &quotav1.PriceTable{
				Models: []*quotav1.ModelPrice{{Model: x.alt, InputRate: x.a, OutputRate: x.b, CacheReadRate: x.c, CacheWriteRate: x.secs}},
				Tools:  []*quotav1.ToolPrice{{Tool: x.ws, Tier: quotav1.ToolTier(x.enum), Platform: x.has(2)}},
			}
			if x.has(1) {
				r.Pricing.FallbackModel = x.id
			}
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.SetPricingRequest) (*quotav1.SetPricingResponse, error) {
		return s.admin.SetPricing
	}),
	rpc("ListPricingVersions", func(x *fuzzArgs) *quotav1.ListPricingVersionsRequest {
		return &quotav1.ListPricingVersionsRequest{PageSize: int32(x.a), PageToken: x.alt}
	}, func(s *fuzzServers) func(context.Context, *quotav1.ListPricingVersionsRequest) (*quotav1.ListPricingVersionsResponse, error) {
		return s.admin.ListPricingVersions
	}),
	rpc("SetWorkspacePolicy", func(x *fuzzArgs) *quotav1.SetWorkspacePolicyRequest {
		r := &quotav1.SetWorkspacePolicyRequest{WorkspaceId: x.ws, RequestId: x.req}
		if !x.has(0) {
			r.Policy = &quotav1.WorkspacePolicy{DefaultMemberPoolCap: x.optional(1, x.a), OverageEnabled: x.has(2),
				OverageCap: x.b, ProgrammaticCap: x.optional(3, x.c), Pooled: x.has(4)}
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.SetWorkspacePolicyRequest) (*quotav1.SetWorkspacePolicyResponse, error) {
		return s.admin.SetWorkspacePolicy
	}),
	rpc("SetMemberPoolCap", func(x *fuzzArgs) *quotav1.SetMemberPoolCapRequest {
		return &quotav1.SetMemberPoolCapRequest{WorkspaceId: x.ws, MemberId: x.id, RequestId: x.req, PoolCap: x.optional(0, x.a), Unlimited: x.has(1)}
	}, func(s *fuzzServers) func(context.Context, *quotav1.SetMemberPoolCapRequest) (*quotav1.SetMemberPoolCapResponse, error) {
		return s.admin.SetMemberPoolCap
	}),
	rpc("AddPoolGrant", func(x *fuzzArgs) *quotav1.AddPoolGrantRequest {
		r := &quotav1.AddPoolGrantRequest{WorkspaceId: x.ws, RequestId: x.req, Kind: quotav1.GrantKind(x.enum), Amount: x.a, Priority: x.c}
		if x.has(0) {
			r.StartTime = x.timestamp(x.secs)
		}
		if x.has(1) {
			r.ExpireTime = x.timestamp(x.b)
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.AddPoolGrantRequest) (*quotav1.AddPoolGrantResponse, error) {
		return s.admin.AddPoolGrant
	}),
	rpc("VoidPoolGrant", func(x *fuzzArgs) *quotav1.VoidPoolGrantRequest {
		return &quotav1.VoidPoolGrantRequest{WorkspaceId: x.ws, GrantId: x.id, RequestId: x.req}
	}, func(s *fuzzServers) func(context.Context, *quotav1.VoidPoolGrantRequest) (*quotav1.VoidPoolGrantResponse, error) {
		return s.admin.VoidPoolGrant
	}),
	rpc("ListPoolGrants", func(x *fuzzArgs) *quotav1.ListPoolGrantsRequest {
		return &quotav1.ListPoolGrantsRequest{WorkspaceId: x.ws, PageSize: int32(x.a), PageToken: x.alt}
	}, func(s *fuzzServers) func(context.Context, *quotav1.ListPoolGrantsRequest) (*quotav1.ListPoolGrantsResponse, error) {
		return s.admin.ListPoolGrants
	}),
	rpc("GetWorkspaceBalance", func(x *fuzzArgs) *quotav1.GetWorkspaceBalanceRequest {
		return &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: x.ws}
	}, func(s *fuzzServers) func(context.Context, *quotav1.GetWorkspaceBalanceRequest) (*quotav1.GetWorkspaceBalanceResponse, error) {
		return s.admin.GetWorkspaceBalance
	}),
	rpc("GetUsage", func(x *fuzzArgs) *quotav1.GetUsageRequest {
		r := &quotav1.GetUsageRequest{WorkspaceId: x.ws, GroupBy: quotav1.UsageGrouping(x.enum), PageSize: int32(x.a)}
		if x.has(1) {
			r.StartTime = x.timestamp(x.secs)
		}
		if x.has(2) {
			r.EndTime = x.timestamp(x.secs + x.c)
		}
		if x.has(8) {
			r.PageToken = x.alt
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.GetUsageRequest) (*quotav1.GetUsageResponse, error) {
		return s.admin.GetUsage
	}),
	rpc("ListMembers", func(x *fuzzArgs) *quotav1.ListMembersRequest {
		r := &quotav1.ListMembersRequest{WorkspaceId: x.ws, PageSize: int32(x.a)}
		if x.has(8) {
			r.PageToken = x.alt
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.ListMembersRequest) (*quotav1.ListMembersResponse, error) {
		return s.admin.ListMembers
	}),
	rpc("ListLedgerEntries", func(x *fuzzArgs) *quotav1.ListLedgerEntriesRequest {
		r := &quotav1.ListLedgerEntriesRequest{WorkspaceId: x.ws, PageSize: int32(x.a)}
		if x.has(1) {
			r.MemberId = x.id
		}
		if x.has(9) {
			r.SpenderId = x.req
		}
		if x.has(10) {
			r.Operations = strings.Split(x.alt, ",")
		}
		if x.has(4) {
			r.StartTime = x.timestamp(x.secs)
		}
		if x.has(5) {
			r.EndTime = x.timestamp(x.secs + x.c)
		}
		if x.has(8) {
			r.PageToken = x.alt
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.ListLedgerEntriesRequest) (*quotav1.ListLedgerEntriesResponse, error) {
		return s.admin.ListLedgerEntries
	}),
	rpc("ListReservations", func(x *fuzzArgs) *quotav1.ListReservationsRequest {
		r := &quotav1.ListReservationsRequest{WorkspaceId: x.ws, PageSize: int32(x.a)}
		if x.has(1) {
			r.MemberId = x.id
		}
		if x.has(9) {
			r.SpenderId = x.req
		}
		if x.has(8) {
			r.PageToken = x.alt
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.ListReservationsRequest) (*quotav1.ListReservationsResponse, error) {
		return s.admin.ListReservations
	}),
	rpc("ExplainBalance", func(x *fuzzArgs) *quotav1.ExplainBalanceRequest {
		r := &quotav1.ExplainBalanceRequest{WorkspaceId: x.ws}
		if x.has(1) {
			r.MemberId = x.id
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.ExplainBalanceRequest) (*quotav1.ExplainBalanceResponse, error) {
		return s.admin.ExplainBalance
	}),
	rpc("AuditWorkspace", func(x *fuzzArgs) *quotav1.AuditWorkspaceRequest {
		return &quotav1.AuditWorkspaceRequest{WorkspaceId: x.ws}
	}, func(s *fuzzServers) func(context.Context, *quotav1.AuditWorkspaceRequest) (*quotav1.AuditWorkspaceResponse, error) {
		return s.admin.AuditWorkspace
	}),
	rpc("RefundReservation", func(x *fuzzArgs) *quotav1.RefundReservationRequest {
		return &quotav1.RefundReservationRequest{WorkspaceId: x.ws, ReservationId: x.id, RequestId: x.req, Reason: x.alt}
	}, func(s *fuzzServers) func(context.Context, *quotav1.RefundReservationRequest) (*quotav1.RefundReservationResponse, error) {
		return s.admin.RefundReservation
	}),
	rpc("AdjustBalance", func(x *fuzzArgs) *quotav1.AdjustBalanceRequest {
		r := &quotav1.AdjustBalanceRequest{WorkspaceId: x.ws, RequestId: x.req, Amount: x.a, Reason: x.alt}
		if x.has(1) {
			r.MemberId = x.id
		}
		if x.has(9) {
			r.ExpireTime = x.timestamp(x.secs)
		}
		return r
	}, func(s *fuzzServers) func(context.Context, *quotav1.AdjustBalanceRequest) (*quotav1.AdjustBalanceResponse, error) {
		return s.admin.AdjustBalance
	}),
}

// validArgs make a valid request of most RPCs, with most flags set: bits
// 1 to 7, not 8 and up (a page token, a spender beside a member, ledger
// operations, an expiry on a member's adjustment).
func validArgs() *fuzzArgs {
	return &fuzzArgs{ws: "ws-1", id: testResID, req: "req-1", alt: "sub:agent@x", a: 10 * quota.Credit, b: quota.Credit,
		c: 5, secs: testNow.Unix() + 3600, enum: 1, flags: 0b1111_1110}
}

func FuzzValidate(f *testing.F) {
	for _, r := range validateRPCs {
		// A valid request of each RPC, and one with every flag clear.
		x := validArgs()
		f.Add(r.name, x.ws, x.id, x.req, x.alt, x.a, x.b, x.c, x.secs, x.nanos, x.enum, x.flags)
		f.Add(r.name, "ws-1", "m-1", "req-1", "", int64(0), int64(0), int64(0), int64(0), int32(0), int32(0), uint16(0))
	}
	// A page token of each report that decodes (flag 8), for the fuzzer
	// to mutate: the usage token is for validArgs' range, the ledger's
	// for other filters.
	x := validArgs()
	day := quota.DayOf(time.Unix(x.secs, 0))
	token := func(parts ...string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
	}
	for _, s := range []struct{ rpc, token string }{
		{"ListMembers", token("members", "m-0")},
		{"ListReservations", token("holds", x.id, strconv.FormatInt(testNow.UnixMilli(), 10), "00ff")},
		{"GetUsage", token("usage", "1", strconv.FormatInt(day, 10), strconv.FormatInt(day+1, 10), "m-0")},
		{"ListLedgerEntries", token("ledger", "0123456789abcdef", "1741953600000-0")},
	} {
		f.Add(s.rpc, x.ws, x.id, x.req, s.token, x.a, x.b, x.c, x.secs, x.nanos, x.enum, x.flags|1<<8)
	}
	f.Fuzz(func(t *testing.T, rpcName, ws, id, reqID, alt string, a, b, c, secs int64, nanos, enum int32, flags uint16) {
		r := byName(validateRPCs, func(r validateRPC) string { return r.name }, rpcName)
		s := newFuzzServers()
		// A decoded request's strings are UTF-8 (FuzzDecode sends the others).
		u := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		x := &fuzzArgs{ws: u(ws), id: u(id), req: u(reqID), alt: u(alt), a: a, b: b, c: c, secs: secs, nanos: nanos, enum: enum, flags: flags}
		req := r.build(x)
		err := r.call(context.Background(), s, req)
		checkEdgeAnswer(t, r.name, req, err)
		broken, calls := s.gate.take()
		for _, b := range broken {
			t.Errorf("%s: %s (request %v)", r.name, b, req)
		}
		if err == nil && calls == 0 && r.name != "EstimateCost" && r.name != "GetPricing" {
			t.Errorf("%s answered OK without calling the store", r.name)
		}
	})
}

// checkEdgeAnswer fails t unless err is nil or one of edgeReasons, on a
// field of req, and does not refuse a valid id.
func checkEdgeAnswer(t *testing.T, rpc string, req proto.Message, err error) {
	t.Helper()
	if err == nil {
		return
	}
	st, d := detailsOf(t, err)
	reason := d.info.GetReason()
	if code, ok := edgeReasons[reason]; !ok || code != st.Code() || d.info.GetDomain() != errorDomain {
		t.Fatalf("%s = %v %s/%s %q, want OK or one of the edge's errors", rpc, st.Code(), d.info.GetDomain(), reason, st.Message())
	}
	if st.Code() != codes.InvalidArgument || reason == reasonMalformedMessage {
		return
	}
	vs := d.bad.GetFieldViolations()
	if len(vs) != 1 {
		t.Fatalf("%s = %s %q with violations %v, want one", rpc, reason, st.Message(), vs)
	}
	field := vs[0].GetField()
	fd := req.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(topField(field)))
	if fd == nil {
		t.Fatalf("%s = %s on %q, not a field of %s", rpc, reason, field, req.ProtoReflect().Descriptor().FullName())
	}
	if reason == "INVALID_FIELD" && field == string(fd.Name()) && strings.HasSuffix(field, "_id") && fd.Kind() == protoreflect.StringKind {
		if id := req.ProtoReflect().Get(fd).String(); validID(id) {
			t.Fatalf("%s refused the valid id %s %q: %q", rpc, field, id, st.Message())
		}
	}
}

// TestFuzzValidateCoversEveryRPC checks that FuzzValidate has a request
// for every RPC of both services, so that a new RPC is fuzzed too.
func TestFuzzValidateCoversEveryRPC(t *testing.T) {
	var want, got []string
	for _, sd := range []string{quotav1.QuotaService_ServiceDesc.ServiceName, quotav1.AdminService_ServiceDesc.ServiceName} {
		want = append(want, serviceMethods(t, sd)...)
	}
	for _, r := range validateRPCs {
		got = append(got, r.name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("FuzzValidate's RPCs = %v, want every RPC: %v", got, want)
	}
}
