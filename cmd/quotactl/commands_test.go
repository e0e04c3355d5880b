package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// TestWorkspaceSeatsAndCaps sets up a workspace, seats, its policy and
// member caps, and reads balances, as tables.
func TestWorkspaceSeatsAndCaps(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	got := transcript(t, q.Addr, nil,
		cmdline("workspace set acme --subscription-start 2026-01-31T09:00:00Z --request-id ws-1"),
		cmdline("workspace get acme"),
		cmdline("seat set acme alice pro --request-id seat-1"),
		cmdline("seat set acme bob free --request-id seat-2"),
		cmdline("grant add acme --kind top-up --amount 100000 --request-id grant-1"),
		cmdline("policy set acme --member-pool-cap 2000 --overage --overage-cap 10000 --programmatic-cap 5000 --request-id policy-1"),
		cmdline("cap set acme alice unlimited --request-id cap-1"),
		cmdline("cap set acme bob 0 --request-id cap-2"),
		cmdline("cap set acme bob default --request-id cap-3"),
		cmdline("seat set acme alice none --request-id seat-3"),
		cmdline("balance acme alice"),
		cmdline("balance acme"),
		// The same request id and request: the first answer again.
		cmdline("seat set acme bob free --request-id seat-2"),
	)
	checkGolden(t, "workspace", got)
}

// TestGrants adds, lists (page by page, and up to a limit) and voids pool
// grants.
func TestGrants(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	got := transcript(t, q.Addr, nil,
		cmdline("workspace set acme --subscription-start 2026-01-31T09:00:00Z --request-id ws-1"),
		cmdline("grant add acme --kind top-up --amount 100000 --request-id grant-1"),
		cmdline("grant add acme --kind commitment --amount 500000.5 --priority 10 --start 2026-12-01T00:00:00Z --expire 2027-12-01T00:00:00Z --request-id grant-2"),
		cmdline("grant add acme --kind top-up --amount 0.000001 --start 2026-11-01T00:00:00Z --expire 2026-11-20T00:00:00Z --request-id grant-3"),
		cmdline("grants acme"),
		cmdline("grants acme --page-size 1"),
		cmdline("grants acme --limit 2"),
		cmdline("grants acme --page-size 1 --limit 1"),
		cmdline("grant void acme g1 --request-id void-1"),
		cmdline("grants acme"),
	)
	checkGolden(t, "grants", got)
}

// TestGrantsPageTokenResumes checks that the token --limit prints on
// stderr goes on where it stopped.
func TestGrantsPageTokenResumes(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	env := map[string]string{envAddr: q.Addr}
	runCLI(t, env, "", "workspace", "set", "acme", "--subscription-start", "2026-01-31T09:00:00Z")
	for _, id := range []string{"g-a", "g-b", "g-c"} {
		if r := runCLI(t, env, "", "grant", "add", "acme", "--kind", "top-up", "--amount", "1", "--request-id", id); r.Code != 0 {
			t.Fatalf("grant add: %+v", r)
		}
	}
	first := runCLI(t, env, "", "grants", "acme", "--limit", "1")
	var token string
	if _, err := fmt.Sscanf(first.Stderr, "more: --page-token %s\n", &token); err != nil || first.Code != 0 {
		t.Fatalf("grants --limit 1 = %+v, want exit 0 and \"more: --page-token ...\" on stderr (%v)", first, err)
	}
	rest := runCLI(t, env, "", "grants", "acme", "--page-token", token)
	if rest.Code != 0 || rest.Stderr != "" {
		t.Fatalf("grants --page-token %s = %+v, want exit 0, nothing on stderr", token, rest)
	}
	for _, want := range []struct {
		out, id string
		in      bool
	}{{first.Stdout, "g1", true}, {first.Stdout, "g2", false}, {rest.Stdout, "g1", false}, {rest.Stdout, "g2", true}, {rest.Stdout, "g3", true}} {
		if got := slices.Contains(strings.Fields(want.out), want.id); got != want.in {
			t.Errorf("grant %s in output = %v, want %v:\n%s", want.id, got, want.in, want.out)
		}
	}
}

// TestPricing shows the default table, sets a new version from a file
// and from stdin, and lists the versions.
func TestPricing(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	shown := runCLI(t, map[string]string{envAddr: q.Addr}, "", "pricing", "show", "--json")
	if shown.Code != 0 {
		t.Fatalf("pricing show --json: %+v", shown)
	}
	got := transcript(t, q.Addr, nil,
		cmdline("pricing show"),
		cmdline("pricing set testdata/pricing.json --request-id price-1"),
		cmdline("pricing versions"),
		// The output of pricing show --json, the table of version 0, set again.
		step{Args: []string{"pricing", "set", "-", "--request-id", "price-2"}, Stdin: shown.Stdout},
		cmdline("pricing versions --json"),
		cmdline("pricing show --version 1"),
	)
	checkGolden(t, "pricing", got)
}

