package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
	"github.com/quota-svc/quota/internal/wiretest"
	"github.com/quota-svc/quota/quota"
)

// hostileRows are the catalogue's rows, in the order they run: the ids
// (if ids), then amounts and token counts, trees, enums, missing fields,
// another workspace's ids and tokens, TTLs, rates, caps, grants, times
// and pages, then the inputs the service accepts (the last one changes
// the price table in force).
func hostileRows(ids bool) []hostileRow {
	var rows []hostileRow
	if ids {
		rows = idRows()
	}
	for _, part := range [][]hostileRow{amountRows(), treeRows(), enumAndMissingRows(), otherWorkspaceRows(),
		ttlAndRateRows(), capGrantAndPageRows(), acceptedRows()} {
		rows = append(rows, part...)
	}
	return rows
}

// rowID is a row's request_id: its name, with every byte an id may not
// hold replaced by "-".
func rowID(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:@-", c) >= 0) {
			b[i] = '-'
		}
	}
	return string(b[:min(len(b), quota.MaxIDLen)])
}

// reserveRow is a row of a Reserve by alice in acme (1 credit, a
// conversation) changed by edit.
func reserveRow(name string, want hostileWant, edit func(*quotav1.ReserveRequest)) hostileRow {
	return hostileRow{name: name, want: want, call: func(ctx context.Context, h *hostile) error {
		r := &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: rowID(name), Amount: credit, Origin: quotav1.Origin_ORIGIN_CONVERSATION}
		edit(r)
		_, err := h.c.quota.Reserve(ctx, r)
		return err
	}}
}

// extendRow is a row of an Extend of acme's reservation changed by edit.
func extendRow(name string, want hostileWant, edit func(*quotav1.ExtendRequest)) hostileRow {
	return hostileRow{name: name, want: want, call: func(ctx context.Context, h *hostile) error {
		r := &quotav1.ExtendRequest{WorkspaceId: "acme", ReservationId: h.resAcme, RequestId: rowID(name), AddAmount: credit}
		edit(r)
		_, err := h.c.quota.Extend(ctx, r)
		return err
	}}
}

// commitRow is a row of a Commit of acme's reservation with usage.
func commitRow(name string, want hostileWant, usage func() *quotav1.AgentRun) hostileRow {
	return hostileRow{name: name, want: want, call: func(ctx context.Context, h *hostile) error {
		_, err := h.c.quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "acme", ReservationId: h.resAcme, RequestId: rowID(name), Usage: usage()})
		return err
	}}
}

// estimateRow is a row of an EstimateCost of a conversation's usage.
func estimateRow(name string, want hostileWant, origin quotav1.Origin, usage func() *quotav1.AgentRun) hostileRow {
	return hostileRow{name: name, want: want, call: func(ctx context.Context, h *hostile) error {
		_, err := h.c.quota.EstimateCost(ctx, &quotav1.EstimateCostRequest{Origin: origin, Usage: usage()})
		return err
	}}
}

// usageWith is smallUsage with one sub-agent like it, changed by edit.
func usageWith(edit func(u *quotav1.AgentRun)) func() *quotav1.AgentRun {
	return func() *quotav1.AgentRun {
		u := smallUsage()
		u.Actions = []*quotav1.ToolAction{{Tool: "web_search"}}
		u.SubAgents = []*quotav1.AgentRun{smallUsage()}
		edit(u)
		return u
	}
}

// chain is a usage tree of depth levels, or of a root with subs sub-agents
// and items actions.
func chain(depth, subs, items int) func() *quotav1.AgentRun {
	return func() *quotav1.AgentRun {
		root := &quotav1.AgentRun{AgentId: "a0"}
		n := root
		for i := 1; i < depth; i++ {
			n.SubAgents = []*quotav1.AgentRun{{AgentId: fmt.Sprintf("a%d", i)}}
			n = n.SubAgents[0]
		}
		for i := range subs {
			root.SubAgents = append(root.SubAgents, &quotav1.AgentRun{AgentId: fmt.Sprintf("s%d", i)})
		}
		for range items {
			root.Actions = append(root.Actions, &quotav1.ToolAction{Tool: "think"})
		}
		return root
	}
}

