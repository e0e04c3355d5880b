package store

import (
	"context"
	"errors"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// Adjust credits or debits a member's seat credits of this period, or the
// pool (lua/fn_adjust.lua).
func (s *Store) Adjust(ctx context.Context, op quota.AdjustOp) (quota.Adjustment, error) {
	var expiry int64
	if !op.Expiry.IsZero() {
		expiry = op.Expiry.UnixMilli()
	}
	r, err := s.do(ctx, mutation(fnAdjust, op.WorkspaceID, op.Idem, op.Now, op.MemberID, op.Amount,
		op.Actor, op.Reason, expiry, int(quota.GrantTopUp)))
	if err != nil {
		var x exceedsError
		if errors.As(err, &x) {
			return quota.Adjustment{}, quota.AdjustExceedsError(op.Amount, x.available, op.MemberID == "")
		}
		return quota.Adjustment{}, err
	}
	var out quota.Adjustment
	if r.int() == 1 {
		b, err := balance(op.WorkspaceID, op.MemberID, r.layout(schema.ReplyBalance))
		if err != nil {
			return quota.Adjustment{}, err
		}
		out.Balance = &b
	}
	if out.Workspace, err = workspaceBalance(op.WorkspaceID, r.layout(schema.ReplyWorkspace)); err != nil {
		return quota.Adjustment{}, err
	}
	if r.int() == 1 {
		g, err := grant(op.WorkspaceID, r.layout(schema.ReplyGrant))
		if err != nil {
			return quota.Adjustment{}, err
		}
		out.Grant = &g
	}
	return out, nil
}

// exceedsError is fn_adjust's refusal of a debit larger than what is
// available; Adjust turns it into quota.AdjustExceedsError.
type exceedsError struct{ available int64 }

func (e exceedsError) Error() string { return "store: the debit exceeds what is available" }
