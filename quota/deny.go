package quota

// Denials. A script that cannot take a hold does not decide why: it
// returns what it saw (DenialFacts, in the layout of the generated Lua
// constants), and Deny applies the rules below, so that the reasons and
// their precedence have one home. A replayed denial is rebuilt from the
// same facts, recorded under its request id, so a retry gets the same
// answer.

// DenialKind says which check refused a hold.
type DenialKind int

// Denial kinds.
const (
	// DenySources: the sources open to the owner (and, for a child or an
	// Extend, the free hold of its nearest held ancestor) cannot cover the
	// minimum.
	DenySources DenialKind = 1
	// DenyParentHold: a child without allow_top_up whose parent's free
	// hold cannot cover its minimum.
	DenyParentHold DenialKind = 2
	// DenyRunCap: the run's token cap stops a child Reserve or an Extend.
	DenyRunCap DenialKind = 3
)

// DenialFacts are what a script saw when it refused a hold. Amounts are
// µcredits; PoolLeft and ProgLeft are what the personal pool cap and the
// programmatic cap still allow (meaningless when the cap is not set).
type DenialFacts struct {
	Kind DenialKind
	// Owner is the account: a member, or a programmatic spender.
	MemberID, SpenderID string
	// SeatRank is the member's seat in force (Seat.Rank).
	SeatRank int
	// Requested and Minimum are what the request asked for.
	Requested, Minimum int64
	// Spendable is what every source open to the owner could give now;
	// Own the member's seat and free credits of it.
	Spendable, Own int64
	// PoolAvailable is what the pool's drawable grants have left;
	// PoolCapSet and PoolLeft the member's personal cap.
	PoolAvailable int64
	PoolCapSet    bool
	PoolLeft      int64
	// OverageLeft is what overage still allows this period.
	OverageLeft int64
	// ProgCapSet and ProgLeft are the workspace's programmatic cap.
	ProgCapSet bool
	ProgLeft   int64
	// ParentFree is the free hold of the nearest held ancestor (a child
	// Reserve or an Extend of a child); RunLeft what the run's token cap
	// still allows.
	ParentFree, RunLeft int64
}

// Deny applies the denial rules to f: which reason refuses the hold, in
// precedence order, and what was available.
//
//   - DenyRunCap: RUN_CAP_REACHED; available is what the cap allows.
//   - DenyParentHold: PARENT_HOLD_EXHAUSTED; available is the parent's
//     free hold.
//   - DenySources, for a programmatic spender: PROGRAMMATIC_CAP_REACHED
//     when the programmatic cap is set and is spent or is what stops the
//     draw (it allows less than the pool and overage have); for a member,
//     in order: NO_SEAT (no seat and no credits of their own),
//     POOL_CAP_REACHED (the seat draws from the pool, a personal cap is set
//     and it is spent or is what stops the draw); else CREDITS_EXHAUSTED.
//     Available is the ancestor's free hold plus what the sources could
//     give.
func Deny(f DenialFacts) Denial {
	d := Denial{MemberID: f.MemberID, SpenderID: f.SpenderID, Requested: f.Requested, Minimum: f.Minimum}
	switch f.Kind {
	case DenyRunCap:
		d.Reason, d.Available = ReasonRunCapReached, f.RunLeft
		return d
	case DenyParentHold:
		d.Reason, d.Available = ReasonParentHoldExhausted, f.ParentFree
		return d
	}
	d.Reason, d.Available = ReasonCreditsExhausted, f.ParentFree+f.Spendable
	switch {
	case f.SpenderID != "":
		if f.ProgCapSet && (f.ProgLeft == 0 || f.ProgLeft < f.PoolAvailable+f.OverageLeft) {
			d.Reason = ReasonProgrammaticCapReached
		}
	case f.SeatRank == SeatNone.Rank() && f.Own == 0:
		d.Reason = ReasonNoSeat
	case SeatByRank(f.SeatRank).DrawsFromPool() && f.PoolCapSet && (f.PoolLeft == 0 || f.PoolLeft < f.PoolAvailable):
		d.Reason = ReasonPoolCapReached
	}
	return d
}
