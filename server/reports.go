package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// The AdminService reports: usage, the members table, the ledger and
// open reservations. The server checks ids, enums and timestamps; the
// domain checks page sizes, page tokens, ranges and operations.

// GetUsage returns a page of a workspace's usage, grouped.
func (s *adminServer) GetUsage(ctx context.Context, req *quotav1.GetUsageRequest) (*quotav1.GetUsageResponse, error) {
	r, err := usageRequestFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	rep, err := s.svc.GetUsage(ctx, r)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return usageReportToProto(&rep), nil
}

// ListMembers returns a page of a workspace's members with their
// balances.
func (s *adminServer) ListMembers(ctx context.Context, req *quotav1.ListMembersRequest) (*quotav1.ListMembersResponse, error) {
	if err := checkID("workspace_id", req.GetWorkspaceId()); err != nil {
		return nil, s.fail(ctx, err)
	}
	members, next, err := s.svc.ListMembers(ctx, req.GetWorkspaceId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &quotav1.ListMembersResponse{NextPageToken: next}
	for i := range members {
		out.Members = append(out.Members, balanceToProto(&members[i]))
	}
	return out, nil
}

// ListLedgerEntries returns a page of a workspace's ledger entries.
func (s *adminServer) ListLedgerEntries(ctx context.Context, req *quotav1.ListLedgerEntriesRequest) (*quotav1.ListLedgerEntriesResponse, error) {
	q, err := ledgerQueryFromProto(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	entries, next, err := s.svc.ListLedger(ctx, q)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &quotav1.ListLedgerEntriesResponse{NextPageToken: next}
	for i := range entries {
		out.Entries = append(out.Entries, ledgerEntryToProto(&entries[i]))
	}
	return out, nil
}

// ListReservations returns a page of a workspace's held reservations.
func (s *adminServer) ListReservations(ctx context.Context, req *quotav1.ListReservationsRequest) (*quotav1.ListReservationsResponse, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkOwnerFilter(req.GetMemberId(), req.GetSpenderId()),
	)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	rs, next, err := s.svc.ListReservations(ctx, req.GetWorkspaceId(), req.GetMemberId(), req.GetSpenderId(),
		int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &quotav1.ListReservationsResponse{NextPageToken: next}
	for i := range rs {
		out.Reservations = append(out.Reservations, reservationToProto(&rs[i]))
	}
	return out, nil
}

// checkOwnerFilter checks a list's optional member_id and spender_id: at
// most one, a valid id.
func checkOwnerFilter(memberID, spenderID string) error {
	if memberID == "" && spenderID == "" {
		return nil
	}
	return checkMemberOrSpender(memberID, spenderID)
}

// usageRequestFromProto converts and checks a GetUsageRequest.
func usageRequestFromProto(req *quotav1.GetUsageRequest) (quota.UsageRequest, error) {
	if err := checkID("workspace_id", req.GetWorkspaceId()); err != nil {
		return quota.UsageRequest{}, err
	}
	g, err := usageGroupingFromProto(req.GetGroupBy())
	if err != nil {
		return quota.UsageRequest{}, err
	}
	start, end, err := timeRangeFromProto(req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return quota.UsageRequest{}, err
	}
	return quota.UsageRequest{WorkspaceID: req.GetWorkspaceId(), GroupBy: g, Start: start, End: end,
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}, nil
}

// ledgerQueryFromProto converts and checks a ListLedgerEntriesRequest.
func ledgerQueryFromProto(req *quotav1.ListLedgerEntriesRequest) (quota.LedgerQuery, error) {
	err := firstError(
		checkID("workspace_id", req.GetWorkspaceId()),
		checkOwnerFilter(req.GetMemberId(), req.GetSpenderId()),
	)
	if err != nil {
		return quota.LedgerQuery{}, err
	}
	start, end, err := timeRangeFromProto(req.GetStartTime(), req.GetEndTime())
	if err != nil {
		return quota.LedgerQuery{}, err
	}
	return quota.LedgerQuery{WorkspaceID: req.GetWorkspaceId(), MemberID: req.GetMemberId(), SpenderID: req.GetSpenderId(),
		Operations: req.GetOperations(), Start: start, End: end, PageSize: int(req.GetPageSize()),
		PageToken: req.GetPageToken()}, nil
}

// timeRangeFromProto converts a report's optional start_time and
// end_time; unset is the zero time. The domain checks their order.
func timeRangeFromProto(start, end *timestamppb.Timestamp) (time.Time, time.Time, error) {
	s, err := optionalTimeFromProto("start_time", start)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	e, err := optionalTimeFromProto("end_time", end)
	return s, e, err
}
