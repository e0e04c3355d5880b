package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// The id rows of the catalogue: every id field of every RPC (workspace,
// member, spender, request, reservation, parent and grant ids) with each
// hostile id. Ids are 1 to 128 bytes of [A-Za-z0-9._:@-] (README,
// Limits): each of these is INVALID_ARGUMENT / INVALID_FIELD on its field
// (an empty member or spender is MEMBER_REQUIRED on member_id), and
// changes nothing. The colon is allowed; its rows are in
// hostile_rows_test.go.

// hostileIDs are the ids the issue lists, but the colon.
var hostileIDs = []struct{ name, id string }{
	{"empty", ""},
	{"10 KB", strings.Repeat("x", 10<<10)},
	{"unicode", "café-数据"},
	{"NUL", "a\x00b"},
	{"open brace", "ws{1"},
	{"close brace", "ws}1"},
	{"space", "a b"},
	{"newline", "a\nb"},
	{"star", "*"},
	{"question mark", "?"},
}

// idSlot is an id field of an RPC and a call that sends an otherwise
// valid request with id in it.
type idSlot struct {
	rpc, field string
	call       func(ctx context.Context, h *hostile, id string) error
}

// optionalID is an id field ("RPC.field") the README lets a request leave
// empty: a list's member or spender filter (every owner), ExplainBalance's
// and AdjustBalance's member (the pool). The call with "" is accepted;
// check checks its effect, and readOnly tells that it leaves Redis as it
// was.
type optionalID struct {
	check    func(t *testing.T, h *hostile)
	readOnly bool
}

// smallUsage is a valid usage tree.
func smallUsage() *quotav1.AgentRun {
	return &quotav1.AgentRun{AgentId: "main", Models: []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: 1000}}}
}