// TestRunsAndEstimate reads a committed run (made with the gRPC client)
// reservation by reservation and as a whole, and prices a usage tree.
func TestRunsAndEstimate(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	root, child, held := makeRun(t, q)
	got := transcript(t, q.Addr, nil,
		cmdline("reservation get acme "+root),
		cmdline("reservation get acme "+child),
		cmdline("reservation get acme "+held),
		cmdline("run costs acme "+child),
		cmdline("run costs acme "+root+" --agents"),
		cmdline("estimate testdata/usage.json"),
		cmdline("estimate --origin sidekick testdata/usage.json"),
		cmdline("balance acme alice"),
	)
	checkGolden(t, "runs", got)
}

// makeRun sets up workspace acme with alice on a Pro seat and, through
// the gRPC client, a committed run (a root and a child) and a held
// reservation; it returns their ids.
func makeRun(t *testing.T, q *testQuotad) (root, child, held string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	setUpWorkspace(t, q)
	_, err := q.Admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "seat-1", Seat: quotav1.Seat_SEAT_PRO})
	check("SetSeat", err)
	r, err := q.Quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "run-1",
		Amount: 50_000_000, Origin: quotav1.Origin_ORIGIN_CONVERSATION, Ttl: durationpb.New(10 * time.Minute)})
	check("Reserve root", err)
	root = r.GetReservation().GetReservationId()
	r, err = q.Quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", RequestId: "run-1-child",
		ParentReservationId: root, Amount: 10_000_000})
	check("Reserve child", err)
	child = r.GetReservation().GetReservationId()
	_, err = q.Quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "acme", ReservationId: child, RequestId: "run-1-child-commit",
		Usage: &quotav1.AgentRun{AgentId: "researcher",
			Models:  []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: 30_000, OutputTokens: 4_000}},
			Actions: []*quotav1.ToolAction{{Tool: "data_retrieval"}, {Tool: "slack_connector", NotRun: true}}}})
	check("Commit child", err)
	_, err = q.Quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "acme", ReservationId: root, RequestId: "run-1-commit",
		Usage: &quotav1.AgentRun{AgentId: "main",
			Models: []*quotav1.ModelUsage{
				{Model: "claude-sonnet-4-5", InputTokens: 12_000, OutputTokens: 1_500, CacheReadTokens: 40_000},
				{Model: "gpt-9", InputTokens: 1_000},
			},
			Actions: []*quotav1.ToolAction{{Tool: "web_search"}, {Tool: "agent_router"}, {Tool: "jira", ExternalMcp: true}}}})
	check("Commit root", err)
	r, err = q.Quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "run-2",
		Amount: 20_000_000, Origin: quotav1.Origin_ORIGIN_AUTOMATION})
	check("Reserve held", err)
	return root, child, r.GetReservation().GetReservationId()
}

// setUpWorkspace sets up workspace acme, its subscription started on
// 2026-01-31T09:00:00Z, with the gRPC client.
func setUpWorkspace(t *testing.T, q *testQuotad) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := q.Admin.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{WorkspaceId: "acme", RequestId: "ws-1",
		SubscriptionStart: timestamppb.New(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatalf("SetWorkspace: %v", err)
	}
}

// TestJSON checks --json: the response in proto JSON (µcredits, int64 as
// strings), several pages printed as one response, the token to go on
// with when --limit stops early.
func TestJSON(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	root, _, _ := makeRun(t, q)
	got := transcript(t, q.Addr, nil,
		cmdline("workspace get acme --json"),
		cmdline("policy set acme --member-pool-cap 0 --json --request-id policy-1"),
		cmdline("balance acme alice --json"),
		cmdline("grant add acme --kind top-up --amount 1000.5 --json --request-id grant-1"),
		cmdline("grant add acme --kind top-up --amount 2000 --json --request-id grant-2"),
		cmdline("balance acme --json"),
		cmdline("grants acme --page-size 1 --json"),
		cmdline("grants acme --limit 1 --json"),
		cmdline("reservation get acme "+root+" --json"),
		cmdline("run costs acme "+root+" --json"),
		cmdline("estimate --origin automation testdata/usage.json --json"),
	)
	checkGolden(t, "json", got)
}
