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
	v      []any
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
	return &reply{status: st, v: v, pos: 1}, nil
}

func (r *reply) next() any {
	if r.pos >= len(r.v) {
		r.pos++
		return nil
	}
	x := r.v[r.pos]
	r.pos++
	return x
}

// int reads an integer (a decimal string is read too).
func (r *reply) int() int64 { return asInt(r.next()) }

// str reads text (an integer is read as its decimal form).
func (r *reply) str() string { return asStr(r.next()) }

func asInt(x any) int64 {
	switch x := x.(type) {
	case int64:
		return x
	case string:
		v, _ := strconv.ParseInt(x, 10, 64)
		return v
	}
	return 0
}

func asStr(x any) string {
	switch x := x.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// vals are the values of one layout in a reply.
type vals struct {
	l *schema.Layout
	v []any
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

func (v vals) get(name string) any {
	i := v.l.Index(name)
	if i >= len(v.v) {
		return nil
	}
	return v.v[i]
}

func (v vals) int(name string) int64  { return asInt(v.get(name)) }
func (v vals) str(name string) string { return asStr(v.get(name)) }
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

// balance reads a balance (layout B).
func balance(ws, member string, v vals) quota.Balance {
	seat := quota.SourceBalance{Source: quota.SourceSeat, Allocated: v.int("s_alloc"), Available: v.int("s_avail"),
		Held: v.int("s_held"), Spent: v.int("s_spent")}
	free := quota.SourceBalance{Source: quota.SourceFree, Allocated: v.int("f_alloc"), Available: v.int("f_avail"),
		Held: v.int("f_held"), Spent: v.int("f_spent")}
	pool := quota.SourceBalance{Source: quota.SourcePool, Available: v.int("pool"), Held: v.int("p_held"), Spent: v.int("p_used")}
	overage := quota.SourceBalance{Source: quota.SourceOverage, Available: v.int("ov")}
	b := quota.Balance{
		WorkspaceID: ws,
		MemberID:    member,
		Seat:        quota.SeatByRank(int(v.int("seat"))),
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
			Allocated: v.int("t_alloc"),
			Available: v.int("avail"),
			Held:      v.int("t_held"),
			Spent:     v.int("t_spent"),
			Forfeited: v.int("t_forf"),
		},
	}
	if c := v.int("pcap"); c >= 0 {
		b.PoolCap, b.HasPoolCap = c, true
	}
	if next := v.int("next"); v.bool("exists") && next >= 0 {
		b.NextSeat, b.HasNext = quota.SeatByRank(int(next)), true
	}
	return b
}

// reservation reads a reservation (layout R).
func reservation(ws string, v vals) (quota.Reservation, error) {
	r := quota.Reservation{
		WorkspaceID:     ws,
		ID:              v.str("id"),
		Origin:          quota.Origin(v.int("origin")),
		State:           quota.State(v.int("state")),
		Requested:       v.int("req"),
		Held:            v.int("held"),
		HeldFrom:        sourceAmounts(v.int("held_seat"), v.int("held_free"), v.str("held_grants"), v.int("held_ov")),
		Deadline:        msTime(v.int("dl")),
		Created:         msTime(v.int("ct")),
		Settled:         msTime(v.int("st")),
		ParentID:        v.str("parent"),
		RootID:          v.str("root"),
		Recorded:        v.int("rec") == schema.RecRecorded,
		RunTokenSpent:   v.int("run_tok"),
		RunReservations: v.int("run_res"),
		PricingVersion:  v.int("pv"),
		Charged:         v.int("ch"),
		ChargedFromHold: v.int("chh"),
		ChargedFrom:     sourceAmounts(v.int("c_seat"), v.int("c_free"), v.str("c_grants"), v.int("c_ov")),
		Released:        v.int("rel"),
		Shortfall:       v.int("sf"),
	}
	r.MemberID, r.SpenderID = splitOwner(v.str("owner"))
	if c := v.int("run_cap"); c >= 0 {
		r.RunTokenCap, r.HasRunTokenCap = c, true
	}
	if raw := v.str("cost"); raw != "" {
		c, err := decodeCost(raw)
		if err != nil {
			return r, quota.Internal(fmt.Errorf("reservation %s: %w", r.ID, err))
		}
		c.Recorded = quota.CostTotals{TokenCost: v.int("stok"), ActionCost: v.int("sact"), TotalCost: v.int("stok") + v.int("sact")}
		c.TokenCost, c.ActionCost, c.TotalCost = v.int("tok"), v.int("act"), v.int("total")
		r.Cost = &c
	}
	return r, nil
}

// outcome reads a reservation and its owner's balance.
func (r *reply) outcome(ws string) (quota.Outcome, error) {
	res, err := reservation(ws, r.layout(schema.ReplyReservation))
	if err != nil {
		return quota.Outcome{}, err
	}
	member := res.MemberID
	return quota.Outcome{Reservation: res, Balance: balance(ws, member, r.layout(schema.ReplyBalance))}, nil
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

// policy reads a workspace's settings (layout W).
func policy(v vals) quota.Policy {
	p := quota.Policy{
		OverageEnabled: v.bool("ov_on"),
		OverageCap:     v.int("ov_cap"),
		Pooled:         v.bool("pooled"),
	}
	if c := v.int("pcap"); c >= 0 {
		p.DefaultPoolCap, p.HasDefaultPoolCap = c, true
	}
	if c := v.int("prog_cap"); c >= 0 {
		p.ProgrammaticCap, p.HasProgrammaticCap = c, true
	}
	return p
}

// workspace reads a workspace (layout W).
func workspace(ws string, v vals) quota.Workspace {
	return quota.Workspace{ID: ws, SubscriptionStart: msTime(v.int("anchor")), Policy: policy(v)}
}

// workspaceBalance reads a workspace's pool and usage (layout W).
func workspaceBalance(ws string, v vals) quota.WorkspaceBalance {
	return quota.WorkspaceBalance{
		WorkspaceID: ws,
		PeriodStart: msTime(v.int("wps")),
		PeriodEnd:   msTime(v.int("wpe")),
		Policy:      policy(v),
		Pool: quota.PoolBalance{
			Granted:   v.int("p_granted"),
			Available: v.int("p_avail"),
			Pending:   v.int("p_pend"),
			Held:      v.int("p_held"),
			Spent:     v.int("p_spent"),
			Forfeited: v.int("p_forf"),
		},
		OverageUsed:      v.int("ov_used"),
		OverageHeld:      v.int("ov_held"),
		ProgrammaticUsed: v.int("prog_used"),
		ProgrammaticHeld: v.int("prog_held"),
		PoolLow:          v.bool("low"),
	}
}

// grant reads a grant (layout G).
func grant(ws string, v vals) quota.Grant {
	return quota.Grant{
		WorkspaceID: ws,
		ID:          v.str("id"),
		Kind:        quota.GrantKind(v.int("kind")),
		Amount:      v.int("amount"),
		Start:       msTime(v.int("start")),
		Expiry:      msTime(v.int("exp")),
		Priority:    v.int("prio"),
		Created:     msTime(v.int("ct")),
		State:       quota.GrantState(v.int("state")),
		Available:   v.int("avail"),
		Held:        v.int("held"),
		Spent:       v.int("spent"),
		Forfeited:   v.int("forf"),
	}
}

// errNoReply is a reply shorter than its layouts.
var errNoReply = errors.New("store: short reply")
