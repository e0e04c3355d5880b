package quota

// FreeLifetime is the Free seat's one-time allocation: 500 credits per user
// and workspace, for life.
const FreeLifetime = 500 * Credit

// Monthly is the seat's allocation per period: Pro 8,000 credits, Max
// 40,000, none for Free or no seat.
func (s Seat) Monthly() int64 {
	switch s {
	case SeatPro:
		return 8_000 * Credit
	case SeatMax:
		return 40_000 * Credit
	default:
		return 0
	}
}

// Lifetime is the seat's one-time allocation: FreeLifetime for Free.
func (s Seat) Lifetime() int64 {
	if s == SeatFree {
		return FreeLifetime
	}
	return 0
}

// Rank orders seats: moving to a higher rank is an upgrade, which takes
// effect at once; moving to a lower rank (a downgrade, an unassignment)
// takes effect at the next reset.
func (s Seat) Rank() int {
	switch s {
	case SeatFree:
		return 1
	case SeatPro:
		return 2
	case SeatMax:
		return 3
	default:
		return 0
	}
}

// SeatByRank is the inverse of Seat.Rank.
func SeatByRank(rank int) Seat {
	switch rank {
	case 1:
		return SeatFree
	case 2:
		return SeatPro
	case 3:
		return SeatMax
	default:
		return SeatNone
	}
}

// DrawsFromPool tells whether a member with this seat may draw from the
// workspace pool and from overage: Pro and Max seats do; Free seats and
// members without a seat never do.
func (s Seat) DrawsFromPool() bool { return s == SeatPro || s == SeatMax }

// Seats lists every seat, by rank.
var Seats = []Seat{SeatNone, SeatFree, SeatPro, SeatMax}
