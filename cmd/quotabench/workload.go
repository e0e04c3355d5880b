package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// Amounts, in µcredits (1 credit = 10^6 µcredits).
const (
	credit = 1_000_000
	// holdAmount is what every run reserves: it covers a cycle's cost
	// (about 1.006 credits, see benchUsage), so commits draw only on
	// the hold. A Max seat (40,000 credits a month) holds 20,000 of them.
	holdAmount = 2 * credit
	// extendAmount is what an extend adds to a hold.
	extendAmount = credit
	// denyAmount is more than a Free seat ever has (500 credits), so a
	// Reserve of it on a Free seat is always denied.
	denyAmount = 501 * credit
)

// benchUsage is the run every Commit settles: a main agent on gpt-5-mini
// (100 input and 10 output tokens) with one web_search action (basic, 1
// credit) and one sub-agent on gpt-5-mini (50 input tokens).
func benchUsage() *quotav1.AgentRun {
	return &quotav1.AgentRun{
		AgentId: "main",
		Models:  []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: 100, OutputTokens: 10}},
		Actions: []*quotav1.ToolAction{{Tool: "web_search"}},
		SubAgents: []*quotav1.AgentRun{{
			AgentId: "researcher",
			Models:  []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: 50}},
		}},
	}
}

// Op kinds, the rows of the per-op latency table.
const (
	kindCycle   = "cycle"   // Reserve → Commit
	kindReserve = "reserve" // Reserve only
	kindRefund  = "refund"  // Reserve → Refund
	kindExtend  = "extend"  // Reserve → Extend → Commit
	kindDeny    = "deny"    // Reserve on a Free seat, more than it has: denied
)

// RPC names, the rows of the per-RPC latency table.
const (
	rpcReserve = "Reserve"
	rpcExtend  = "Extend"
	rpcCommit  = "Commit"
	rpcRefund  = "Refund"
)

var (
	allRPCs  = []string{rpcReserve, rpcExtend, rpcCommit, rpcRefund}
	allKinds = []string{kindCycle, kindReserve, kindRefund, kindExtend, kindDeny}
)

// mixPattern is the mix workload, 20 ops that repeat: 12 cycles (60%),
// 3 refunds (15%), 3 extends (15%) and 2 denials (10%), interleaved.
var mixPattern = [20]string{
	kindCycle, kindRefund, kindCycle, kindExtend, kindCycle,
	kindCycle, kindDeny, kindCycle, kindRefund, kindCycle,
	kindExtend, kindCycle, kindCycle, kindCycle, kindRefund,
	kindCycle, kindExtend, kindCycle, kindDeny, kindCycle,
}

// opKind returns the kind of op number i of a workload.
func opKind(workload string, i int64) string {
	switch workload {
	case workloadReserve:
		return kindReserve
	case workloadMix:
		return mixPattern[i%int64(len(mixPattern))]
	}
	return kindCycle
}

// freeMember is the member with a Free seat in every workspace, whom the
// denials of mix target.
const freeMember = "free"

// keyspace is the workspaces and members a load spreads over.
type keyspace struct {
	prefix              string
	workspaces, members int
	roundRobin          bool
}

// workspace returns the id of workspace n.
func (k keyspace) workspace(n int) string { return k.prefix + "-" + strconv.Itoa(n) }

// member returns the id of member n (a Max seat).
func member(n int) string { return "m" + strconv.Itoa(n) }

// pick returns the workspace and member of op i: uniformly at random with
// rng, or round-robin over workspaces first.
func (k keyspace) pick(rng *rand.Rand, i int64) (ws, mem string) {
	if k.roundRobin {
		w := i % int64(k.workspaces)
		m := (i / int64(k.workspaces)) % int64(k.members)
		return k.workspace(int(w)), member(int(m))
	}
	return k.workspace(rng.IntN(k.workspaces)), member(rng.IntN(k.members))
}

// client makes the QuotaService calls of the workloads, each bounded by
// timeout and recorded in a stats.
type client struct {
	q       quotav1.QuotaServiceClient
	timeout time.Duration
}

// reserve holds amount for mem and returns the reservation id.
func (c client) reserve(ctx context.Context, st *stats, ws, mem, req string, amount int64) (string, error) {
	var id string
	err := st.call(ctx, c.timeout, rpcReserve, func(ctx context.Context) error {
		r, err := c.q.Reserve(ctx, &quotav1.ReserveRequest{
			WorkspaceId: ws, MemberId: mem, RequestId: req, Amount: amount,
			Origin: quotav1.Origin_ORIGIN_CONVERSATION,
		})
		id = r.GetReservation().GetReservationId()
		return err
	})
	return id, err
}

