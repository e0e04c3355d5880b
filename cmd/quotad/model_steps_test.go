package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/quota/model"
)

// The members and programmatic spenders of a sequence.
var (
	modelMembers  = []string{"ann", "bob", "cy"}
	modelSpenders = []string{"key:ci", "trigger:nightly"}
)

// seq is one sequence: a workspace on quotad and its model.
type seq struct {
	rig *modelRig
	t   *rapid.T
	ws  string
	m   *model.Model
	// ids counts request ids; past lists the calls made, for retries and
	// reuses of their request ids.
	ids  int
	past []*call
	// ledger sums the workspace's ledger entries read so far.
	ledger ledgerSums
}

// call is one mutation: its request on the wire and in the model, and
// how its reply is checked against the model.
type call struct {
	name string
	id   string
	// send sends it to quotad; apply applies it to the model; check
	// compares a successful reply with the model.
	send  func(ctx context.Context) (proto.Message, error)
	apply func() model.Result
	check func(resp proto.Message, res model.Result)
	// remake is the same request with another request id.
	remake func(id string) *call
}

// newCall builds a call of an RPC.
func newCall[Req, Resp proto.Message](name, id string, req Req, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error),
	apply func() model.Result, check func(Resp, model.Result), remake func(string) *call) *call {
	return &call{name: name, id: id,
		send:   func(ctx context.Context) (proto.Message, error) { return rpc(ctx, req) },
		apply:  apply,
		check:  func(resp proto.Message, res model.Result) { check(resp.(Resp), res) },
		remake: remake}
}

// ctx is a context for one RPC.
func (s *seq) ctx() context.Context {
	ctx, cancel := context.WithTimeout(s.t.Context(), 40*time.Second)
	s.t.Cleanup(cancel)
	return ctx
}

// now is the sequence's time.
func (s *seq) now() time.Time { return s.m.Now }

// newID returns a fresh request id.
func (s *seq) newID() string {
	s.ids++
	return fmt.Sprintf("r%d", s.ids)
}

// op is a kind of step.
type op struct {
	name string
	do   func(*seq, *rapid.T)
}

// modelOps are the steps a sequence draws from, an op listed as many
// times as its weight. rapid draws the first entries more often (and
// shrinks towards them), so the hot path comes first.
var modelOps = weighted(
	4, op{"Reserve", (*seq).reserve},
	3, op{"Commit", (*seq).commit},
	3, op{"ReserveChild", (*seq).reserveChild},
	3, op{"Clock", (*seq).clock},
	2, op{"Extend", (*seq).extend},
	1, op{"Refund", (*seq).refund},
	1, op{"SetSeat", (*seq).setSeat},
	1, op{"AddPoolGrant", (*seq).addGrant},
	1, op{"SetWorkspacePolicy", (*seq).setPolicy},
	1, op{"SetMemberPoolCap", (*seq).setCap},
	1, op{"VoidPoolGrant", (*seq).voidGrant},
	1, op{"Retry", (*seq).retry},
	1, op{"ReuseRequestID", (*seq).reuse},
	1, op{"Sweep", (*seq).sweep},
)

// weighted lists each op as many times as the weight before it.
func weighted(args ...any) []op {
	var out []op
	for i := 0; i < len(args); i += 2 {
		for range args[i].(int) {
			out = append(out, args[i+1].(op))
		}
	}
	return out
}

// actions are rapid's actions: a step, and (key "") the check after each.
func (s *seq) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"": s.checkAll,
		"step": func(t *rapid.T) {
			o := rapid.SampledFrom(modelOps).Draw(t, "op")
			if o.name == "Sweep" && s.rig.st == nil {
				t.Skip("no sweep on the embedded store")
			}
			s.rig.steps++
			o.do(s, t)
		},
	}
}

// setup gives each member a seat (or none) to start with.
func (s *seq) setup() {
	for _, id := range modelMembers {
		seat := rapid.SampledFrom([]quota.Seat{quota.SeatPro, quota.SeatFree, quota.SeatMax, quota.SeatNone}).Draw(s.t, "seat of "+id)
		if seat != quota.SeatNone {
			s.run(s.seatCall(s.newID(), id, seat))
		}
	}
}

