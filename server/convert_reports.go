package server

import (
	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
)

// Conversions of the reports' messages.

// usageGroupingFromProto converts a required usage grouping.
func usageGroupingFromProto(g quotav1.UsageGrouping) (quota.UsageGrouping, error) {
	switch g {
	case quotav1.UsageGrouping_USAGE_GROUPING_MEMBER:
		return quota.UsageByMember, nil
	case quotav1.UsageGrouping_USAGE_GROUPING_AGENT:
		return quota.UsageByAgent, nil
	case quotav1.UsageGrouping_USAGE_GROUPING_MODEL:
		return quota.UsageByModel, nil
	case quotav1.UsageGrouping_USAGE_GROUPING_TOOL_TIER:
		return quota.UsageByTier, nil
	case quotav1.UsageGrouping_USAGE_GROUPING_ORIGIN:
		return quota.UsageByOrigin, nil
	case quotav1.UsageGrouping_USAGE_GROUPING_DAY:
		return quota.UsageByDay, nil
	case quotav1.UsageGrouping_USAGE_GROUPING_UNSPECIFIED:
		return quota.UsageUnknown, quota.Invalid("group_by", "group_by is required: MEMBER, AGENT, MODEL, TOOL_TIER, ORIGIN or DAY")
	default:
		return quota.UsageUnknown, quota.Invalid("group_by", "unknown grouping %d: must be MEMBER, AGENT, MODEL, TOOL_TIER, ORIGIN or DAY", int32(g))
	}
}

// usageGroupToProto converts a usage group.
func usageGroupToProto(g *quota.UsageGroup) *quotav1.UsageGroup {
	return &quotav1.UsageGroup{
		Key:        g.Key,
		Cost:       g.Cost,
		TokenCost:  g.TokenCost,
		ActionCost: g.ActionCost,
		Tokens:     g.Tokens,
		Actions:    g.Actions,
		Commits:    g.Commits,
		Charged:    g.Charged,
		Shortfall:  g.Shortfall,
	}
}

// usageReportToProto converts a page of a usage report.
func usageReportToProto(r *quota.UsageReport) *quotav1.GetUsageResponse {
	out := &quotav1.GetUsageResponse{
		NextPageToken: r.NextPageToken,
		StartTime:     timeToProto(r.Start),
		EndTime:       timeToProto(r.End),
		Total:         usageGroupToProto(&r.Total),
	}
	for i := range r.Groups {
		out.Groups = append(out.Groups, usageGroupToProto(&r.Groups[i]))
	}
	return out
}

// ledgerEntryToProto converts a ledger entry.
func ledgerEntryToProto(e *quota.LedgerEntry) *quotav1.LedgerEntry {
	out := &quotav1.LedgerEntry{
		EntryId:              e.ID,
		Time:                 timeToProto(e.Time),
		Operation:            e.Op,
		MemberId:             e.MemberID,
		SpenderId:            e.SpenderID,
		ReservationId:        e.ReservationID,
		RequestId:            e.RequestID,
		Grants:               sourceAmountsToProto(e.Grants),
		RelatedReservationId: e.RelatedReservationID,
		GrantId:              e.GrantID,
		Actor:                e.Actor,
		Reason:               e.Reason,
	}
	for _, a := range e.Amounts {
		out.Amounts = append(out.Amounts, &quotav1.LedgerAmount{Name: a.Name, Amount: a.Amount})
	}
	return out
}
