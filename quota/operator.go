package quota

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Operator actions: a refund forced by an operator and adjustments of a
// member's credits or of the pool. Both record who made them (the name of
// the caller's token) and why, in the ledger entry of their change.

// MaxReasonLen is the longest reason an operator may give, in bytes.
const MaxReasonLen = 500

// checkReason validates an operator's reason: 1 to MaxReasonLen bytes of
// UTF-8 without control characters (it is printed in the ledger and by
// quotactl on one line).
func checkReason(reason string) error {
	switch {
	case reason == "":
		return Invalid("reason", "is required: say why, for the ledger")
	case len(reason) > MaxReasonLen:
		return Invalid("reason", "must be at most %d bytes, got %d", MaxReasonLen, len(reason))
	case !utf8.ValidString(reason):
		return Invalid("reason", "must be valid UTF-8")
	}
	for _, r := range reason {
		if unicode.IsControl(r) {
			return Invalid("reason", "must not contain control characters (newlines, tabs, NUL)")
		}
	}
	return nil
}

// OperatorRefundRequest is an operator's refund of a held reservation.
type OperatorRefundRequest struct {
	Idem
	WorkspaceID   string
	ReservationID string
	// Reason is required; Actor names the operator (may be "").
	Reason, Actor string
}

// OperatorRefund voids a held reservation as Refund does, with the
// operator and their reason in the ledger.
func (s *Service) OperatorRefund(ctx context.Context, r OperatorRefundRequest) (Outcome, error) {
	if err := checkReason(r.Reason); err != nil {
		return Outcome{}, err
	}
	return s.refund(ctx, RefundRequest{Idem: r.Idem, WorkspaceID: r.WorkspaceID, ReservationID: r.ReservationID}, r.Actor, r.Reason)
}

// AdjustRequest credits (Amount > 0) or debits (Amount < 0) a member's
// own credits, or the pool when MemberID is "".
type AdjustRequest struct {
	Idem
	WorkspaceID, MemberID string
	Amount                int64
	// Reason is required; Actor names the operator (may be "").
	Reason, Actor string
	// Expiry is a pool credit's grant expiry; zero means a top-up's
	// lifetime from now.
	Expiry time.Time
}

// AdjustOp is a validated adjustment: Expiry is set for a pool credit.
type AdjustOp struct {
	Idem
	WorkspaceID, MemberID string
	Amount                int64
	Reason, Actor         string
	Expiry                time.Time
	Now                   time.Time
}

// Adjustment is what an adjustment left: the member's balance (nil for
// the pool), the workspace's, and a pool credit's new grant (else nil).
type Adjustment struct {
	Balance   *Balance
	Workspace WorkspaceBalance
	Grant     *Grant
}

// Adjust validates and applies an adjustment. A member's credit adds to
// this period's seat credits (drawn first, forfeited at the reset if
// unused); a debit takes from what is available of them. A pool credit
// is a new top-up grant, active now; a pool debit takes from the active
// grants' available credits in draw order.
func (s *Service) Adjust(ctx context.Context, r AdjustRequest) (Adjustment, error) {
	if err := checkReason(r.Reason); err != nil {
		return Adjustment{}, err
	}
	if r.Amount == 0 {
		return Adjustment{}, Invalid("amount", "must not be 0: positive credits, negative debits")
	}
	abs := r.Amount
	if abs < 0 {
		abs = -abs
	}
	if err := checkAmount("amount", abs, 1); err != nil {
		return Adjustment{}, err
	}
	now := s.cfg.Now()
	op := AdjustOp{Idem: r.Idem, WorkspaceID: r.WorkspaceID, MemberID: r.MemberID, Amount: r.Amount,
		Reason: r.Reason, Actor: r.Actor, Now: now}
	switch {
	case r.MemberID == "" && r.Amount > 0: // a pool credit: a new grant
		g := Grant{Kind: GrantTopUp, Amount: r.Amount, Start: now, Expiry: r.Expiry}
		if err := checkGrant(&g, now); err != nil {
			return Adjustment{}, err
		}
		op.Expiry = g.Expiry
	case !r.Expiry.IsZero():
		return Adjustment{}, Invalid("expire_time", "is for a pool credit only")
	}
	return s.st.Adjust(ctx, op)
}

// AdjustExceedsError is the error of a debit larger than what is
// available to take: of a member's seat credits this period, or of the
// pool.
func AdjustExceedsError(amount, available int64, pool bool) error {
	what := "the member's seat credits available this period"
	if pool {
		what = "the pool's available credits"
	}
	return &Error{Code: CodeAdjustmentExceedsAvailable,
		Message: fmt.Sprintf("a debit of %d µcredits exceeds %s (%d µcredits): holds, spent credits and free lifetime credits cannot be debited", -amount, what, available)}
}