// amountRows: negative, int64-max and overflowing amounts and token
// counts.
func amountRows() []hostileRow {
	over := quota.MaxAmount + 1
	rows := []hostileRow{
		reserveRow("Reserve amount negative", invalidField("amount"), func(r *quotav1.ReserveRequest) { r.Amount = -1 }),
		reserveRow("Reserve amount 0", invalidField("amount"), func(r *quotav1.ReserveRequest) { r.Amount = 0 }),
		reserveRow("Reserve amount 10^15+1", invalidField("amount"), func(r *quotav1.ReserveRequest) { r.Amount = over }),
		reserveRow("Reserve amount int64 max", invalidField("amount"), func(r *quotav1.ReserveRequest) { r.Amount = math.MaxInt64 }),
		reserveRow("Reserve amount int64 min", invalidField("amount"), func(r *quotav1.ReserveRequest) { r.Amount = math.MinInt64 }),
		reserveRow("Reserve min_amount negative", invalidField("min_amount"), func(r *quotav1.ReserveRequest) { r.MinAmount = -1 }),
		reserveRow("Reserve min_amount above amount", invalidField("min_amount"), func(r *quotav1.ReserveRequest) { r.MinAmount = 2 * credit }),
		reserveRow("Reserve min_amount int64 max", invalidField("min_amount"), func(r *quotav1.ReserveRequest) { r.MinAmount = math.MaxInt64 }),
		reserveRow("Reserve run_token_cap negative", invalidField("run_token_cap"), func(r *quotav1.ReserveRequest) { r.RunTokenCap = proto.Int64(-1) }),
		reserveRow("Reserve run_token_cap int64 max", invalidField("run_token_cap"), func(r *quotav1.ReserveRequest) { r.RunTokenCap = proto.Int64(math.MaxInt64) }),
		{name: "Reserve run_token_cap on a child", want: invalidField("run_token_cap"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", ParentReservationId: h.resAcme, RequestId: "row-child-cap",
				Amount: credit, RunTokenCap: proto.Int64(credit)})
			return err
		}},
		func() hostileRow {
			r := reserveRow("Reserve of 10^15 (in bounds) is a denial, recorded", hostileWant{codes.ResourceExhausted, "CREDITS_EXHAUSTED", ""},
				func(r *quotav1.ReserveRequest) { r.Amount = quota.MaxAmount })
			r.recorded = true
			return r
		}(),
		extendRow("Extend add_amount negative", invalidField("add_amount"), func(r *quotav1.ExtendRequest) { r.AddAmount = -1 }),
		extendRow("Extend add_amount 10^15+1", invalidField("add_amount"), func(r *quotav1.ExtendRequest) { r.AddAmount = over }),
		extendRow("Extend add_amount int64 max", invalidField("add_amount"), func(r *quotav1.ExtendRequest) { r.AddAmount = math.MaxInt64 }),
		extendRow("Extend with nothing to change", invalidField("add_amount"), func(r *quotav1.ExtendRequest) { r.AddAmount = 0 }),
		commitRow("Commit input_tokens negative", invalidField("usage.models[0].input_tokens"), usageWith(func(u *quotav1.AgentRun) { u.Models[0].InputTokens = -1 })),
		commitRow("Commit output_tokens 10^12+1", invalidField("usage.models[0].output_tokens"), usageWith(func(u *quotav1.AgentRun) { u.Models[0].OutputTokens = quota.MaxTokens + 1 })),
		commitRow("Commit cache_read_tokens int64 max", invalidField("usage.models[0].cache_read_tokens"), usageWith(func(u *quotav1.AgentRun) { u.Models[0].CacheReadTokens = math.MaxInt64 })),
		commitRow("Commit cache_write_tokens int64 min", invalidField("usage.models[0].cache_write_tokens"), usageWith(func(u *quotav1.AgentRun) { u.Models[0].CacheWriteTokens = math.MinInt64 })),
		commitRow("Commit a sub-agent's input_tokens negative", invalidField("usage.sub_agents[0].models[0].input_tokens"),
			usageWith(func(u *quotav1.AgentRun) { u.SubAgents[0].Models[0].InputTokens = -1 })),
		// 10^12 output tokens of claude-opus-4-1 cost 7.5·10^15 µcredits.
		commitRow("Commit one model line costing past 10^15", invalidField("usage.models[0]"),
			usageWith(func(u *quotav1.AgentRun) {
				u.Models[0] = &quotav1.ModelUsage{Model: "claude-opus-4-1", OutputTokens: quota.MaxTokens}
			})),
		// 10,000 lines of 10^12 tokens: 10^16 tokens of one model, summed.
		commitRow("Commit 10,000 lines of 10^12 tokens of one model", invalidField("usage.models[0]"), func() *quotav1.AgentRun {
			u := &quotav1.AgentRun{AgentId: "main"}
			for range quota.MaxItems {
				u.Models = append(u.Models, &quotav1.ModelUsage{Model: "gpt-5-mini", InputTokens: quota.MaxTokens})
			}
			return u
		}),
		// Two sub-agents of 7.5·10^14 µcredits each.
		commitRow("Commit agents whose costs sum past 10^15", invalidField("usage"), usageWith(func(u *quotav1.AgentRun) {
			dear := &quotav1.ModelUsage{Model: "claude-opus-4-1", OutputTokens: quota.MaxTokens / 10}
			u.SubAgents = []*quotav1.AgentRun{{AgentId: "s0", Models: []*quotav1.ModelUsage{dear}}, {AgentId: "s1", Models: []*quotav1.ModelUsage{dear}}}
		})),
		estimateRow("EstimateCost input_tokens negative", invalidField("usage.models[0].input_tokens"), quotav1.Origin_ORIGIN_CONVERSATION,
			usageWith(func(u *quotav1.AgentRun) { u.Models[0].InputTokens = -1 })),
		estimateRow("EstimateCost agents whose costs sum past 10^15", invalidField("usage"), quotav1.Origin_ORIGIN_AUTOMATION, usageWith(func(u *quotav1.AgentRun) {
			dear := &quotav1.ModelUsage{Model: "claude-opus-4-1", OutputTokens: quota.MaxTokens / 10}
			u.SubAgents = []*quotav1.AgentRun{{AgentId: "s0", Models: []*quotav1.ModelUsage{dear}}, {AgentId: "s1", Models: []*quotav1.ModelUsage{dear}}}
		})),
		{name: "AddPoolGrant past pool_granted (2^52 µcredits in all)", want: limitExceeded("amount"), call: func(ctx context.Context, h *hostile) error {
			_, err := h.c.admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "pool", RequestId: "row-pool-overflow",
				Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: quota.MaxAmount})
			return err
		}},
	}
	return rows
}

