package server

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// testAnchor is the subscription start of the reports' test workspace:
// testNow (2025-03-14 12:00) is in the period from 2025-03-01 08:00.
var testAnchor = time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)

func TestGetUsageConvertsBothWays(t *testing.T) {
	day := func(y int, m time.Month, d int) int64 { return quota.DayOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) }
	var ops []quota.UsageOp
	e := newEnv(t, &fakeStore{
		getWorkspace: func(_ context.Context, ws string) (quota.Workspace, error) {
			return quota.Workspace{ID: ws, SubscriptionStart: testAnchor}, nil
		},
		usage: func(_ context.Context, op quota.UsageOp) (quota.UsagePage, error) {
			ops = append(ops, op)
			page := quota.UsagePage{Total: quota.UsageGroup{Cost: 9, TokenCost: 4, ActionCost: 5, Commits: 2, Charged: 7, Shortfall: 2}}
			if op.After == "" {
				page.Groups = []quota.UsageGroup{{Key: "ann", Cost: 3, TokenCost: 1, ActionCost: 2, Tokens: 10, Actions: 2, Commits: 1, Charged: 3}}
				page.More = true
			} else {
				page.Groups = []quota.UsageGroup{{Key: "~bot", Cost: 6, TokenCost: 3, ActionCost: 3, Commits: 1, Charged: 4, Shortfall: 2}}
			}
			return page, nil
		},
	})
	ctx := testCtx(t)
	// The range is unset: the current period (from March 1, 08:00) to
	// now, in whole days.
	first, err := e.admin.GetUsage(ctx, &quotav1.GetUsageRequest{WorkspaceId: "ws-1", GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_MEMBER, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	total := &quotav1.UsageGroup{Cost: 9, TokenCost: 4, ActionCost: 5, Commits: 2, Charged: 7, Shortfall: 2}
	want := &quotav1.GetUsageResponse{
		Groups:    []*quotav1.UsageGroup{{Key: "ann", Cost: 3, TokenCost: 1, ActionCost: 2, Tokens: 10, Actions: 2, Commits: 1, Charged: 3}},
		StartTime: timestamppb.New(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)),
		EndTime:   timestamppb.New(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)),
		Total:     total,
	}
	if first.GetNextPageToken() == "" {
		t.Fatal("no next page token")
	}
	if diff := cmp.Diff(want, first, protocmp.Transform(), protocmp.IgnoreFields(&quotav1.GetUsageResponse{}, "next_page_token")); diff != "" {
		t.Errorf("first page (-want +got):\n%s", diff)
	}
	last, err := e.admin.GetUsage(ctx, &quotav1.GetUsageRequest{WorkspaceId: "ws-1", GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_MEMBER,
		PageSize: 1, PageToken: first.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	want.Groups = []*quotav1.UsageGroup{{Key: "~bot", Cost: 6, TokenCost: 3, ActionCost: 3, Commits: 1, Charged: 4, Shortfall: 2}}
	if diff := cmp.Diff(want, last, protocmp.Transform()); diff != "" {
		t.Errorf("last page (-want +got):\n%s", diff)
	}
	// A range given: rounded to days, grouped by tool tier.
	if _, err := e.admin.GetUsage(ctx, &quotav1.GetUsageRequest{WorkspaceId: "ws-1", GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_TOOL_TIER,
		StartTime: timestamppb.New(time.Date(2025, 2, 3, 23, 0, 0, 0, time.UTC)),
		EndTime:   timestamppb.New(time.Date(2025, 2, 5, 0, 0, 0, 0, time.UTC))}); err != nil {
		t.Fatal(err)
	}
	wantOps := []quota.UsageOp{
		{WorkspaceID: "ws-1", GroupBy: quota.UsageByMember, FirstDay: day(2025, 3, 1), EndDay: day(2025, 3, 15), Limit: 1},
		{WorkspaceID: "ws-1", GroupBy: quota.UsageByMember, FirstDay: day(2025, 3, 1), EndDay: day(2025, 3, 15), Limit: 1, After: "ann"},
		{WorkspaceID: "ws-1", GroupBy: quota.UsageByTier, FirstDay: day(2025, 2, 3), EndDay: day(2025, 2, 5), Limit: quota.DefaultPageSize},
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("UsageOps (-want +got):\n%s", diff)
	}
}

func TestListMembersConvertsBalances(t *testing.T) {
	var afters []string
	e := newEnv(t, &fakeStore{listMembers: func(_ context.Context, ws string, now time.Time, after string, limit int) ([]quota.Balance, string, error) {
		afters = append(afters, after)
		if ws != "ws-1" || !now.Equal(testNow) || limit != 2 {
			t.Errorf("ListMembers(%q, %v, %q, %d)", ws, now, after, limit)
		}
		if after == "" {
			return []quota.Balance{{WorkspaceID: ws, MemberID: "ann", Seat: quota.SeatPro, Allocated: 8}, {WorkspaceID: ws, MemberID: "bob"}}, "bob", nil
		}
		return []quota.Balance{{WorkspaceID: ws, MemberID: "cat", Seat: quota.SeatMax, PoolCap: 5, HasPoolCap: true}}, "", nil
	}})
	ctx := testCtx(t)
	resp, err := e.admin.ListMembers(ctx, &quotav1.ListMembersRequest{WorkspaceId: "ws-1", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetMembers()) != 2 || resp.GetMembers()[0].GetSeat() != quotav1.Seat_SEAT_PRO || resp.GetMembers()[0].GetAllocated() != 8 ||
		resp.GetMembers()[1].GetSeat() != quotav1.Seat_SEAT_UNASSIGNED || resp.GetNextPageToken() == "" {
		t.Errorf("first page: %v", resp)
	}
	resp, err = e.admin.ListMembers(ctx, &quotav1.ListMembersRequest{WorkspaceId: "ws-1", PageSize: 2, PageToken: resp.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetMembers()) != 1 || resp.GetMembers()[0].GetMemberId() != "cat" || resp.GetMembers()[0].GetPoolCap() != 5 || resp.GetNextPageToken() != "" {
		t.Errorf("last page: %v", resp)
	}
	if diff := cmp.Diff([]string{"", "bob"}, afters); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
}

func TestListLedgerEntriesConvertsEntries(t *testing.T) {
	at := testNow.Add(-time.Hour)
	var ops []quota.LedgerOp
	e := newEnv(t, &fakeStore{listLedger: func(_ context.Context, op quota.LedgerOp) (quota.LedgerPage, error) {
		ops = append(ops, op)
		return quota.LedgerPage{Next: "17-3", Done: true, Entries: []quota.LedgerEntry{{
			ID: "17-2", Time: at, Op: "commit", SpenderID: "bot", ReservationID: testResID, RequestID: "req-9",
			Amounts: []quota.LedgerAmount{{Name: "cost", Amount: 5}, {Name: "pool", Amount: 5}},
			Grants:  []quota.SourceAmount{{Source: quota.SourcePool, GrantID: "g1", Amount: 5}},
		}, {
			ID: "17-3", Time: at, Op: "refund", MemberID: "ann", RelatedReservationID: testResID, GrantID: "g2",
			Actor: "ops", Reason: "duplicate run",
		}}}, nil
	}})
	ctx := testCtx(t)
	start := timestamppb.New(at)
	resp, err := e.admin.ListLedgerEntries(ctx, &quotav1.ListLedgerEntriesRequest{WorkspaceId: "ws-1", SpenderId: "bot",
		Operations: []string{"commit", "refund"}, StartTime: start, PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []*quotav1.LedgerEntry{{
		EntryId: "17-2", Time: timestamppb.New(at), Operation: "commit", SpenderId: "bot", ReservationId: testResID, RequestId: "req-9",
		Amounts: []*quotav1.LedgerAmount{{Name: "cost", Amount: 5}, {Name: "pool", Amount: 5}},
		Grants:  []*quotav1.SourceAmount{{Source: quotav1.Source_SOURCE_POOL, GrantId: "g1", Amount: 5}},
	}, {
		EntryId: "17-3", Time: timestamppb.New(at), Operation: "refund", MemberId: "ann", RelatedReservationId: testResID,
		GrantId: "g2", Actor: "ops", Reason: "duplicate run",
	}}
	if diff := cmp.Diff(want, resp.GetEntries(), protocmp.Transform()); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// No end: a token even after the last entry, which carries the cursor.
	if resp.GetNextPageToken() == "" {
		t.Fatal("no token without an end_time")
	}
	if _, err := e.admin.ListLedgerEntries(ctx, &quotav1.ListLedgerEntriesRequest{WorkspaceId: "ws-1", SpenderId: "bot",
		Operations: []string{"commit", "refund"}, StartTime: start, PageSize: 3, PageToken: resp.GetNextPageToken()}); err != nil {
		t.Fatal(err)
	}
	// An end: the last page has no token.
	resp, err = e.admin.ListLedgerEntries(ctx, &quotav1.ListLedgerEntriesRequest{WorkspaceId: "ws-1", MemberId: "ann",
		EndTime: timestamppb.New(testNow)})
	if err != nil || resp.GetNextPageToken() != "" {
		t.Errorf("with an end_time: token %q, %v", resp.GetNextPageToken(), err)
	}
	wantOps := []quota.LedgerOp{
		{WorkspaceID: "ws-1", Owner: "~bot", Ops: []string{"commit", "refund"}, Start: at, Limit: 3, Budget: 30},
		{WorkspaceID: "ws-1", Owner: "~bot", Ops: []string{"commit", "refund"}, Start: at, Limit: 3, Budget: 30, From: "17-3"},
		{WorkspaceID: "ws-1", Owner: "ann", End: testNow, Limit: quota.DefaultPageSize, Budget: 10 * quota.DefaultPageSize},
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("LedgerOps (-want +got):\n%s", diff)
	}
}

func TestListReservationsConvertsHolds(t *testing.T) {
	var ops []quota.HoldsOp
	e := newEnv(t, &fakeStore{listHolds: func(_ context.Context, op quota.HoldsOp) (quota.HoldsPage, error) {
		ops = append(ops, op)
		r := quota.Reservation{WorkspaceID: "ws-1", ID: testResID, MemberID: "ann", Origin: quota.OriginConversation,
			State: quota.StateExpired, Held: 7, Deadline: testNow.Add(-time.Second)}
		if op.AfterHex == "" {
			return quota.HoldsPage{Reservations: []quota.Reservation{r}, More: true, LastDeadline: 1234, LastHex: "abc"}, nil
		}
		return quota.HoldsPage{}, nil
	}})
	ctx := testCtx(t)
	resp, err := e.admin.ListReservations(ctx, &quotav1.ListReservationsRequest{WorkspaceId: "ws-1", MemberId: "ann", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetReservations()) != 1 || resp.GetReservations()[0].GetState() != quotav1.ReservationState_RESERVATION_STATE_EXPIRED ||
		resp.GetReservations()[0].GetHeld() != 7 || resp.GetNextPageToken() == "" {
		t.Errorf("first page: %v", resp)
	}
	resp, err = e.admin.ListReservations(ctx, &quotav1.ListReservationsRequest{WorkspaceId: "ws-1", MemberId: "ann", PageSize: 1,
		PageToken: resp.GetNextPageToken()})
	if err != nil || len(resp.GetReservations()) != 0 || resp.GetNextPageToken() != "" {
		t.Errorf("last page: %v, %v", resp, err)
	}
	wantOps := []quota.HoldsOp{
		{WorkspaceID: "ws-1", Owner: "ann", Now: testNow, Limit: 1, Budget: 10},
		{WorkspaceID: "ws-1", Owner: "ann", Now: testNow, Limit: 1, Budget: 10, AfterDeadline: 1234, AfterHex: "abc"},
	}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("HoldsOps (-want +got):\n%s", diff)
	}
}

func TestReportsBadInputIsRejectedBeforeTheStore(t *testing.T) {
	var cases []badInputCase
	add := func(cs ...badInputCase) { cases = append(cases, cs...) }
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(d)) }

	okUsage := func() *quotav1.GetUsageRequest {
		return &quotav1.GetUsageRequest{WorkspaceId: "ws-1", GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_DAY}
	}
	usage := func(ctx context.Context, e *env, r *quotav1.GetUsageRequest) error {
		_, err := e.admin.GetUsage(ctx, r)
		return err
	}
	add(idsOf("GetUsage", okUsage, usage, map[string]func(*quotav1.GetUsageRequest, string){
		"workspace_id": func(r *quotav1.GetUsageRequest, id string) { r.WorkspaceId = id },
	})...)
	add(
		badInputCase{"GetUsage rejects an unspecified group_by",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.GroupBy = 0 }, usage), invalid("group_by")},
		badInputCase{"GetUsage rejects unknown group_by 42",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.GroupBy = 42 }, usage), invalid("group_by")},
		badInputCase{"GetUsage rejects an invalid start_time",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.StartTime = &timestamppb.Timestamp{Nanos: -1} }, usage), invalid("start_time")},
		badInputCase{"GetUsage rejects an end_time before start_time",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.StartTime, r.EndTime = ts(0), ts(-time.Hour) }, usage), invalid("end_time")},
		badInputCase{"GetUsage rejects a range over 400 days",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.StartTime, r.EndTime = ts(0), ts(400*24*time.Hour) }, usage),
			wantStatus{codes.InvalidArgument, "LIMIT_EXCEEDED", "end_time"}},
		badInputCase{"GetUsage rejects a negative page_size",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.PageSize = -1 }, usage), invalid("page_size")},
		badInputCase{"GetUsage rejects a page_token it did not make",
			call(okUsage, func(r *quotav1.GetUsageRequest) { r.PageToken = "bWVtYmVycwBhbm4" }, usage), invalid("page_token")},
	)

	okMembers := func() *quotav1.ListMembersRequest { return &quotav1.ListMembersRequest{WorkspaceId: "ws-1"} }
	members := func(ctx context.Context, e *env, r *quotav1.ListMembersRequest) error {
		_, err := e.admin.ListMembers(ctx, r)
		return err
	}
	add(idsOf("ListMembers", okMembers, members, map[string]func(*quotav1.ListMembersRequest, string){
		"workspace_id": func(r *quotav1.ListMembersRequest, id string) { r.WorkspaceId = id },
	})...)
	add(
		badInputCase{"ListMembers rejects a negative page_size",
			call(okMembers, func(r *quotav1.ListMembersRequest) { r.PageSize = -5 }, members), invalid("page_size")},
		badInputCase{"ListMembers rejects a page_token that is not base64",
			call(okMembers, func(r *quotav1.ListMembersRequest) { r.PageToken = "!!" }, members), invalid("page_token")},
	)

	okLedger := func() *quotav1.ListLedgerEntriesRequest {
		return &quotav1.ListLedgerEntriesRequest{WorkspaceId: "ws-1"}
	}
	ledger := func(ctx context.Context, e *env, r *quotav1.ListLedgerEntriesRequest) error {
		_, err := e.admin.ListLedgerEntries(ctx, r)
		return err
	}
	add(idsOf("ListLedgerEntries", okLedger, ledger, map[string]func(*quotav1.ListLedgerEntriesRequest, string){
		"workspace_id": func(r *quotav1.ListLedgerEntriesRequest, id string) { r.WorkspaceId = id },
	})...)
	add(
		badInputCase{"ListLedgerEntries rejects a bad member_id",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.MemberId = "a b" }, ledger), invalid("member_id")},
		badInputCase{"ListLedgerEntries rejects a bad spender_id",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.SpenderId = "{x}" }, ledger), invalid("spender_id")},
		badInputCase{"ListLedgerEntries rejects member_id and spender_id",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.MemberId, r.SpenderId = "ann", "bot" }, ledger),
			wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"}},
		badInputCase{"ListLedgerEntries rejects an unknown operation",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.Operations = []string{"reserve", "steal"} }, ledger), invalid("operations[1]")},
		badInputCase{"ListLedgerEntries rejects an invalid end_time",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.EndTime = &timestamppb.Timestamp{Seconds: 1 << 40} }, ledger), invalid("end_time")},
		badInputCase{"ListLedgerEntries rejects an end_time equal to start_time",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.StartTime, r.EndTime = ts(0), ts(0) }, ledger), invalid("end_time")},
		badInputCase{"ListLedgerEntries rejects a negative page_size",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.PageSize = -1 }, ledger), invalid("page_size")},
		badInputCase{"ListLedgerEntries rejects a page_token it did not make",
			call(okLedger, func(r *quotav1.ListLedgerEntriesRequest) { r.PageToken = "garbage" }, ledger), invalid("page_token")},
	)

	okHolds := func() *quotav1.ListReservationsRequest { return &quotav1.ListReservationsRequest{WorkspaceId: "ws-1"} }
	holds := func(ctx context.Context, e *env, r *quotav1.ListReservationsRequest) error {
		_, err := e.admin.ListReservations(ctx, r)
		return err
	}
	add(idsOf("ListReservations", okHolds, holds, map[string]func(*quotav1.ListReservationsRequest, string){
		"workspace_id": func(r *quotav1.ListReservationsRequest, id string) { r.WorkspaceId = id },
	})...)
	add(
		badInputCase{"ListReservations rejects a bad member_id",
			call(okHolds, func(r *quotav1.ListReservationsRequest) { r.MemberId = "é" }, holds), invalid("member_id")},
		badInputCase{"ListReservations rejects member_id and spender_id",
			call(okHolds, func(r *quotav1.ListReservationsRequest) { r.MemberId, r.SpenderId = "ann", "bot" }, holds),
			wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"}},
		badInputCase{"ListReservations rejects a negative page_size",
			call(okHolds, func(r *quotav1.ListReservationsRequest) { r.PageSize = -1 }, holds), invalid("page_size")},
		badInputCase{"ListReservations rejects a page_token of another list",
			call(okHolds, func(r *quotav1.ListReservationsRequest) { r.PageToken = "bWVtYmVycwBhbm4" }, holds), invalid("page_token")},
	)
	runBadInput(t, cases)
}