// run makes a call on quotad and in the model and compares them; some
// calls are sent again at once with the same request id, and must get an
// equal answer and change nothing.
func (s *seq) run(c *call) {
	resp, err := c.send(s.ctx())
	res := c.apply()
	s.expect(c, resp, err, res)
	s.past = append(s.past, c)
	if !rapid.Bool().Draw(s.t, "retry at once") {
		return
	}
	before := s.ledgerLen()
	again, err2 := c.send(s.ctx())
	switch {
	case err != nil || err2 != nil:
		if err == nil || err2 == nil || !sameStatus(status.Convert(err), status.Convert(err2)) {
			s.t.Fatalf("%s %s: first %v, retry %v", c.name, c.id, err, err2)
		}
	case !proto.Equal(resp, again):
		s.t.Fatalf("%s %s: the retry's answer differs:\nfirst %v\nretry %v", c.name, c.id, resp, again)
	}
	if after := s.ledgerLen(); after != before {
		s.t.Fatalf("%s %s: the retry appended %d ledger entries", c.name, c.id, after-before)
	}
	s.expect(c, again, err2, c.apply())
}

// expect compares quotad's answer with the model's result.
func (s *seq) expect(c *call, resp proto.Message, err error, res model.Result) {
	s.t.Helper()
	outcome := "OK"
	if res.Err != nil {
		outcome = res.Err.Reason
	}
	s.rig.outcomes[c.name+" "+outcome]++
	if res.Err != nil {
		s.checkErr(c.name+" "+c.id, err, res.Err)
		return
	}
	if err != nil {
		s.t.Fatalf("%s %s: %v; the model says OK", c.name, c.id, err)
	}
	c.check(resp, res)
}

// retry sends a past call again, with its request id: a success is
// answered from the records as they stand, a recorded error again.
func (s *seq) retry(t *rapid.T) {
	if len(s.past) == 0 {
		t.Skip("nothing to retry")
	}
	c := rapid.SampledFrom(s.past).Draw(t, "retried")
	resp, err := c.send(s.ctx())
	s.expect(c, resp, err, c.apply())
}

// reuse sends a past call's request with another past call's request id:
// REQUEST_ID_REUSED when that id is kept for another request.
func (s *seq) reuse(t *rapid.T) {
	if len(s.past) < 2 {
		t.Skip("nothing to reuse")
	}
	from := rapid.SampledFrom(s.past).Draw(t, "request")
	id := rapid.SampledFrom(s.past).Draw(t, "request id").id
	s.run(from.remake(id))
}

// member and owner draw a member, or any owner.
func (s *seq) member(t *rapid.T) string { return rapid.SampledFrom(modelMembers).Draw(t, "member") }

func (s *seq) owner(t *rapid.T) model.Owner {
	if rapid.IntRange(0, 9).Draw(t, "spender?") < 3 {
		return model.Owner{Spender: rapid.SampledFrom(modelSpenders).Draw(t, "spender")}
	}
	return model.Owner{Member: s.member(t)}
}

// credits draws an amount in µcredits, up to a scale drawn from a few
// (from one credit to more than a Max seat's month).
func credits(t *rapid.T, label string) int64 {
	scale := rapid.SampledFrom([]int64{700, 3_000, 60, 9_000, 9, 45_000, 1}).Draw(t, label+" scale")
	return rapid.Int64Range(1, scale*credit).Draw(t, label)
}

// ttl draws a hold's lifetime (0: the default).
func ttl(t *rapid.T) time.Duration {
	return rapid.SampledFrom([]time.Duration{10 * time.Minute, 0, 2 * time.Hour, 24 * time.Hour, 30 * time.Second,
		1234 * time.Millisecond, time.Second}).Draw(t, "ttl")
}

func (s *seq) setSeat(t *rapid.T) {
	s.run(s.seatCall(s.newID(), s.member(t), rapid.SampledFrom([]quota.Seat{quota.SeatNone, quota.SeatFree,
		quota.SeatPro, quota.SeatMax}).Draw(t, "seat")))
}

func (s *seq) setPolicy(t *rapid.T) {
	var p quota.Policy
	if rapid.Bool().Draw(t, "default cap?") {
		p.HasDefaultPoolCap = true
		p.DefaultPoolCap = rapid.SampledFrom([]int64{0, 1, 500 * credit, 4_000 * credit}).Draw(t, "default cap")
	}
	p.OverageEnabled = rapid.Bool().Draw(t, "overage")
	p.OverageCap = rapid.SampledFrom([]int64{0, 700 * credit, 9_000 * credit, 50_000 * credit}).Draw(t, "overage cap")
	if rapid.Bool().Draw(t, "programmatic cap?") {
		p.HasProgrammaticCap = true
		p.ProgrammaticCap = rapid.SampledFrom([]int64{0, 600 * credit, 20_000 * credit}).Draw(t, "programmatic cap")
	}
	p.Pooled = rapid.IntRange(0, 9).Draw(t, "pooled?") == 0
	s.run(s.policyCall(s.newID(), p))
}