// idSlots are every id field of every RPC, and those of them that are
// optional.
func idSlots() ([]idSlot, map[string]optionalID) {
	anchor := timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))
	reserve := func(edit func(r *quotav1.ReserveRequest, id string)) func(context.Context, *hostile, string) error {
		return func(ctx context.Context, h *hostile, id string) error {
			r := &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "id-row", Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION}
			edit(r, id)
			_, err := h.c.quota.Reserve(ctx, r)
			return err
		}
	}
	extend := func(ctx context.Context, h *hostile, ws, res, req string) error {
		_, err := h.c.quota.Extend(ctx, &quotav1.ExtendRequest{WorkspaceId: ws, ReservationId: res, RequestId: req, AddAmount: credit})
		return err
	}
	commit := func(ctx context.Context, h *hostile, ws, res, req string) error {
		_, err := h.c.quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: ws, ReservationId: res, RequestId: req, Usage: smallUsage()})
		return err
	}
	refund := func(ctx context.Context, h *hostile, ws, res, req string) error {
		_, err := h.c.quota.Refund(ctx, &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: res, RequestId: req})
		return err
	}
	getRes := func(ctx context.Context, h *hostile, ws, res string) error {
		_, err := h.c.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: ws, ReservationId: res})
		return err
	}
	listRun := func(ctx context.Context, h *hostile, ws, res string) error {
		_, err := h.c.quota.ListRunCosts(ctx, &quotav1.ListRunCostsRequest{WorkspaceId: ws, ReservationId: res})
		return err
	}
	getBalance := func(ctx context.Context, h *hostile, ws, member string) error {
		_, err := h.c.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: ws, MemberId: member})
		return err
	}
	setWorkspace := func(ctx context.Context, h *hostile, ws, req string) error {
		_, err := h.c.admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: ws, RequestId: req, SubscriptionStart: anchor})
		return err
	}
	setSeat := func(ctx context.Context, h *hostile, ws, member, req string) error {
		_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: ws, MemberId: member, RequestId: req, Seat: quotav1.Seat_SEAT_MAX})
		return err
	}
	setPolicy := func(ctx context.Context, h *hostile, ws, req string) error {
		_, err := h.c.admin.SetWorkspacePolicy(ctx, &quotav1.SetWorkspacePolicyRequest{WorkspaceId: ws, RequestId: req, Policy: &quotav1.WorkspacePolicy{}})
		return err
	}
	setCap := func(ctx context.Context, h *hostile, ws, member, req string) error {
		_, err := h.c.admin.SetMemberPoolCap(ctx, &quotav1.SetMemberPoolCapRequest{WorkspaceId: ws, MemberId: member, RequestId: req, Unlimited: true})
		return err
	}
	addGrant := func(ctx context.Context, h *hostile, ws, req string) error {
		_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: ws, RequestId: req, Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: credit})
		return err
	}
	voidGrant := func(ctx context.Context, h *hostile, ws, grant, req string) error {
		_, err := h.c.admin.VoidPoolGrant(ctx, &quotav1.VoidPoolGrantRequest{WorkspaceId: ws, GrantId: grant, RequestId: req})
		return err
	}
	var (
		ledger  *quotav1.ListLedgerEntriesResponse
		holds   *quotav1.ListReservationsResponse
		explain *quotav1.ExplainBalanceResponse
		adjust  *quotav1.AdjustBalanceResponse
	)
	listLedger := func(ctx context.Context, h *hostile, ws, member, spender string) error {
		var err error
		ledger, err = h.c.admin.ListLedgerEntries(ctx, &quotav1.ListLedgerEntriesRequest{WorkspaceId: ws, MemberId: member, SpenderId: spender})
		return err
	}
	listHolds := func(ctx context.Context, h *hostile, ws, member, spender string) error {
		var err error
		holds, err = h.c.admin.ListReservations(ctx, &quotav1.ListReservationsRequest{WorkspaceId: ws, MemberId: member, SpenderId: spender})
		return err
	}
	explainBalance := func(ctx context.Context, h *hostile, ws, member string) error {
		var err error
		explain, err = h.c.admin.ExplainBalance(ctx, &quotav1.ExplainBalanceRequest{WorkspaceId: ws, MemberId: member})
		return err
	}
	refundRes := func(ctx context.Context, h *hostile, ws, res, req string) error {
		_, err := h.c.admin.RefundReservation(ctx, &quotav1.RefundReservationRequest{WorkspaceId: ws, ReservationId: res, RequestId: req,
			Reason: "hostile id row"})
		return err
	}
	// A debit of 1 credit: of alice's seat credits, or, with no member,
	// of acme's pool (which leaves acme its two grants).
	adjustBalance := func(ctx context.Context, h *hostile, ws, member, req string) error {
		var err error
		adjust, err = h.c.admin.AdjustBalance(ctx, &quotav1.AdjustBalanceRequest{WorkspaceId: ws, MemberId: member, RequestId: req,
			Amount: -credit, Reason: "hostile id row"})
		return err
	}
	// Every owner's entries: alice's and the workspace's own.
	allLedger := func(t *testing.T, h *hostile) {
		var alice, workspace bool
		for _, e := range ledger.GetEntries() {
			alice = alice || e.GetMemberId() == "alice"
			workspace = workspace || (e.GetMemberId() == "" && e.GetSpenderId() == "")
		}
		if !alice || !workspace {
			t.Errorf("the ledger with no member or spender has alice's entries %v and the workspace's %v, want both: %v", alice, workspace, ledger)
		}
	}
	// Every open hold of acme: its reservation and the child.
	allHolds := func(t *testing.T, h *hostile) {
		var ids []string
		for _, r := range holds.GetReservations() {
			ids = append(ids, r.GetReservationId())
		}
		if len(ids) != 2 || !slices.Contains(ids, h.resAcme) || !slices.Contains(ids, h.childAcme) {
			t.Errorf("open reservations with no member or spender = %v, want acme's %s and %s", ids, h.resAcme, h.childAcme)
		}
	}
	optional := map[string]optionalID{
		"ListLedgerEntries.member_id":  {allLedger, true},
		"ListLedgerEntries.spender_id": {allLedger, true},
		"ListReservations.member_id":   {allHolds, true},
		"ListReservations.spender_id":  {allHolds, true},
		"ExplainBalance.member_id": {func(t *testing.T, h *hostile) {
			var grants []string
			for _, c := range explain.GetComponents() {
				grants = append(grants, c.GetGrantId())
			}
			if explain.GetBalance() != nil || len(grants) != 2 || !slices.Contains(grants, h.grantAcme) {
				t.Errorf("ExplainBalance with no member = balance %v, grants %v; want the pool's: no balance, acme's 2 grants", explain.GetBalance(), grants)
			}
			for _, c := range explain.GetChecks() {
				if !c.GetHolds() {
					t.Errorf("the pool's check %q does not hold: %d != %d", c.GetEquation(), c.GetLeft(), c.GetRight())
				}
			}
		}, true},
		"AdjustBalance.member_id": {func(t *testing.T, h *hostile) {
			if adjust.GetBalance() != nil || adjust.GetGrant() != nil || adjust.GetWorkspace().GetPool().GetGranted() != 2_000*credit-credit {
				t.Errorf("AdjustBalance with no member = %v; want no balance, no grant, and acme's pool granted 1 credit less than 2,000", adjust)
			}
		}, false},
	}
	return []idSlot{
		{"Reserve", "workspace_id", reserve(func(r *quotav1.ReserveRequest, id string) { r.WorkspaceId = id })},
		{"Reserve", "member_id", reserve(func(r *quotav1.ReserveRequest, id string) { r.MemberId = id })},
		{"Reserve", "spender_id", reserve(func(r *quotav1.ReserveRequest, id string) { r.MemberId, r.SpenderId = "", id })},
		{"Reserve", "request_id", reserve(func(r *quotav1.ReserveRequest, id string) { r.RequestId = id })},
		{"Reserve", "parent_reservation_id", reserve(func(r *quotav1.ReserveRequest, id string) {
			r.MemberId, r.Origin, r.ParentReservationId = "", quotav1.Origin_ORIGIN_UNSPECIFIED, id
		})},
		{"Extend", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return extend(ctx, h, id, h.resAcme, "id-row") }},
		{"Extend", "reservation_id", func(ctx context.Context, h *hostile, id string) error { return extend(ctx, h, "acme", id, "id-row") }},
		{"Extend", "request_id", func(ctx context.Context, h *hostile, id string) error { return extend(ctx, h, "acme", h.resAcme, id) }},
		{"Commit", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return commit(ctx, h, id, h.resAcme, "id-row") }},
		{"Commit", "reservation_id", func(ctx context.Context, h *hostile, id string) error { return commit(ctx, h, "acme", id, "id-row") }},
		{"Commit", "request_id", func(ctx context.Context, h *hostile, id string) error { return commit(ctx, h, "acme", h.resAcme, id) }},
		{"Refund", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return refund(ctx, h, id, h.resAcme, "id-row") }},
		{"Refund", "reservation_id", func(ctx context.Context, h *hostile, id string) error { return refund(ctx, h, "acme", id, "id-row") }},
		{"Refund", "request_id", func(ctx context.Context, h *hostile, id string) error { return refund(ctx, h, "acme", h.resAcme, id) }},
		{"GetReservation", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return getRes(ctx, h, id, h.resAcme) }},
		{"GetReservation", "reservation_id", func(ctx context.Context, h *hostile, id string) error { return getRes(ctx, h, "acme", id) }},
		{"ListRunCosts", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return listRun(ctx, h, id, h.resAcme) }},
		{"ListRunCosts", "reservation_id", func(ctx context.Context, h *hostile, id string) error { return listRun(ctx, h, "acme", id) }},
		{"GetBalance", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return getBalance(ctx, h, id, "alice") }},
		{"GetBalance", "member_id", func(ctx context.Context, h *hostile, id string) error { return getBalance(ctx, h, "acme", id) }},
		{"SetWorkspace", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return setWorkspace(ctx, h, id, "id-row") }},
		{"SetWorkspace", "request_id", func(ctx context.Context, h *hostile, id string) error { return setWorkspace(ctx, h, "acme", id) }},
		{"GetWorkspace", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: id})
			return err
		}},
		{"SetSeat", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return setSeat(ctx, h, id, "alice", "id-row") }},
		{"SetSeat", "member_id", func(ctx context.Context, h *hostile, id string) error { return setSeat(ctx, h, "acme", id, "id-row") }},
		{"SetSeat", "request_id", func(ctx context.Context, h *hostile, id string) error { return setSeat(ctx, h, "acme", "alice", id) }},
		{"SetPricing", "request_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.SetPricing(ctx, &quotav1.SetPricingRequest{RequestId: id, Pricing: h.defaultPricing()})
			return err
		}},
		{"SetWorkspacePolicy", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return setPolicy(ctx, h, id, "id-row") }},
		{"SetWorkspacePolicy", "request_id", func(ctx context.Context, h *hostile, id string) error { return setPolicy(ctx, h, "acme", id) }},
		{"SetMemberPoolCap", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return setCap(ctx, h, id, "alice", "id-row") }},
		{"SetMemberPoolCap", "member_id", func(ctx context.Context, h *hostile, id string) error { return setCap(ctx, h, "acme", id, "id-row") }},
		{"SetMemberPoolCap", "request_id", func(ctx context.Context, h *hostile, id string) error { return setCap(ctx, h, "acme", "alice", id) }},
		{"AddPoolGrant", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return addGrant(ctx, h, id, "id-row") }},
		{"AddPoolGrant", "request_id", func(ctx context.Context, h *hostile, id string) error { return addGrant(ctx, h, "acme", id) }},
		{"VoidPoolGrant", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			return voidGrant(ctx, h, id, h.grantAcme, "id-row")
		}},
		{"VoidPoolGrant", "grant_id", func(ctx context.Context, h *hostile, id string) error { return voidGrant(ctx, h, "acme", id, "id-row") }},
		{"VoidPoolGrant", "request_id", func(ctx context.Context, h *hostile, id string) error {
			return voidGrant(ctx, h, "acme", h.grantAcme, id)
		}},
		{"ListPoolGrants", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.ListPoolGrants(ctx, &quotav1.ListPoolGrantsRequest{WorkspaceId: id})
			return err
		}},
		{"GetWorkspaceBalance", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.GetWorkspaceBalance(ctx, &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: id})
			return err
		}},
		{"GetUsage", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.GetUsage(ctx, &quotav1.GetUsageRequest{WorkspaceId: id, GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_MEMBER})
			return err
		}},
		{"ListMembers", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.ListMembers(ctx, &quotav1.ListMembersRequest{WorkspaceId: id})
			return err
		}},
		{"ListLedgerEntries", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return listLedger(ctx, h, id, "alice", "") }},
		{"ListLedgerEntries", "member_id", func(ctx context.Context, h *hostile, id string) error { return listLedger(ctx, h, "acme", id, "") }},
		{"ListLedgerEntries", "spender_id", func(ctx context.Context, h *hostile, id string) error { return listLedger(ctx, h, "acme", "", id) }},
		{"ListReservations", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return listHolds(ctx, h, id, "alice", "") }},
		{"ListReservations", "member_id", func(ctx context.Context, h *hostile, id string) error { return listHolds(ctx, h, "acme", id, "") }},
		{"ListReservations", "spender_id", func(ctx context.Context, h *hostile, id string) error { return listHolds(ctx, h, "acme", "", id) }},
		{"ExplainBalance", "workspace_id", func(ctx context.Context, h *hostile, id string) error { return explainBalance(ctx, h, id, "alice") }},
		{"ExplainBalance", "member_id", func(ctx context.Context, h *hostile, id string) error { return explainBalance(ctx, h, "acme", id) }},
		{"AuditWorkspace", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			_, err := h.c.admin.AuditWorkspace(ctx, &quotav1.AuditWorkspaceRequest{WorkspaceId: id})
			return err
		}},
		{"RefundReservation", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			return refundRes(ctx, h, id, h.resAcme, "id-row")
		}},
		{"RefundReservation", "reservation_id", func(ctx context.Context, h *hostile, id string) error { return refundRes(ctx, h, "acme", id, "id-row") }},
		{"RefundReservation", "request_id", func(ctx context.Context, h *hostile, id string) error {
			return refundRes(ctx, h, "acme", h.resAcme, id)
		}},
		{"AdjustBalance", "workspace_id", func(ctx context.Context, h *hostile, id string) error {
			return adjustBalance(ctx, h, id, "alice", "id-row")
		}},
		{"AdjustBalance", "member_id", func(ctx context.Context, h *hostile, id string) error {
			return adjustBalance(ctx, h, "acme", id, "id-row")
		}},
		{"AdjustBalance", "request_id", func(ctx context.Context, h *hostile, id string) error {
			return adjustBalance(ctx, h, "acme", "alice", id)
		}},
	}, optional
}