// commitRaw is the encoding of a Commit of acme's reservation (as id)
// whose usage is the encoded AgentRun usage.
func commitRaw(resID string, usage []byte) []byte {
	b := wiretest.String(wiretest.String(wiretest.String(nil, 1, "acme"), 2, resID), 3, "row-raw")
	return wiretest.Message(b, 4, usage)
}

// rawRow is a row that sends body (made with h) to method.
func rawRow(name string, want hostileWant, method string, body func(h *hostile) []byte) hostileRow {
	return hostileRow{name: name, want: want, call: func(ctx context.Context, h *hostile) error { return h.raw(ctx, method, body(h)) }}
}

// treeRows: huge and deep usage trees, and bytes that do not decode.
func treeRows() []hostileRow {
	commit, estimate := quotav1.QuotaService_Commit_FullMethodName, quotav1.QuotaService_EstimateCost_FullMethodName
	return []hostileRow{
		rawRow("Commit a usage tree 100,000 deep", malformed, commit, func(h *hostile) []byte { return commitRaw(h.resAcme, wiretest.DeepAgentRun(100_000)) }),
		rawRow("EstimateCost a usage tree 100,000 deep", malformed, estimate, func(*hostile) []byte {
			return wiretest.Message(wiretest.Varint(nil, 1, 1), 2, wiretest.DeepAgentRun(100_000))
		}),
		commitRow("Commit a usage tree 17 deep", limitExceeded("usage"), chain(quota.MaxDepth+1, 0, 0)),
		commitRow("Commit a usage tree of 1,001 agents", limitExceeded("usage"), chain(1, quota.MaxNodes, 0)),
		commitRow("Commit a usage tree of 10,001 actions", limitExceeded("usage"), chain(1, 0, quota.MaxItems+1)),
		estimateRow("EstimateCost a usage tree 17 deep", limitExceeded("usage"), quotav1.Origin_ORIGIN_CONVERSATION, chain(quota.MaxDepth+1, 0, 0)),
		estimateRow("EstimateCost a usage tree of 1,001 agents", limitExceeded("usage"), quotav1.Origin_ORIGIN_CONVERSATION, chain(1, quota.MaxNodes, 0)),
		rawRow("Commit a request over 4 MiB", hostileWant{codes.ResourceExhausted, "", ""}, commit, func(h *hostile) []byte {
			return commitRaw(h.resAcme, wiretest.String(nil, 1, strings.Repeat("a", 5<<20)))
		}),
		commitRow("Commit an agent_id of 10 KB", invalidField("usage.agent_id"), usageWith(func(u *quotav1.AgentRun) { u.AgentId = strings.Repeat("a", 10<<10) })),
		commitRow("Commit a model name of 129 bytes", invalidField("usage.sub_agents[0].models[0].model"),
			usageWith(func(u *quotav1.AgentRun) { u.SubAgents[0].Models[0].Model = strings.Repeat("m", quota.MaxIDLen+1) })),
		commitRow("Commit an empty tool name", invalidField("usage.actions[0].tool"), usageWith(func(u *quotav1.AgentRun) { u.Actions[0].Tool = "" })),
		rawRow("Reserve a workspace_id that is not UTF-8", malformed, quotav1.QuotaService_Reserve_FullMethodName, func(*hostile) []byte {
			return wiretest.String(nil, 1, "acme\xff")
		}),
		rawRow("Commit a model name that is not UTF-8", malformed, commit, func(h *hostile) []byte {
			return commitRaw(h.resAcme, wiretest.Message(wiretest.String(nil, 1, "main"), 2, wiretest.String(nil, 1, "m\xc3\x28")))
		}),
		rawRow("SetPricing garbage bytes", malformed, quotav1.AdminService_SetPricing_FullMethodName, func(*hostile) []byte {
			return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x7f}
		}),
		rawRow("Refund a truncated message", malformed, quotav1.QuotaService_Refund_FullMethodName, func(*hostile) []byte { return []byte{0x0a, 0x05, 'a'} }),
	}
}
