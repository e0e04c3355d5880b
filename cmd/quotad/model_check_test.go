package main

import (
	"strconv"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
	"pgregory.net/rapid"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/quota/model"
)

// checkAll compares, after every step, every member's balance, the
// workspace's pool, every grant, every reservation and (on Redis) the
// ledger's totals with the model's, and checks the model's invariants.
func (s *seq) checkAll(t *rapid.T) {
	for _, id := range modelMembers {
		resp, err := s.rig.c.quota.GetBalance(s.ctx(), &quotav1.GetBalanceRequest{WorkspaceId: s.ws, MemberId: id})
		if err != nil {
			t.Fatalf("GetBalance %s: %v", id, err)
		}
		s.compareBalance("GetBalance "+id, resp.GetBalance(), model.Owner{Member: id})
	}
	wb, err := s.rig.c.admin.GetWorkspaceBalance(s.ctx(), &quotav1.GetWorkspaceBalanceRequest{WorkspaceId: s.ws})
	if err != nil {
		t.Fatalf("GetWorkspaceBalance: %v", err)
	}
	s.diff("GetWorkspaceBalance", s.m.WorkspaceBalance(), workspaceBalanceOf(wb.GetBalance()))
	gs, err := s.rig.c.admin.ListPoolGrants(s.ctx(), &quotav1.ListPoolGrantsRequest{WorkspaceId: s.ws, PageSize: 500})
	if err != nil {
		t.Fatalf("ListPoolGrants: %v", err)
	}
	var want, got []quota.Grant
	for _, g := range s.m.Grants() {
		want = append(want, s.m.GrantOf(g))
	}
	for _, g := range gs.GetGrants() {
		got = append(got, grantOf(g))
	}
	s.diff("ListPoolGrants", want, got)
	for _, r := range s.m.Reservations() {
		resp, err := s.rig.c.quota.GetReservation(s.ctx(), &quotav1.GetReservationRequest{WorkspaceId: s.ws, ReservationId: r.ID})
		if err != nil {
			t.Fatalf("GetReservation %s: %v", r.ID, err)
		}
		s.diff("GetReservation "+r.ID, s.m.ReservationOf(r), reservationOf(resp.GetReservation()))
	}
	if s.rig.rdb != nil {
		s.checkLedger()
	}
	if err := s.m.Check(); err != nil {
		t.Fatal(err)
	}
}

// diff fails the sequence when the service's view differs from the
// model's.
func (s *seq) diff(what string, want, got any) {
	s.t.Helper()
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		s.t.Fatalf("%s at %s differs from the model (-model +quotad):\n%s", what, s.now().Format(time.RFC3339Nano), d)
	}
}

// compareBalance compares a balance with the owner's in the model.
func (s *seq) compareBalance(what string, b *quotav1.Balance, o model.Owner) {
	s.t.Helper()
	s.diff(what, s.m.Balance(o), balanceOf(b))
}

// compareOutcome compares a reservation call's reply with the model.
func (s *seq) compareOutcome(what string, r *quotav1.Reservation, b *quotav1.Balance, mr *model.Reservation) {
	s.t.Helper()
	s.diff(what, s.m.ReservationOf(mr), reservationOf(r))
	s.compareBalance(what+" (balance)", b, mr.Owner)
}

// reasonCodes are the gRPC codes of the reasons the model answers.
var reasonCodes = map[string]codes.Code{
	"REQUEST_ID_REUSED": codes.InvalidArgument, "INVALID_FIELD": codes.InvalidArgument,
	"RESERVATION_NOT_FOUND": codes.NotFound, "GRANT_NOT_FOUND": codes.NotFound, "PARENT_NOT_FOUND": codes.NotFound,
	"PARENT_NOT_HELD": codes.FailedPrecondition, "GRANT_ENDED": codes.FailedPrecondition,
	"ILLEGAL_TRANSITION": codes.FailedPrecondition,
	"NO_SEAT":            codes.ResourceExhausted, "POOL_CAP_REACHED": codes.ResourceExhausted,
	"PROGRAMMATIC_CAP_REACHED": codes.ResourceExhausted, "CREDITS_EXHAUSTED": codes.ResourceExhausted,
	"RUN_CAP_REACHED": codes.ResourceExhausted, "PARENT_HOLD_EXHAUSTED": codes.ResourceExhausted,
}

