package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// reply is a script's reply: a status, then values read in order.
type reply struct {
	status int64
	v      []value
	pos    int
}

func newReply(raw any) (*reply, error) {
	v, ok := raw.([]any)
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("unexpected reply %T", raw)
	}
	st, ok := v[0].(int64)
	if !ok {
		return nil, fmt.Errorf("unexpected reply status %v", v[0])
	}
	if st == schema.StatusPacked || st == schema.StatusPackedReplay {
		// The values are MessagePack one after the other, in one string
		// or in several (parts the script did not concatenate).
		if len(v) < 2 {
			return nil, errors.New("a packed reply of no values")
		}
		parts := make([]string, len(v)-1)
		for i, p := range v[1:] {
			s, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("a packed reply of a %T", p)
			}
			parts[i] = s
		}
		vals, err := unpackValues(parts...)
		if err != nil {
			return nil, err
		}
		status := int64(schema.StatusOK)
		if st == schema.StatusPackedReplay {
			status = schema.StatusReplay
		}
		return &reply{status: status, v: vals}, nil
	}
	vals := make([]value, len(v))
	for i, x := range v {
		vals[i] = valueOf(x)
	}
	return &reply{status: st, v: vals, pos: 1}, nil
}

func (r *reply) next() value {
	if r.pos >= len(r.v) {
		r.pos++
		return value{}
	}
	x := r.v[r.pos]
	r.pos++
	return x
}

// int reads an integer (a decimal string is read too).
func (r *reply) int() int64 { return r.next().int() }

// str reads text (an integer is read as its decimal form).
func (r *reply) str() string { return r.next().str() }

// asInt reads an integer of a RESP reply (a decimal string is read too).
func asInt(x any) int64 { return valueOf(x).int() }

// asStr reads text of a RESP reply (an integer is read as its decimal
// form).
func asStr(x any) string { return valueOf(x).str() }

// vals are the values of one layout in a reply.
type vals struct {
	l *schema.Layout
	v []value
}

// layout reads the values of l.
func (r *reply) layout(l *schema.Layout) vals {
	end := r.pos + l.Len()
	if end > len(r.v) {
		end = len(r.v)
	}
	v := vals{l: l, v: r.v[r.pos:end]}
	r.pos += l.Len()
	return v
}

func (v vals) get(name string) value {
	i := v.l.Index(name)
	if i >= len(v.v) {
		return value{}
	}
	return v.v[i]
}

func (v vals) int(name string) int64  { return v.get(name).int() }
func (v vals) str(name string) string { return v.get(name).str() }
func (v vals) bool(name string) bool  { return v.int(name) != 0 }

// err turns an ERR reply into a quota error.
func (r *reply) err() error {
	code := quota.Code(r.int())
	switch code {
	case quota.CodeRequestIDReused:
		return quota.ErrRequestIDReused
	case quota.CodeWorkspaceNotFound:
		return quota.ErrWorkspaceNotFound
	case quota.CodeReservationNotFound:
		return quota.ErrReservationNotFound
	case quota.CodeGrantNotFound:
		return quota.ErrGrantNotFound
	case quota.CodeParentNotFound:
		return quota.ErrParentNotFound
	case quota.CodeParentNotHeld:
		return quota.ErrParentNotHeld
	case quota.CodeGrantEnded:
		return quota.ErrGrantEnded
	case quota.CodePricingVersionNotFound:
		return quota.ErrPricingVersionNotFound
	case quota.CodeMemberNotFound:
		return quota.ErrMemberNotFound
	case quota.CodeAdjustmentExceedsAvailable:
		return exceedsError{available: r.int()}
	case quota.CodeIllegalTransition:
		from, to := r.int(), r.int()
		return quota.TransitionError("", quota.State(from), quota.State(to))
	case quota.CodeDenied:
		return quota.DeniedError(quota.Deny(denialFacts(r.layout(schema.ReplyDenial))))
	case quota.CodeLimitExceeded:
		i := r.int()
		if i < 1 || int(i) > len(quota.Limits) {
			return quota.Internal(fmt.Errorf("store: unknown limit %d", i))
		}
		return quota.LimitError(*quota.Limits[i-1])
	case quota.CodeInvalidField:
		if what := r.str(); what == "owner" {
			return quota.Invalid("member_id", "must be the parent reservation's member or spender, or unset")
		}
	}
	return quota.Internal(fmt.Errorf("store: unexpected error reply %v", r.v))
}

