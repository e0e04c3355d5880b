package quota

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDenyReasonsInPrecedence checks the denial rules, one case per
// reason and per precedence between them.
func TestDenyReasonsInPrecedence(t *testing.T) {
	pro, free, none := SeatPro.Rank(), SeatFree.Rank(), SeatNone.Rank()
	tests := []struct {
		name string
		f    DenialFacts
		want Denial
	}{
		{"run cap: what the cap allows",
			DenialFacts{Kind: DenyRunCap, MemberID: "m", Requested: 10, Minimum: 5, RunLeft: 3, Spendable: 100},
			Denial{Reason: ReasonRunCapReached, MemberID: "m", Requested: 10, Minimum: 5, Available: 3}},
		{"parent hold: what the parent has free",
			DenialFacts{Kind: DenyParentHold, MemberID: "m", Requested: 10, Minimum: 10, ParentFree: 4, Spendable: 100},
			Denial{Reason: ReasonParentHoldExhausted, MemberID: "m", Requested: 10, Minimum: 10, Available: 4}},
		{"no seat and no credits",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: none, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonNoSeat, MemberID: "m", Requested: 10, Minimum: 10}},
		{"no seat but credits left from an old seat: exhausted, not no seat",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: none, Own: 3, Spendable: 3, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonCreditsExhausted, MemberID: "m", Requested: 10, Minimum: 10, Available: 3}},
		{"pool cap spent",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: pro, PoolCapSet: true, PoolLeft: 0, PoolAvailable: 50, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonPoolCapReached, MemberID: "m", Requested: 10, Minimum: 10}},
		{"pool cap is what stops the draw",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: pro, PoolCapSet: true, PoolLeft: 4, PoolAvailable: 50, Spendable: 4, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonPoolCapReached, MemberID: "m", Requested: 10, Minimum: 10, Available: 4}},
		{"pool itself runs dry under the cap: exhausted",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: pro, PoolCapSet: true, PoolLeft: 40, PoolAvailable: 5, Spendable: 5, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonCreditsExhausted, MemberID: "m", Requested: 10, Minimum: 10, Available: 5}},
		{"a free seat never meets the pool cap",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: free, PoolCapSet: true, PoolLeft: 0, PoolAvailable: 50, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonCreditsExhausted, MemberID: "m", Requested: 10, Minimum: 10}},
		{"no seat comes before the pool cap",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: none, PoolCapSet: true, PoolLeft: 0, PoolAvailable: 50, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonNoSeat, MemberID: "m", Requested: 10, Minimum: 10}},
		{"programmatic cap spent",
			DenialFacts{Kind: DenySources, SpenderID: "k", ProgCapSet: true, ProgLeft: 0, PoolAvailable: 50, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonProgrammaticCapReached, SpenderID: "k", Requested: 10, Minimum: 10}},
		{"programmatic cap stops the draw",
			DenialFacts{Kind: DenySources, SpenderID: "k", ProgCapSet: true, ProgLeft: 6, PoolAvailable: 5, OverageLeft: 5, Spendable: 6, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonProgrammaticCapReached, SpenderID: "k", Requested: 10, Minimum: 10, Available: 6}},
		{"programmatic: the pool runs dry first",
			DenialFacts{Kind: DenySources, SpenderID: "k", ProgCapSet: true, ProgLeft: 60, PoolAvailable: 5, Spendable: 5, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonCreditsExhausted, SpenderID: "k", Requested: 10, Minimum: 10, Available: 5}},
		{"a child or an extend counts its ancestor's free hold as available",
			DenialFacts{Kind: DenySources, MemberID: "m", SeatRank: pro, ParentFree: 3, Spendable: 4, Requested: 10, Minimum: 10},
			Denial{Reason: ReasonCreditsExhausted, MemberID: "m", Requested: 10, Minimum: 10, Available: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Deny(tt.f)); diff != "" {
				t.Errorf("Deny (-want +got):\n%s", diff)
			}
		})
	}
}
