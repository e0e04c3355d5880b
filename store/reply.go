package store

import (
	"encoding/json"
	"strconv"

	"github.com/quota-svc/quota/quota"
)

// fields is a script's OK reply: field names ("r.held", "b.s_alloc", ...)
// to decimal strings or text.
type fields map[string]string

func parseFields(kv []string) fields {
	f := make(fields, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return f
}

func (f fields) int(k string) int64 {
	v, _ := strconv.ParseInt(f[k], 10, 64)
	return v
}

// balance reads the "b." fields: the member's account (see lua/lib.lua).
func (f fields) balance(ws, member string) quota.Balance {
	sAlloc, sSpent, sHeld := f.int("b.s_alloc"), f.int("b.s_spent"), f.int("b.s_held")
	fAlloc, fSpent, fHeld := f.int("b.f_alloc"), f.int("b.f_spent"), f.int("b.f_held")
	seat := quota.SourceBalance{Source: quota.SourceSeat, Allocated: sAlloc, Available: sAlloc - sSpent - sHeld, Held: sHeld, Spent: sSpent}
	free := quota.SourceBalance{Source: quota.SourceFree, Allocated: fAlloc, Available: fAlloc - fSpent - fHeld, Held: fHeld, Spent: fSpent}
	b := quota.Balance{
		WorkspaceID: ws,
		MemberID:    member,
		Seat:        quota.SeatByRank(int(f.int("b.seat"))),
		PeriodStart: msTime(f.int("b.ps")),
		PeriodEnd:   msTime(f.int("b.pe")),
		Allocated:   sAlloc + fAlloc,
		Available:   seat.Available + free.Available,
		Held:        sHeld + fHeld,
		Spent:       sSpent + fSpent,
		Sources:     []quota.SourceBalance{seat, free},
	}
	b.Spendable = b.Available
	if next := f.int("b.next"); f["b.exists"] == "1" && next >= 0 {
		b.NextSeat, b.HasNext = quota.SeatByRank(int(next)), true
	}
	b.Totals = quota.Totals{
		Allocated: f.int("b.alloc"),
		Available: b.Available,
		Held:      f.int("b.held"),
		Spent:     f.int("b.spent"),
		Forfeited: f.int("b.forf"),
	}
	return b
}

// reservation reads the "r." fields (see lua/lib.lua).
func (f fields) reservation(ws string) quota.Reservation {
	hSeat := f.int("r.h_seat") + f.int("r.h_old")
	hFree := f.int("r.h_free")
	r := quota.Reservation{
		WorkspaceID:     ws,
		ID:              f["r.id"],
		MemberID:        f["r.member"],
		Origin:          quota.Origin(f.int("r.origin")),
		State:           quota.State(f.int("r.state")),
		Requested:       f.int("r.req"),
		Held:            hSeat + hFree,
		HeldFrom:        sourceAmounts(hSeat, hFree),
		Deadline:        msTime(f.int("r.dl")),
		Created:         msTime(f.int("r.ct")),
		Settled:         msTime(f.int("r.st")),
		Charged:         f.int("r.ch"),
		ChargedFromHold: f.int("r.chh"),
		ChargedFrom:     sourceAmounts(f.int("r.c_seat"), f.int("r.c_free")),
		Released:        f.int("r.rel"),
		Shortfall:       f.int("r.sf"),
	}
	if raw := f["r.cost"]; raw != "" {
		var c quota.RunCost
		if json.Unmarshal([]byte(raw), &c) == nil {
			r.Cost = &c
		}
	}
	return r
}

// outcome reads a reservation and its member's balance.
func (f fields) outcome(ws string) quota.Outcome {
	r := f.reservation(ws)
	return quota.Outcome{Reservation: r, Balance: f.balance(ws, r.MemberID)}
}

// sourceAmounts lists the non-zero amounts per source, in draw order.
func sourceAmounts(seat, free int64) []quota.SourceAmount {
	var out []quota.SourceAmount
	for _, sa := range []quota.SourceAmount{{Source: quota.SourceSeat, Amount: seat}, {Source: quota.SourceFree, Amount: free}} {
		if sa.Amount != 0 {
			out = append(out, sa)
		}
	}
	return out
}
