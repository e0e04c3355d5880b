package store

import (
	"context"
	"strings"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// runPageBytes bounds the encoded usage trees one ListRun page carries (at
// least one reservation's, whatever its size), each entry counted with
// runEntryBytes more for what its reply carries besides its tree (two
// reservation ids, the totals): the protobuf form of a tree is at most
// about three times larger, so a ListRunCosts page stays under 64 KiB
// whether its entries are few and large or many and small (500 entries
// of one model line each were 69,589 bytes before the allowance).
const (
	runPageBytes  = 16 << 10
	runEntryBytes = 64
)

// ListRun returns a page of ref's run: its reservations in the order they
// were made, the root first, after the cursor (-1: from the root), and
// the cursor of the next page (-1: no more).
func (s *Store) ListRun(ctx context.Context, ws string, ref quota.ReservationRef, now time.Time, after int64, limit int) ([]quota.RunEntry, int64, error) {
	r, err := s.do(ctx, call{entry: fnListRun, ws: ws, now: now,
		args: []any{ref.Hex, ref.Version, after, limit, runPageBytes, int(ref.Origin), runEntryBytes}})
	if err != nil {
		return nil, 0, err
	}
	next, n := r.int(), int(r.int())
	out := make([]quota.RunEntry, 0, n)
	for range n {
		v := r.layout(schema.ReplyRunNode)
		rec, err := decodeRecord(v.str("res"), schema.Reservation)
		if err != nil {
			return nil, 0, quota.Internal(err)
		}
		e := quota.RunEntry{
			Seq:      rec.int("seq"),
			ID:       v.str("id"),
			ParentID: v.str("parent"),
			State:    quota.State(rec.int("state")),
			Recorded: rec.int("rec") == schema.RecRecorded,
			Voided:   rec.int("rec") == schema.RecVoided,
		}
		if raw := rec.str("cost"); raw != "" {
			c, err := decodeCost(raw)
			if err != nil {
				return nil, 0, quota.Internal(err)
			}
			c.Recorded = quota.CostTotals{TokenCost: rec.int("stok"), ActionCost: rec.int("sact"), TotalCost: v.int("recorded")}
			e.Cost = &c
		}
		for a := range strings.SplitSeq(v.str("anc"), ";") {
			f := strings.Split(a, ".")
			if len(f) != 3 {
				continue
			}
			e.Ancestors = append(e.Ancestors, quota.RunAncestor{
				ID:     quota.ReservationID(ref.Origin, f[0], ref.Version),
				State:  quota.State(asInt(f[1])),
				Voided: asInt(f[2]) == schema.RecVoided,
			})
		}
		out = append(out, e)
	}
	return out, next, nil
}