func (s *seq) setCap(t *rapid.T) {
	var c quota.MemberCap
	switch rapid.IntRange(0, 2).Draw(t, "cap kind") {
	case 1:
		c = quota.MemberCap{Set: true, Unlimited: true}
	case 2:
		c = quota.MemberCap{Set: true, Cap: rapid.SampledFrom([]int64{0, 300 * credit, 2_500 * credit}).Draw(t, "cap")}
	}
	s.run(s.capCall(s.newID(), s.member(t), c))
}

func (s *seq) addGrant(t *rapid.T) {
	g := model.GrantRequest{Kind: quota.GrantTopUp, Amount: credits(t, "grant"),
		Priority: rapid.SampledFrom([]int64{0, 0, -5, 10}).Draw(t, "priority")}
	if rapid.Bool().Draw(t, "commitment?") {
		g.Kind = quota.GrantCommitment
	}
	start := s.now()
	switch rapid.IntRange(0, 3).Draw(t, "start kind") {
	case 1:
		start = start.Add(rapid.SampledFrom([]time.Duration{time.Minute, 5 * time.Hour, 3 * 24 * time.Hour, 20 * 24 * time.Hour}).Draw(t, "starts in"))
		g.Start = start
	case 2:
		g.Start = start.Add(-time.Hour)
	}
	if g.Kind == quota.GrantCommitment || rapid.Bool().Draw(t, "expiry?") {
		g.Expiry = start.Add(rapid.SampledFrom([]time.Duration{90 * time.Second, 2 * time.Hour, 2 * 24 * time.Hour,
			10 * 24 * time.Hour, 45 * 24 * time.Hour}).Draw(t, "lasts"))
	}
	s.run(s.grantCall(s.newID(), g))
}

func (s *seq) voidGrant(t *rapid.T) {
	gs := s.m.Grants()
	if len(gs) == 0 {
		t.Skip("no grant")
	}
	s.run(s.voidCall(s.newID(), rapid.SampledFrom(gs).Draw(t, "grant").ID))
}

// amounts draws a hold's amount and minimum (0: all of it).
func amounts(t *rapid.T) (amount, least int64) {
	amount = credits(t, "amount")
	if rapid.Bool().Draw(t, "minimum?") {
		least = rapid.Int64Range(1, amount).Draw(t, "minimum")
	}
	return amount, least
}

func (s *seq) reserve(t *rapid.T) {
	q := model.ReserveRequest{Owner: s.owner(t), TTL: ttl(t),
		Origin: rapid.SampledFrom([]quota.Origin{quota.OriginConversation, quota.OriginConversation,
			quota.OriginAutomation, quota.OriginSidekick}).Draw(t, "origin")}
	q.Amount, q.Min = amounts(t)
	if rapid.IntRange(0, 3).Draw(t, "token cap?") == 0 {
		q.HasTokenCap = true
		q.TokenCap = rapid.SampledFrom([]int64{0, 5 * credit, 300 * credit, 4_000 * credit}).Draw(t, "token cap")
	}
	s.run(s.reserveCall(s.newID(), q))
}

// pick draws a reservation, mostly among those in one of states.
func (s *seq) pick(t *rapid.T, states ...quota.State) *model.Reservation {
	all := s.m.Reservations()
	if len(all) == 0 {
		t.Skip("no reservation")
	}
	var some []*model.Reservation
	for _, r := range all {
		for _, st := range states {
			if r.State == st {
				some = append(some, r)
			}
		}
	}
	if len(some) > 0 && rapid.IntRange(0, 9).Draw(t, "usual state?") > 0 {
		return rapid.SampledFrom(some).Draw(t, "reservation")
	}
	return rapid.SampledFrom(all).Draw(t, "any reservation")
}

func (s *seq) reserveChild(t *rapid.T) {
	p := s.pick(t, quota.StateHeld)
	q := model.ReserveRequest{Parent: p.Key, TTL: ttl(t), AllowTopUp: rapid.Bool().Draw(t, "top-up")}
	if rapid.Bool().Draw(t, "name the owner?") {
		q.Owner = p.Owner
	}
	if rapid.Bool().Draw(t, "name the origin?") {
		q.Origin = p.Origin
	}
	q.Amount, q.Min = amounts(t)
	s.run(s.reserveCall(s.newID(), q))
}

