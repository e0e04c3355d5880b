package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// The reports' entry points.
var (
	fnListMembers = mustEntry("list_members")
	fnListHolds   = mustEntry("list_holds")
)

// ListMembers returns a page of a workspace's members with their balances
// as of now (lua/fn_list_members.lua).
func (s *Store) ListMembers(ctx context.Context, ws string, now time.Time, after string, limit int) ([]quota.Balance, string, error) {
	r, err := s.do(ctx, call{entry: fnListMembers, ws: ws, now: now, args: []any{after, limit}})
	if err != nil {
		return nil, "", err
	}
	next, n := r.str(), int(r.int())
	out := make([]quota.Balance, 0, n)
	for range n {
		member := r.str()
		b, err := balance(ws, member, r.layout(schema.ReplyBalance))
		if err != nil {
			return nil, "", err
		}
		out = append(out, b)
	}
	return out, next, nil
}

// ListHolds returns a page of a workspace's held reservations
// (lua/fn_list_holds.lua); one past its deadline is shown EXPIRED.
func (s *Store) ListHolds(ctx context.Context, op quota.HoldsOp) (quota.HoldsPage, error) {
	r, err := s.do(ctx, call{entry: fnListHolds, ws: op.WorkspaceID, now: op.Now,
		args: []any{op.AfterDeadline, op.AfterHex, op.Owner, op.Limit, op.Budget}})
	if err != nil {
		return quota.HoldsPage{}, err
	}
	page := quota.HoldsPage{More: r.int() == 1, LastDeadline: r.int(), LastHex: r.str()}
	n := int(r.int())
	page.Reservations = make([]quota.Reservation, 0, n)
	for range n {
		due := r.int() == 1
		res, err := reservation(op.WorkspaceID, r.layout(schema.ReplyReservation))
		if err != nil {
			return quota.HoldsPage{}, err
		}
		if due {
			res.State = quota.StateExpired
		}
		page.Reservations = append(page.Reservations, res)
	}
	return page, nil
}

// ListLedger reads a page of a workspace's ledger stream with XRANGE, a
// chunk of op.Limit entries at a time, at most op.Budget entries in all,
// and keeps those that pass the filters. The cursor is the id of the next
// entry to read ("<ms>-<seq>", inclusive).
func (s *Store) ListLedger(ctx context.Context, op quota.LedgerOp) (quota.LedgerPage, error) {
	from := "-"
	switch {
	case op.From != "":
		if !streamID(op.From) {
			return quota.LedgerPage{}, quota.Invalid("page_token", "is not a token this service returned")
		}
		from = op.From
	case !op.Start.IsZero():
		from = itoa(op.Start.UnixMilli()) + "-0"
	}
	to := "+"
	if !op.End.IsZero() {
		to = itoa(op.End.UnixMilli() - 1) // its whole last ms: "<ms>" ends at "<ms>-<max seq>"
	}
	ops := map[string]bool{}
	for _, o := range op.Ops {
		ops[o] = true
	}
	page := quota.LedgerPage{Next: from}
	if from == "-" {
		page.Next = "0-0"
	}
	// A chunk is one entry more than the page needs, so that a page that
	// fills up knows whether entries follow; a filtered page reads larger
	// chunks, within the budget.
	chunk := op.Limit + 1
	if op.Owner != "" || len(ops) > 0 {
		chunk = max(chunk, 64)
	}
	for read := 0; read < op.Budget; {
		count := min(chunk, op.Budget-read)
		var msgs []any
		var exists int64
		var x *redis.Cmd
		var e *redis.IntCmd
		err := s.pipeline(ctx, func(p redis.Pipeliner) {
			if read == 0 {
				e = p.Exists(ctx, wsKey(op.WorkspaceID))
			}
			// Raw XRANGE: its reply keeps the fields in the order written.
			x = p.Do(ctx, "XRANGE", ledgerKey(op.WorkspaceID), from, to, "COUNT", count)
		})
		if err == nil {
			msgs, _ = x.Val().([]any)
			exists = 1
			if e != nil {
				exists = e.Val()
			}
		}
		if err != nil {
			return quota.LedgerPage{}, err
		}
		if exists == 0 {
			return quota.LedgerPage{}, quota.ErrWorkspaceNotFound
		}
		for i, m := range msgs {
			read++
			e, owner, err := ledgerEntry(m)
			if err != nil {
				return quota.LedgerPage{}, err
			}
			page.Next = nextStreamID(e.ID)
			if (op.Owner == "" || owner == op.Owner) && (len(ops) == 0 || ops[e.Op]) {
				page.Entries = append(page.Entries, e)
				if len(page.Entries) == op.Limit {
					page.Done = i == len(msgs)-1 && len(msgs) < count
					return page, nil
				}
			}
		}
		if len(msgs) < count {
			page.Done = true
			break
		}
		from = page.Next
	}
	return page, nil
}

// streamID tells whether id is a stream entry id, "<ms>-<seq>".
func streamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

// nextStreamID is the least stream id after id.
func nextStreamID(id string) string {
	ms, seq, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	if n == math.MaxUint64 {
		m, _ := strconv.ParseUint(ms, 10, 64)
		return strconv.FormatUint(m+1, 10) + "-0"
	}
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

// ledgerEntry reads a ledger entry of a raw XRANGE reply, [id, [field,
// value, ...]] (lua/core.lua, ledger): its common fields, the ids it
// names, its grants, and every other field as a number, in the order
// written. owner is its member field as stored.
func ledgerEntry(raw any) (e quota.LedgerEntry, owner string, err error) {
	m, _ := raw.([]any)
	if len(m) != 2 {
		return e, "", quota.Internal(fmt.Errorf("store: unexpected ledger entry %v", raw))
	}
	e.ID = asStr(m[0])
	ms, _, _ := strings.Cut(e.ID, "-")
	t, _ := strconv.ParseInt(ms, 10, 64)
	e.Time = msTime(t)
	kv, _ := m[1].([]any)
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := asStr(kv[i]), asStr(kv[i+1])
		switch k {
		case "op":
			e.Op = v
		case "member":
			owner = v
			e.MemberID, e.SpenderID = splitOwner(v)
		case "res":
			e.ReservationID = v
		case "req":
			e.RequestID = v
		case "into", "parent":
			e.RelatedReservationID = v
		case "grant":
			e.GrantID = v
		case "grants":
			e.Grants = sourceAmounts(0, 0, v, 0)
		case "actor":
			e.Actor = v
		case "reason":
			e.Reason = v
		default:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				e.Amounts = append(e.Amounts, quota.LedgerAmount{Name: k, Amount: n})
			}
		}
	}
	return e, owner, nil
}