// A report with no end ends now: at the very instant its period starts it
// is that day's (empty) report, not an error on an end_time the client
// did not send; a start after now with no end names start_time.
func TestGetUsageWithNoEndAtThePeriodsFirstInstant(t *testing.T) {
	var ops []quota.UsageOp
	e := newEnv(t, &fakeStore{
		getWorkspace: func(_ context.Context, ws string) (quota.Workspace, error) {
			return quota.Workspace{ID: ws, SubscriptionStart: testNow}, nil
		},
		usage: func(_ context.Context, op quota.UsageOp) (quota.UsagePage, error) {
			ops = append(ops, op)
			return quota.UsagePage{}, nil
		},
	})
	ctx := testCtx(t)
	got, err := e.admin.GetUsage(ctx, &quotav1.GetUsageRequest{WorkspaceId: "ws-1", GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_MEMBER})
	if err != nil {
		t.Fatalf("GetUsage at the period's first instant: %v", err)
	}
	today := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, time.UTC)
	if !got.GetStartTime().AsTime().Equal(today) || !got.GetEndTime().AsTime().Equal(today.AddDate(0, 0, 1)) {
		t.Errorf("range = %v to %v, want the day %v", got.GetStartTime().AsTime(), got.GetEndTime().AsTime(), today)
	}
	if len(ops) != 1 || ops[0].EndDay-ops[0].FirstDay != 1 {
		t.Errorf("store calls = %+v, want one of one day", ops)
	}
	_, err = e.admin.GetUsage(ctx, &quotav1.GetUsageRequest{WorkspaceId: "ws-1", GroupBy: quotav1.UsageGrouping_USAGE_GROUPING_MEMBER,
		StartTime: timestamppb.New(testNow.Add(time.Hour))})
	st, d := detailsOf(t, err)
	if st.Code() != codes.InvalidArgument || len(d.bad.GetFieldViolations()) != 1 || d.bad.GetFieldViolations()[0].GetField() != "start_time" {
		t.Errorf("a start after now with no end = %v %q %v, want INVALID_ARGUMENT on start_time", st.Code(), st.Message(), d.bad.GetFieldViolations())
	}
	if len(ops) != 1 {
		t.Errorf("the refused report reached the store")
	}
}