func (s *seq) extend(t *rapid.T) {
	r := s.pick(t, quota.StateHeld)
	q := model.ExtendRequest{Reservation: r.Key}
	if rapid.Bool().Draw(t, "raise?") {
		q.Add = credits(t, "add")
	}
	if q.TTL = ttl(t); q.Add == 0 && q.TTL == 0 {
		q.TTL = time.Minute
	}
	s.run(s.extendCall(s.newID(), q))
}

func (s *seq) commit(t *rapid.T) {
	r := s.pick(t, quota.StateHeld, quota.StateExpired)
	s.run(s.commitCall(s.newID(), model.CommitRequest{Reservation: r.Key, Usage: usage(t, 1)}))
}

// usage draws a small agent tree: a few model lines (a model the table
// does not list among them) and tool actions (catalogued, platform,
// unknown, external MCP, not run) per agent, up to three levels.
func usage(t *rapid.T, depth int) model.Agent {
	a := model.Agent{ID: fmt.Sprintf("agent-%d", depth)}
	tokens := rapid.SampledFrom([]int64{0, 1, 999, 10_000, 123_457, 1_000_000})
	for i := range rapid.IntRange(0, 3).Draw(t, "model lines") {
		a.Models = append(a.Models, model.Tokens{Model: rapid.SampledFrom([]string{"swift", "deep", "mystery"}).Draw(t, "model"),
			Input: tokens.Draw(t, "input"), Output: tokens.Draw(t, "output"),
			CacheRead: tokens.Draw(t, "cache read"), CacheWrite: tokens.Draw(t, "cache write")})
		_ = i
	}
	for range rapid.IntRange(0, 3).Draw(t, "actions") {
		a.Actions = append(a.Actions, model.Action{Tool: rapid.SampledFrom([]string{"router", "memory", "search", "retrieve", "think", "custom"}).Draw(t, "tool"),
			Tier:        rapid.SampledFrom([]quota.Tier{quota.TierUnknown, quota.TierFree}).Draw(t, "tier sent"),
			ExternalMCP: rapid.IntRange(0, 5).Draw(t, "mcp?") == 0, NotRun: rapid.IntRange(0, 5).Draw(t, "not run?") == 0})
	}
	if depth < 3 {
		for range rapid.IntRange(0, 2).Draw(t, "sub-agents") {
			a.Subs = append(a.Subs, usage(t, depth+1))
		}
	}
	return a
}

// agentProto is a usage tree on the wire.
func (s *seq) refund(t *rapid.T) {
	r := s.pick(t, quota.StateHeld)
	s.run(s.refundCall(s.newID(), model.RefundRequest{Reservation: r.Key}))
}

// clock moves the service's time and the model's: a little, to just
// before, at or after a hold's deadline, a grant's start or expiry or the
// next reset, or by hours to months.
func (s *seq) clock(t *rapid.T) {
	now := s.now()
	var to time.Time
	switch rapid.SampledFrom([]int{0, 1, 0, 1, 2, 3, 4}).Draw(t, "jump") {
	case 0:
		to = now.Add(time.Duration(rapid.Int64Range(1, 90_000).Draw(t, "ms")) * time.Millisecond)
	case 1:
		var at []time.Time
		for _, r := range s.m.Reservations() {
			if r.State == quota.StateHeld {
				at = append(at, r.Deadline)
			}
		}
		for _, g := range s.m.Grants() {
			at = append(at, g.Start, g.Expiry)
		}
		at = append(at, s.m.PeriodEnd)
		to = rapid.SampledFrom(at).Draw(t, "boundary").Add(time.Duration(rapid.IntRange(-1, 1).Draw(t, "off by ms")) * time.Millisecond)
	case 2:
		to = s.m.PeriodEnd.Add(time.Duration(rapid.IntRange(-1, 1).Draw(t, "off by ms")) * time.Millisecond)
	case 3:
		to = now.Add(time.Duration(rapid.Int64Range(1, 72).Draw(t, "hours")) * time.Hour)
	default:
		to = now.Add(time.Duration(rapid.Int64Range(20, 70).Draw(t, "days")) * 24 * time.Hour)
	}
	if !to.After(now) {
		t.Skip("the boundary has passed")
	}
	s.rig.clock.Store(to.UnixMilli())
	s.m.Advance(to)
}

// sweep runs the background sweep at the sequence's time: it releases
// expired holds and applies grant transitions, which the model did when
// they fell due.
func (s *seq) sweep(t *rapid.T) {
	if _, err := s.rig.st.Sweep(s.ctx(), s.now(), 1000); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
}