// checkErr checks that err is the model's error: its code and reason,
// and a denial's numbers or a transition's states.
func (s *seq) checkErr(what string, err error, want *model.Error) {
	s.t.Helper()
	if err == nil {
		s.t.Fatalf("%s: OK; the model says %s %+v", what, want.Reason, *want)
	}
	st := status.Convert(err)
	info := detail[*errdetails.ErrorInfo](st)
	if st.Code() != reasonCodes[want.Reason] || info.GetReason() != want.Reason {
		s.t.Fatalf("%s: %v (%s); the model says %v %s %+v", what, err, info.GetReason(), reasonCodes[want.Reason], want.Reason, *want)
	}
	meta := info.GetMetadata()
	var got, exp map[string]string
	switch st.Code() {
	case codes.ResourceExhausted:
		got = map[string]string{"requested": meta["requested"], "minimum": meta["minimum"], "available": meta["available"]}
		exp = map[string]string{"requested": itoa(want.Requested), "minimum": itoa(want.Minimum), "available": itoa(want.Available)}
	case codes.FailedPrecondition:
		if want.Reason == "ILLEGAL_TRANSITION" {
			got = map[string]string{"from": meta["from"], "to": meta["to"]}
			exp = map[string]string{"from": want.From.String(), "to": want.To.String()}
		}
	}
	if d := cmp.Diff(exp, got); d != "" {
		s.t.Fatalf("%s: %v: details differ from the model (-model +quotad):\n%s", what, err, d)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Views of quotad's answers, as quota's types (the model's views).

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func seatOf(s quotav1.Seat) quota.Seat {
	if s == quotav1.Seat_SEAT_UNASSIGNED {
		return quota.SeatNone
	}
	return quota.Seat(s)
}

func balanceOf(p *quotav1.Balance) quota.Balance {
	b := quota.Balance{WorkspaceID: p.GetWorkspaceId(), MemberID: p.GetMemberId(), Seat: seatOf(p.GetSeat()),
		PeriodStart: timeOf(p.GetPeriodStart()), PeriodEnd: timeOf(p.GetPeriodEnd()),
		Allocated: p.GetAllocated(), Available: p.GetAvailable(), Held: p.GetHeld(), Spent: p.GetSpent(),
		Spendable: p.GetSpendable(), PoolUsed: p.GetPoolUsed(), LowBalance: p.GetLowBalance(), PoolLow: p.GetPoolLowBalance()}
	if p.GetNextSeat() != quotav1.Seat_SEAT_UNSPECIFIED {
		b.NextSeat, b.HasNext = seatOf(p.GetNextSeat()), true
	}
	if p.PoolCap != nil {
		b.PoolCap, b.HasPoolCap = p.GetPoolCap(), true
	}
	for _, src := range p.GetSources() {
		b.Sources = append(b.Sources, quota.SourceBalance{Source: quota.Source(src.GetSource()), Allocated: src.GetAllocated(),
			Available: src.GetAvailable(), Held: src.GetHeld(), Spent: src.GetSpent()})
	}
	t := p.GetTotals()
	b.Totals = quota.Totals{Allocated: t.GetAllocated(), Available: t.GetAvailable(), Held: t.GetHeld(),
		Spent: t.GetSpent(), Forfeited: t.GetForfeited()}
	return b
}

func sourceAmountsOf(ps []*quotav1.SourceAmount) []quota.SourceAmount {
	var out []quota.SourceAmount
	for _, p := range ps {
		out = append(out, quota.SourceAmount{Source: quota.Source(p.GetSource()), GrantID: p.GetGrantId(), Amount: p.GetAmount()})
	}
	return out
}

func reservationOf(p *quotav1.Reservation) quota.Reservation {
	r := quota.Reservation{WorkspaceID: p.GetWorkspaceId(), ID: p.GetReservationId(), MemberID: p.GetMemberId(),
		SpenderID: p.GetSpenderId(), Origin: quota.Origin(p.GetOrigin()), State: quota.State(p.GetState()),
		Requested: p.GetRequested(), Held: p.GetHeld(), HeldFrom: sourceAmountsOf(p.GetHeldFrom()),
		Deadline: timeOf(p.GetDeadline()), Created: timeOf(p.GetCreateTime()), Settled: timeOf(p.GetSettleTime()),
		ParentID: p.GetParentReservationId(), RootID: p.GetRootReservationId(), RunTokenSpent: p.GetRunTokenSpent(),
		Recorded: p.GetRecorded(), PricingVersion: p.GetPricingVersion(), RunReservations: p.GetRunReservations(),
		Charged: p.GetCharged(), ChargedFromHold: p.GetChargedFromHold(), ChargedFrom: sourceAmountsOf(p.GetChargedFrom()),
		Released: p.GetReleased(), Shortfall: p.GetShortfall()}
	if p.RunTokenCap != nil {
		r.RunTokenCap, r.HasRunTokenCap = p.GetRunTokenCap(), true
	}
	if c := p.GetCost(); c != nil {
		r.Cost = &quota.RunCost{Origin: quota.Origin(c.GetOrigin()), Root: agentCostOf(c.GetRoot()),
			TokenCost: c.GetTokenCost(), ActionCost: c.GetActionCost(), TotalCost: c.GetTotalCost(),
			Recorded:       quota.CostTotals{TokenCost: c.GetRecordedTokenCost(), ActionCost: c.GetRecordedActionCost(), TotalCost: c.GetRecordedCost()},
			FallbackModels: c.GetFallbackModels()}
		if c.GetTruncated() {
			r.Cost.FallbackModels = append(r.Cost.FallbackModels, "(truncated)")
		}
	}
	return r
}

func agentCostOf(p *quotav1.AgentCost) quota.AgentCost {
	a := quota.AgentCost{AgentID: p.GetAgentId(), OwnTokenCost: p.GetOwnTokenCost(), OwnActionCost: p.GetOwnActionCost(),
		OwnCost: p.GetOwnCost(), TokenCost: p.GetTokenCost(), ActionCost: p.GetActionCost(), TotalCost: p.GetTotalCost()}
	for _, m := range p.GetModels() {
		a.Models = append(a.Models, quota.ModelCost{Model: m.GetModel(), PricedAs: m.GetPricedAs(), Fallback: m.GetFallback(),
			Tokens: m.GetTokens(), Cost: m.GetCost()})
	}
	for _, act := range p.GetActions() {
		a.Actions = append(a.Actions, quota.ActionCost{Tool: act.GetTool(), Tier: quota.Tier(act.GetTier()), Cost: act.GetCost(),
			Note: act.GetNote(), Uncatalogued: act.GetUncatalogued()})
	}
	for _, sub := range p.GetSubAgents() {
		a.SubAgents = append(a.SubAgents, agentCostOf(sub))
	}
	return a
}

func grantOf(p *quotav1.PoolGrant) quota.Grant {
	return quota.Grant{WorkspaceID: p.GetWorkspaceId(), ID: p.GetGrantId(), Kind: quota.GrantKind(p.GetKind()),
		Amount: p.GetAmount(), Start: timeOf(p.GetStartTime()), Expiry: timeOf(p.GetExpireTime()), Priority: p.GetPriority(),
		Created: timeOf(p.GetCreateTime()), State: quota.GrantState(p.GetState()), Available: p.GetAvailable(),
		Held: p.GetHeld(), Spent: p.GetSpent(), Forfeited: p.GetForfeited()}
}

func policyOf(p *quotav1.WorkspacePolicy) quota.Policy {
	out := quota.Policy{OverageEnabled: p.GetOverageEnabled(), OverageCap: p.GetOverageCap(), Pooled: p.GetPooled()}
	if p.DefaultMemberPoolCap != nil {
		out.DefaultPoolCap, out.HasDefaultPoolCap = p.GetDefaultMemberPoolCap(), true
	}
	if p.ProgrammaticCap != nil {
		out.ProgrammaticCap, out.HasProgrammaticCap = p.GetProgrammaticCap(), true
	}
	return out
}

func workspaceBalanceOf(p *quotav1.WorkspaceBalance) quota.WorkspaceBalance {
	pool := p.GetPool()
	return quota.WorkspaceBalance{WorkspaceID: p.GetWorkspaceId(), PeriodStart: timeOf(p.GetPeriodStart()),
		PeriodEnd: timeOf(p.GetPeriodEnd()), Policy: policyOf(p.GetPolicy()),
		Pool: quota.PoolBalance{Granted: pool.GetGranted(), Available: pool.GetAvailable(), Pending: pool.GetPending(),
			Held: pool.GetHeld(), Spent: pool.GetSpent(), Forfeited: pool.GetForfeited()},
		OverageUsed: p.GetOverageUsed(), OverageHeld: p.GetOverageHeld(), ProgrammaticUsed: p.GetProgrammaticUsed(),
		ProgrammaticHeld: p.GetProgrammaticHeld(), PoolLow: p.GetPoolLowBalance()}
}

// ledgerSums adds up the ledger entries of a workspace, read from Redis.
type ledgerSums struct {
	// last is the id of the last entry read.
	last    string
	entries int64
	// allocated is by member.
	allocated map[string]int64
	totals    model.Ledger
}

// readLedger reads the entries appended since the last read.
func (s *seq) readLedger() {
	l := &s.ledger
	if l.allocated == nil {
		l.allocated = map[string]int64{}
	}
	from := "-"
	if l.last != "" {
		from = "(" + l.last
	}
	entries, err := s.rig.rdb.XRange(s.ctx(), "q:{ws:"+s.ws+"}:ledger", from, "+").Result()
	if err != nil {
		s.t.Fatalf("XRANGE ledger: %v", err)
	}
	for _, e := range entries {
		l.last = e.ID
		l.entries++
		n := func(field string) int64 {
			v, _ := e.Values[field].(string)
			x, _ := strconv.ParseInt(v, 10, 64)
			return x
		}
		member, _ := e.Values["member"].(string)
		t := &l.totals
		switch op, _ := e.Values["op"].(string); op {
		case "grant_free", "upgrade":
			l.allocated[member] += n("allocated")
		case "reset":
			l.allocated[member] += n("allocated")
			t.Forfeited += n("forfeited")
		case "refund", "expire", "grant_expire", "grant_void":
			t.Forfeited += n("forfeited")
		case "reserve", "extend":
			t.HeldFromSources += n("held")
		case "commit":
			t.Forfeited += n("forfeited")
			t.Commits++
			t.Cost += n("cost")
			t.Shortfall += n("shortfall")
			t.ChargedOwn += n("seat") + n("free")
			t.ChargedPool += n("pool")
			t.ChargedOverage += n("overage")
			t.ChargedFromHold += n("from_hold")
		case "record":
			t.Records++
			t.RecordedCost += n("cost")
		}
	}
}

// ledgerLen is how many entries the workspace's ledger has (0 on the
// embedded store, whose ledger the test cannot read).
func (s *seq) ledgerLen() int64 {
	if s.rig.rdb == nil {
		return 0
	}
	n, err := s.rig.rdb.XLen(s.ctx(), "q:{ws:"+s.ws+"}:ledger").Result()
	if err != nil {
		s.t.Fatalf("XLEN ledger: %v", err)
	}
	return n
}

// checkLedger compares the ledger's totals with the model's: what each
// member was allocated, what was forfeited, drawn into holds, charged
// (per source, from holds, as shortfall) and recorded by children.
func (s *seq) checkLedger() {
	s.readLedger()
	want := map[string]int64{}
	for _, id := range modelMembers {
		if mb := s.m.Member(id); mb != nil && mb.Allocated != 0 {
			want[id] = mb.Allocated
		}
	}
	got := map[string]int64{}
	for id, n := range s.ledger.allocated {
		if n != 0 {
			got[id] = n
		}
	}
	s.diff("ledger: allocated by member", want, got)
	s.diff("ledger: totals", s.m.Ledger, s.ledger.totals)
}
