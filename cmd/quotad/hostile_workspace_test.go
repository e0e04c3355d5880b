package main

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// otherWorkspaceRows: ids and reservations of another workspace, ids
// never issued, and tokens limited to another workspace.
func otherWorkspaceRows() []hostileRow {
	resNotFound := notFound("RESERVATION_NOT_FOUND")
	denied := hostileWant{codes.PermissionDenied, "WORKSPACE_NOT_PERMITTED", ""}
	neverIssued := "c_0123456789abcdef0123456789abcdef_0"
	rows := []hostileRow{
		{name: "Extend in beta a reservation of acme", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Extend(ctx, &quotav1.ExtendRequest{WorkspaceId: "beta", ReservationId: h.resAcme, RequestId: "row-x-extend", AddAmount: credit})
			return err
		}},
		{name: "Commit in beta a reservation of acme", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "beta", ReservationId: h.resAcme, RequestId: "row-x-commit", Usage: smallUsage()})
			return err
		}},
		{name: "Refund in beta a reservation of acme", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Refund(ctx, &quotav1.RefundRequest{WorkspaceId: "beta", ReservationId: h.resAcme, RequestId: "row-x-refund"})
			return err
		}},
		{name: "GetReservation in beta a reservation of acme", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: "beta", ReservationId: h.resAcme})
			return err
		}},
		{name: "ListRunCosts in beta of a reservation of acme", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.ListRunCosts(ctx, &quotav1.ListRunCostsRequest{WorkspaceId: "beta", ReservationId: h.resAcme})
			return err
		}},
		{name: "Reserve in beta a child of a reservation of acme", want: notFound("PARENT_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "beta", ParentReservationId: h.resAcme, RequestId: "row-x-child", Amount: credit})
			return err
		}},
		{name: "VoidPoolGrant in beta a grant of acme", want: notFound("GRANT_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.VoidPoolGrant(ctx, &quotav1.VoidPoolGrantRequest{WorkspaceId: "beta", GrantId: h.grantAcme, RequestId: "row-x-void"})
			return err
		}},
		{name: "GetReservation of an id never issued", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.GetReservation(ctx, &quotav1.GetReservationRequest{WorkspaceId: "acme", ReservationId: neverIssued})
			return err
		}},
		{name: "Commit a reservation id with a price version never set", want: resNotFound, call: func(ctx context.Context, h *hostile) error {
			id := h.resAcme[:strings.LastIndexByte(h.resAcme, '_')] + "_999999999999999999"
			_, err := h.c.quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "acme", ReservationId: id, RequestId: "row-x-version", Usage: smallUsage()})
			return err
		}},
		{name: "GetWorkspace of a workspace never set up", want: notFound("WORKSPACE_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.GetWorkspace(ctx, &quotav1.GetWorkspaceRequest{WorkspaceId: "nowhere"})
			return err
		}},
		{name: "Reserve in a workspace never set up", want: notFound("WORKSPACE_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "nowhere", MemberId: "alice", RequestId: "row-x-nowhere",
				Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
			return err
		}},
		{name: "SetSeat in a workspace never set up", want: notFound("WORKSPACE_NOT_FOUND"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "nowhere", MemberId: "alice", RequestId: "row-x-seat", Seat: quotav1.Seat_SEAT_PRO})
			return err
		}},
		{name: "Reserve by acme's token in beta", token: hostileAcmeOrch, want: denied, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "beta", MemberId: "bob", RequestId: "row-x-token",
				Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
			return err
		}},
		{name: "Commit by acme's token of beta's reservation", token: hostileAcmeOrch, want: denied, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "beta", ReservationId: h.resBeta, RequestId: "row-x-token", Usage: smallUsage()})
			return err
		}},
		{name: "GetBalance by acme's token in beta", token: hostileAcmeOrch, want: denied, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.GetBalance(ctx, &quotav1.GetBalanceRequest{WorkspaceId: "beta", MemberId: "bob"})
			return err
		}},
		{name: "VoidPoolGrant by acme's admin token of beta's grant", token: hostileAcmeAdmin, want: denied, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.VoidPoolGrant(ctx, &quotav1.VoidPoolGrantRequest{WorkspaceId: "beta", GrantId: h.grantBeta, RequestId: "row-x-token"})
			return err
		}},
		{name: "SetPricing by acme's admin token", token: hostileAcmeAdmin, want: denied, call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.SetPricing(ctx, &quotav1.SetPricingRequest{RequestId: "row-x-token", Pricing: h.defaultPricing()})
			return err
		}},
		{name: "SetSeat by acme's orchestrator token", token: hostileAcmeOrch, want: hostileWant{codes.PermissionDenied, "ROLE_NOT_PERMITTED", ""},
			call: func(ctx context.Context, h *hostile) error {
				_, err := h.c.admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "row-x-role", Seat: quotav1.Seat_SEAT_MAX})
				return err
			}},
		{name: "Reserve with a token quotad does not know", token: "not-a-token-of-this-quotad", want: hostileWant{codes.Unauthenticated, "TOKEN_INVALID", ""},
			call: func(ctx context.Context, h *hostile) error {
				_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "row-x-bad-token",
					Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
				return err
			}},
	}
	// alice is acme's member: in beta she has no seat, a denial, which is
	// recorded.
	rows = append(rows, hostileRow{name: "Reserve in beta for acme's member", want: hostileWant{codes.ResourceExhausted, "NO_SEAT", ""}, recorded: true,
		call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "beta", MemberId: "alice", RequestId: "row-x-member",
				Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
			return err
		}})
	return rows
}