// denialFacts reads what a script saw when it refused a hold.
func denialFacts(v vals) quota.DenialFacts {
	f := quota.DenialFacts{
		Kind:          quota.DenialKind(v.int("kind")),
		SeatRank:      int(v.int("rank")),
		Requested:     v.int("want"),
		Minimum:       v.int("least"),
		Spendable:     v.int("spendable"),
		Own:           v.int("own"),
		PoolAvailable: v.int("pool_avail"),
		PoolCapSet:    v.bool("pcap_set"),
		PoolLeft:      v.int("pool_left"),
		OverageLeft:   v.int("ov_left"),
		ProgCapSet:    v.bool("prog_set"),
		ProgLeft:      v.int("prog_left"),
		ParentFree:    v.int("parent_free"),
		RunLeft:       v.int("run_left"),
	}
	f.MemberID, f.SpenderID = splitOwner(v.str("owner"))
	return f
}

// splitOwner reads an account owner: a member, or a spender.
func splitOwner(o string) (member, spender string) {
	if s, ok := strings.CutPrefix(o, schema.SpenderMark); ok {
		return "", s
	}
	return o, ""
}

// balance reads a balance (layout B): the account as stored, and what
// the script derived.
func balance(ws, member string, v vals) (quota.Balance, error) {
	var a record
	if raw := v.str("acct"); raw != "" {
		var err error
		if a, err = decodeRecord(raw, schema.Account); err != nil {
			return quota.Balance{}, quota.Internal(err)
		}
	} else {
		a = emptyRecord(schema.Account)
	}
	seat := quota.SourceBalance{Source: quota.SourceSeat, Allocated: a.int("s_alloc"), Available: v.int("s_avail"),
		Held: a.int("s_held"), Spent: a.int("s_spent")}
	free := quota.SourceBalance{Source: quota.SourceFree, Allocated: a.int("f_alloc"), Available: v.int("f_avail"),
		Held: a.int("f_held"), Spent: a.int("f_spent")}
	pool := quota.SourceBalance{Source: quota.SourcePool, Available: v.int("pool"), Held: a.int("p_held"), Spent: a.int("p_used")}
	overage := quota.SourceBalance{Source: quota.SourceOverage, Available: v.int("ov")}
	b := quota.Balance{
		WorkspaceID: ws,
		MemberID:    member,
		Seat:        quota.SeatByRank(int(a.int("seat"))),
		PeriodStart: msTime(v.int("ps")),
		PeriodEnd:   msTime(v.int("pe")),
		Allocated:   v.int("allocated"),
		Available:   v.int("avail"),
		Held:        v.int("held_now"),
		Spent:       v.int("spent_now"),
		Spendable:   v.int("spendable"),
		Sources:     []quota.SourceBalance{seat, free, pool, overage},
		PoolUsed:    v.int("pool_used"),
		LowBalance:  v.bool("low"),
		PoolLow:     v.bool("pool_low"),
		Totals: quota.Totals{
			Allocated: a.int("alloc"),
			Available: v.int("avail"),
			Held:      a.int("held"),
			Spent:     a.int("spent"),
			Forfeited: a.int("forf"),
		},
	}
	if c := v.int("pcap"); c >= 0 {
		b.PoolCap, b.HasPoolCap = c, true
	}
	if next := a.int("next"); v.bool("exists") && next >= 0 {
		b.NextSeat, b.HasNext = quota.SeatByRank(int(next)), true
	}
	return b, nil
}

// reservation reads a reservation (layout R): its record as stored, and
// what the script derived.
func reservation(ws string, v vals) (quota.Reservation, error) {
	rec, err := decodeRecord(v.str("res"), schema.Reservation)
	if err != nil {
		return quota.Reservation{}, quota.Internal(err)
	}
	r := quota.Reservation{
		WorkspaceID:     ws,
		ID:              v.str("id"),
		Origin:          quota.Origin(rec.int("origin")),
		State:           quota.State(rec.int("state")),
		Requested:       rec.int("req"),
		Held:            v.int("held"),
		HeldFrom:        sourceAmounts(v.int("held_seat"), rec.int("h_free"), rec.str("h_grants"), rec.int("h_ov")),
		Deadline:        msTime(rec.int("dl")),
		Created:         msTime(rec.int("ct")),
		Settled:         msTime(rec.int("st")),
		ParentID:        v.str("parent"),
		RootID:          v.str("root"),
		Recorded:        rec.int("rec") == schema.RecRecorded,
		RunTokenSpent:   v.int("run_tok"),
		RunReservations: v.int("run_res"),
		PricingVersion:  rec.int("pv"),
		Charged:         rec.int("ch"),
		ChargedFromHold: rec.int("chh"),
		ChargedFrom:     sourceAmounts(rec.int("c_seat"), rec.int("c_free"), rec.str("c_grants"), rec.int("c_ov")),
		Released:        rec.int("rel"),
		Shortfall:       rec.int("sf"),
	}
	r.MemberID, r.SpenderID = splitOwner(rec.str("owner"))
	if c := v.int("run_cap"); c >= 0 {
		r.RunTokenCap, r.HasRunTokenCap = c, true
	}
	if raw := rec.str("cost"); raw != "" {
		c, err := decodeCost(raw)
		if err != nil {
			return r, quota.Internal(fmt.Errorf("reservation %s: %w", r.ID, err))
		}
		c.Recorded = quota.CostTotals{TokenCost: rec.int("stok"), ActionCost: rec.int("sact"), TotalCost: v.int("recorded")}
		c.TokenCost, c.ActionCost, c.TotalCost = v.int("tok"), v.int("act"), v.int("total")
		r.Cost = &c
	}
	return r, nil
}