// idRows are the rows of every hostile id in every id slot.
func idRows() []hostileRow {
	var rows []hostileRow
	slots, optional := idSlots()
	for _, s := range slots {
		for _, id := range hostileIDs {
			row := hostileRow{
				name: s.rpc + " " + s.field + " " + id.name,
				call: func(ctx context.Context, h *hostile) error { return s.call(ctx, h, id.id) },
				want: invalidField(s.field),
			}
			opt, isOptional := optional[s.rpc+"."+s.field]
			switch {
			case id.id == "" && s.field == "parent_reservation_id":
				continue // no parent: a root reservation
			case id.id == "" && isOptional:
				row.accepted, row.readOnly = opt.check, opt.readOnly
			case id.id == "" && (s.field == "member_id" || s.field == "spender_id"):
				row.want = hostileWant{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// TestHostileIDsCoverEveryIDField checks that the id rows cover every id
// field (a string field named *_id) of every RPC's request, so that a
// new RPC or field gets its rows.
func TestHostileIDsCoverEveryIDField(t *testing.T) {
	have := map[string]bool{}
	slots, optional := idSlots()
	for _, s := range slots {
		have[s.rpc+"."+s.field] = true
	}
	for name := range optional {
		if !have[name] {
			t.Errorf("optional id %s has no id rows", name)
		}
	}
	for _, service := range []string{quotav1.QuotaService_ServiceDesc.ServiceName, quotav1.AdminService_ServiceDesc.ServiceName} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
		if err != nil {
			t.Fatal(err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			fields := m.Input().Fields()
			for j := range fields.Len() {
				f := fields.Get(j)
				if name := string(f.Name()); strings.HasSuffix(name, "_id") && f.Kind() == protoreflect.StringKind && !have[string(m.Name())+"."+name] {
					t.Errorf("no id rows for %s.%s", m.Name(), name)
				}
			}
		}
	}
}