// commit settles a hold with benchUsage.
func (c client) commit(ctx context.Context, st *stats, ws, id, req string) error {
	return st.call(ctx, c.timeout, rpcCommit, func(ctx context.Context) error {
		_, err := c.q.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: ws, ReservationId: id, RequestId: req, Usage: benchUsage()})
		return err
	})
}

// extend adds extendAmount to a hold.
func (c client) extend(ctx context.Context, st *stats, ws, id, req string) error {
	return st.call(ctx, c.timeout, rpcExtend, func(ctx context.Context) error {
		_, err := c.q.Extend(ctx, &quotav1.ExtendRequest{WorkspaceId: ws, ReservationId: id, RequestId: req, AddAmount: extendAmount})
		return err
	})
}

// refund voids a hold.
func (c client) refund(ctx context.Context, st *stats, ws, id, req string) error {
	return st.call(ctx, c.timeout, rpcRefund, func(ctx context.Context) error {
		_, err := c.q.Refund(ctx, &quotav1.RefundRequest{WorkspaceId: ws, ReservationId: id, RequestId: req})
		return err
	})
}

// loadBase is what the workloads of a phase (gRPC, raw, reference) share:
// how they pick keys, and their request ids.
type loadBase struct {
	keys keyspace
	// run makes this phase's request ids unique: qb-<run>-<i>-<step>.
	run  string
	rngs []*rand.Rand // one per worker
}

// newLoadBase returns the base of a workload of workers workers; with the
// same seed, two workloads pick the same keys.
func newLoadBase(keys keyspace, workers int, seed uint64) loadBase {
	b := loadBase{keys: keys, run: newRunID()}
	for w := range workers {
		b.rngs = append(b.rngs, rand.New(rand.NewPCG(seed, uint64(w))))
	}
	return b
}

// pick returns the workspace and member of op i on worker w.
func (b *loadBase) pick(w int, i int64) (ws, member string) { return b.keys.pick(b.rngs[w], i) }

// req returns the request id of step of op i.
func (b *loadBase) req(i int64, step string) string {
	return "qb-" + b.run + "-" + strconv.FormatInt(i, 10) + "-" + step
}

// grpcLoad is a workload over gRPC: its op runs op i of the workload.
type grpcLoad struct {
	loadBase
	c        client
	workload string
	st       *stats
}

// newGRPCLoad returns a workload for workers workers.
func newGRPCLoad(c client, keys keyspace, workload string, workers int, seed uint64, st *stats) *grpcLoad {
	return &grpcLoad{loadBase: newLoadBase(keys, workers, seed), c: c, workload: workload, st: st}
}

// op runs op i of the workload on worker w; it is an opFunc.
func (g *grpcLoad) op(ctx context.Context, w int, i int64, due time.Time) {
	kind := opKind(g.workload, i)
	ws, mem := g.pick(w, i)
	if kind == kindDeny {
		_, err := g.c.reserve(ctx, g.st, ws, freeMember, g.req(i, "r"), denyAmount)
		switch {
		case err == nil:
			g.st.fail(errUnexpectedOK)
		case status.Code(err) == codes.ResourceExhausted:
			g.st.deny(kind, due, err)
		default:
			g.st.fail(err)
		}
		return
	}
	id, err := g.c.reserve(ctx, g.st, ws, mem, g.req(i, "r"), holdAmount)
	if err == nil {
		switch kind {
		case kindCycle:
			err = g.c.commit(ctx, g.st, ws, id, g.req(i, "c"))
		case kindRefund:
			err = g.c.refund(ctx, g.st, ws, id, g.req(i, "f"))
		case kindExtend:
			err = g.c.extend(ctx, g.st, ws, id, g.req(i, "x"))
			if err == nil {
				err = g.c.commit(ctx, g.st, ws, id, g.req(i, "c"))
			}
		}
	}
	if err != nil {
		g.st.fail(err)
		return
	}
	g.st.succeed(kind, due)
}

// newRunID returns 12 random hex digits that set a phase's request ids
// apart from every other phase's and run's (idempotency records live 48
// hours).
func newRunID() string {
	return fmt.Sprintf("%012x", rand.Uint64()>>16)
}