// outcome reads a reservation and its owner's balance.
func (r *reply) outcome(ws string) (quota.Outcome, error) {
	rv := r.layout(schema.ReplyReservation)
	res, err := reservation(ws, rv)
	if err != nil {
		return quota.Outcome{}, err
	}
	b, err := balance(ws, res.MemberID, r.layout(schema.ReplyBalance))
	if err != nil {
		return quota.Outcome{}, err
	}
	return quota.Outcome{Reservation: res, Balance: b, Replayed: r.status == schema.StatusReplay, Carved: rv.int("carved")}, nil
}

// sourceAmounts lists the non-zero amounts per source, in draw order: seat,
// free, each pool grant (grants is "id:amount;..." in draw order), overage.
func sourceAmounts(seat, free int64, grants string, overage int64) []quota.SourceAmount {
	var out []quota.SourceAmount
	add := func(src quota.Source, grant string, amount int64) {
		if amount != 0 {
			out = append(out, quota.SourceAmount{Source: src, GrantID: grant, Amount: amount})
		}
	}
	add(quota.SourceSeat, "", seat)
	add(quota.SourceFree, "", free)
	for part := range strings.SplitSeq(grants, ";") {
		if id, amount, ok := strings.Cut(part, ":"); ok {
			v, _ := strconv.ParseInt(amount, 10, 64)
			add(quota.SourcePool, id, v)
		}
	}
	add(quota.SourceOverage, "", overage)
	return out
}

// policy reads a workspace's settings from its record.
func policy(w record) quota.Policy {
	p := quota.Policy{
		OverageEnabled: w.int("ov_on") == 1,
		OverageCap:     w.int("ov_cap"),
		Pooled:         w.int("pooled") == 1,
	}
	if c := w.int("pcap"); c >= 0 {
		p.DefaultPoolCap, p.HasDefaultPoolCap = c, true
	}
	if c := w.int("prog_cap"); c >= 0 {
		p.ProgrammaticCap, p.HasProgrammaticCap = c, true
	}
	return p
}

// workspaceRecord reads the workspace record of a reply (layout W).
func workspaceRecord(v vals) (record, error) {
	w, err := decodeRecord(v.str("ws"), schema.Workspace)
	if err != nil {
		return record{}, quota.Internal(err)
	}
	return w, nil
}

// workspace reads a workspace from its record.
func workspace(ws string, w record) quota.Workspace {
	return quota.Workspace{ID: ws, SubscriptionStart: msTime(w.int("anchor")), Policy: policy(w)}
}

// workspaceBalance reads a workspace's pool and usage (layout W).
func workspaceBalance(ws string, v vals) (quota.WorkspaceBalance, error) {
	w, err := workspaceRecord(v)
	if err != nil {
		return quota.WorkspaceBalance{}, err
	}
	return quota.WorkspaceBalance{
		WorkspaceID: ws,
		PeriodStart: msTime(w.int("wps")),
		PeriodEnd:   msTime(w.int("wpe")),
		Policy:      policy(w),
		Pool: quota.PoolBalance{
			Granted:   w.int("p_granted"),
			Available: w.int("p_avail"),
			Pending:   w.int("p_pend"),
			Held:      w.int("p_held"),
			Spent:     w.int("p_spent"),
			Forfeited: w.int("p_forf"),
		},
		OverageUsed:      w.int("ov_used"),
		OverageHeld:      w.int("ov_held"),
		ProgrammaticUsed: w.int("prog_used"),
		ProgrammaticHeld: w.int("prog_held"),
		PoolLow:          v.bool("low"),
	}, nil
}

// grant reads a grant (layout G).
func grant(ws string, v vals) (quota.Grant, error) {
	g, err := decodeRecord(v.str("grant"), schema.Grant)
	if err != nil {
		return quota.Grant{}, quota.Internal(err)
	}
	return quota.Grant{
		WorkspaceID: ws,
		ID:          v.str("id"),
		Kind:        quota.GrantKind(g.int("kind")),
		Amount:      g.int("amount"),
		Start:       msTime(g.int("start")),
		Expiry:      msTime(g.int("exp")),
		Priority:    g.int("prio"),
		Created:     msTime(g.int("ct")),
		State:       quota.GrantState(g.int("state")),
		Available:   v.int("avail"),
		Held:        g.int("held"),
		Spent:       g.int("spent"),
		Forfeited:   g.int("forf"),
	}, nil
}
