package server

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/quota-svc/quota/quota"
)

func TestPoolStoreErrorsMapToStatus(t *testing.T) {
	voidGrant := func(err error) (*fakeStore, func(context.Context, *env) error) {
		st := &fakeStore{voidGrant: func(context.Context, quota.VoidGrantOp) (quota.Grant, error) { return quota.Grant{}, err }}
		return st, func(ctx context.Context, e *env) error {
			_, err := e.admin.VoidPoolGrant(ctx, okVoidPoolGrant())
			return err
		}
	}
	addGrant := func(err error) (*fakeStore, func(context.Context, *env) error) {
		st := &fakeStore{addGrant: func(context.Context, quota.GrantOp) (quota.Grant, error) { return quota.Grant{}, err }}
		return st, func(ctx context.Context, e *env) error {
			_, err := e.admin.AddPoolGrant(ctx, okAddPoolGrant())
			return err
		}
	}
	cases := []struct {
		name  string
		setup func() (*fakeStore, func(context.Context, *env) error)
		want  wantStatus
	}{
		{
			name:  "a missing grant is NOT_FOUND",
			setup: func() (*fakeStore, func(context.Context, *env) error) { return voidGrant(quota.ErrGrantNotFound) },
			want:  wantStatus{codes.NotFound, "GRANT_NOT_FOUND", ""},
		},
		{
			name: "a wrapped missing grant is NOT_FOUND",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				return voidGrant(fmt.Errorf("store: %w", quota.ErrGrantNotFound))
			},
			want: wantStatus{codes.NotFound, "GRANT_NOT_FOUND", ""},
		},
		{
			name:  "voiding an ended grant is FAILED_PRECONDITION",
			setup: func() (*fakeStore, func(context.Context, *env) error) { return voidGrant(quota.ErrGrantEnded) },
			want:  wantStatus{codes.FailedPrecondition, "GRANT_ENDED", ""},
		},
		{
			name:  "a pool grant in a missing workspace is WORKSPACE_NOT_FOUND",
			setup: func() (*fakeStore, func(context.Context, *env) error) { return addGrant(quota.ErrWorkspaceNotFound) },
			want:  wantStatus{codes.NotFound, "WORKSPACE_NOT_FOUND", ""},
		},
		{
			name: "member and spender refused by the store is MEMBER_OR_SPENDER",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				st := &fakeStore{reserve: func(context.Context, quota.ReserveOp) (quota.Outcome, error) {
					return quota.Outcome{}, quota.ErrMemberAndSpender
				}}
				return st, func(ctx context.Context, e *env) error {
					_, err := e.quota.Reserve(ctx, okSpenderReserve())
					return err
				}
			},
			want: wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"},
		},
		{
			name: "a policy for a missing workspace is WORKSPACE_NOT_FOUND",
			setup: func() (*fakeStore, func(context.Context, *env) error) {
				st := &fakeStore{setPolicy: func(context.Context, quota.PolicyOp) (quota.Workspace, error) {
					return quota.Workspace{}, quota.ErrWorkspaceNotFound
				}}
				return st, func(ctx context.Context, e *env) error {
					_, err := e.admin.SetWorkspacePolicy(ctx, okSetWorkspacePolicy())
					return err
				}
			},
			want: wantStatus{codes.NotFound, "WORKSPACE_NOT_FOUND", ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, call := tc.setup()
			e := newEnv(t, st)
			checkStatus(t, call(testCtx(t), e), tc.want)
		})
	}
}

func TestGrantEndedHasAPreconditionFailure(t *testing.T) {
	_, d := detailsOf(t, toStatus(quota.ErrGrantEnded, slog.New(slog.DiscardHandler)))
	want := &errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: "STATE", Subject: "grant", Description: "the pool grant has already expired or been voided",
	}}}
	if diff := cmp.Diff(want, d.pre, protocmp.Transform()); diff != "" {
		t.Errorf("PreconditionFailure (-want +got):\n%s", diff)
	}
}

func TestPoolDenialsAreResourceExhaustedWithTheirReason(t *testing.T) {
	cases := []struct {
		name, reason string
		spender      bool
		wantMeta     map[string]string
		wantSubject  string
	}{
		{
			name: "a member's pool cap", reason: quota.ReasonPoolCapReached,
			wantMeta:    map[string]string{"memberId": "user@example.com"},
			wantSubject: "member:user@example.com",
		},
		{
			name: "the programmatic cap", reason: quota.ReasonProgrammaticCapReached, spender: true,
			wantMeta:    map[string]string{"spenderId": "key:ci-bot"},
			wantSubject: "spender:key:ci-bot",
		},
		{
			name: "a spender with every source spent", reason: quota.ReasonCreditsExhausted, spender: true,
			wantMeta:    map[string]string{"spenderId": "key:ci-bot"},
			wantSubject: "spender:key:ci-bot",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, &fakeStore{reserve: func(_ context.Context, op quota.ReserveOp) (quota.Outcome, error) {
				return quota.Outcome{}, quota.DeniedError(quota.Denial{
					Reason: tc.reason, MemberID: op.MemberID, SpenderID: op.SpenderID,
					Requested: op.Amount, Minimum: op.Min, Available: 250_000,
				})
			}})
			req := okReserve()
			if tc.spender {
				req = okSpenderReserve()
			}
			req.Amount, req.MinAmount = 4*quota.Credit, quota.Credit
			_, err := e.quota.Reserve(testCtx(t), req)
			checkStatus(t, err, wantStatus{codes.ResourceExhausted, tc.reason, ""})

			_, d := detailsOf(t, err)
			meta := map[string]string{"requested": "4000000", "minimum": "1000000", "available": "250000"}
			for k, v := range tc.wantMeta {
				meta[k] = v
			}
			if diff := cmp.Diff(meta, d.info.GetMetadata()); diff != "" {
				t.Errorf("ErrorInfo metadata (-want +got):\n%s", diff)
			}
			wantQF := &errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
				Subject: tc.wantSubject, Description: "asked for 4000000 µcredits (at least 1000000), 250000 available",
			}}}
			if diff := cmp.Diff(wantQF, d.quota, protocmp.Transform()); diff != "" {
				t.Errorf("QuotaFailure (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToStatusMapsPoolErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want wantStatus
	}{
		{"member and spender", quota.ErrMemberAndSpender, wantStatus{codes.InvalidArgument, "MEMBER_OR_SPENDER", "member_id"}},
		{"no member or spender", quota.ErrNoMemberOrSpender, wantStatus{codes.InvalidArgument, "MEMBER_REQUIRED", "member_id"}},
		{"a missing grant", quota.ErrGrantNotFound, wantStatus{codes.NotFound, "GRANT_NOT_FOUND", ""}},
		{"an ended grant", quota.ErrGrantEnded, wantStatus{codes.FailedPrecondition, "GRANT_ENDED", ""}},
		{"a pool cap denial", quota.DeniedError(quota.Denial{Reason: quota.ReasonPoolCapReached, MemberID: "m"}), wantStatus{codes.ResourceExhausted, "POOL_CAP_REACHED", ""}},
		{"a programmatic cap denial", quota.DeniedError(quota.Denial{Reason: quota.ReasonProgrammaticCapReached, SpenderID: "k"}), wantStatus{codes.ResourceExhausted, "PROGRAMMATIC_CAP_REACHED", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkStatus(t, toStatus(tc.err, slog.New(slog.DiscardHandler)), tc.want)
		})
	}
}
