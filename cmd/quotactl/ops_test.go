package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/quota-svc/quota/server"
)

// TestExplainAuditAdjustRefund explains a member's balance and the
// pool's, adjusts both up and down, refunds a held reservation as an
// operator, audits the workspace, and shows the ledger's record of it:
// tables, proto JSON, and the denials.
func TestExplainAuditAdjustRefund(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	held := makeReports(t, q)
	got := transcript(t, q.Addr, nil,
		cmdline("explain acme alice"),
		cmdline("explain acme"),
		step{Args: []string{"adjust", "acme", "alice", "--amount", "250", "--reason", "goodwill: outage of 2026-11-14", "--request-id", "adj-1"}},
		step{Args: []string{"adjust", "acme", "alice", "--amount", "-12.5", "--reason", "double credit", "--request-id", "adj-2"}},
		step{Args: []string{"adjust", "acme", "alice", "--amount=-99999", "--reason", "too much", "--request-id", "adj-3"}},
		step{Args: []string{"adjust", "acme", "--amount", "1,000.000001", "--reason", "support credit", "--expire", "2027-03-01T00:00:00Z", "--request-id", "adj-4"}},
		step{Args: []string{"adjust", "acme", "--amount", "-0.5", "--reason", "rounding", "--request-id", "adj-5"}},
		step{Args: []string{"adjust", "acme", "carol", "--amount", "1", "--reason", "new", "--request-id", "adj-6"}},
		step{Args: []string{"adjust", "acme", "alice", "--amount", "0", "--reason", "nothing", "--request-id", "adj-7"}},
		step{Args: []string{"refund", "acme", held, "--reason", "stuck run", "--request-id", "refund-1"}},
		step{Args: []string{"refund", "acme", held, "--reason", "stuck run, again", "--request-id", "refund-2"}},
		step{Args: []string{"refund", "acme", held, "--reason", "", "--request-id", "refund-3"}},
		cmdline("audit acme"),
		cmdline("ledger acme --member alice"),
		cmdline("explain acme alice --json"),
		cmdline("explain acme --json"),
		cmdline("audit acme --json"),
		step{Args: []string{"adjust", "acme", "bob", "--amount", "1.5", "--reason", "json", "--request-id", "adj-8", "--json"}},
		step{Args: []string{"adjust", "acme", "--amount", "2", "--reason", "json", "--request-id", "adj-9", "--json"}},
		cmdline("explain nowhere"),
		cmdline("audit nowhere"),
	)
	checkGolden(t, "ops", got)
}

// TestRefundAndAdjustRequestID checks that refund and adjust send a
// generated request id, print it, and that sending it again is a retry:
// the first answer, applied once.
func TestRefundAndAdjustRequestID(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	held := makeReports(t, q)
	env := map[string]string{envAddr: q.Addr}
	id := regexp.MustCompile(`^request id: (qctl-[0-9a-f]{24})\n$`)
	for _, args := range [][]string{
		{"adjust", "acme", "alice", "--amount", "10", "--reason", "retry"},
		{"refund", "acme", held, "--reason", "retry"},
	} {
		first := runCLI(t, env, "", args...)
		m := id.FindStringSubmatch(first.Stderr)
		if first.Code != 0 || m == nil {
			t.Fatalf("%s = %+v, want exit 0 and stderr \"request id: qctl-<24 hex digits>\"", args[0], first)
		}
		again := runCLI(t, env, "", append(args, "--request-id", m[1])...)
		if again.Code != 0 || again.Stdout != first.Stdout {
			t.Errorf("%s retried with --request-id %s = %+v, want the first answer %q", args[0], m[1], again, first.Stdout)
		}
	}
	ledger := runCLI(t, env, "", "ledger", "acme", "--member", "alice")
	if n := strings.Count(ledger.Stdout, " adjust "); n != 1 {
		t.Errorf("ledger after an adjust and its retry has %d adjust entries, want 1:\n%s", n, ledger.Stdout)
	}
	if n := strings.Count(ledger.Stdout, `reason "retry"`); n != 2 {
		t.Errorf("ledger after an adjust, a refund and their retries has %d entries with reason \"retry\", want 2:\n%s", n, ledger.Stdout)
	}
}

// TestOperatorActionsNameTheActor checks that adjust and refund, sent
// with a token, are recorded in the ledger with the token's name, and
// that a viewer's token may not make them (exit 1).
func TestOperatorActionsNameTheActor(t *testing.T) {
	const viewerToken = "viewer-token-0123456789"
	q := startQuotad(t, quotadOptions{Tokens: map[string]server.Role{adminToken: server.RoleAdmin, viewerToken: server.RoleViewer}})
	held := makeReports(t, q)
	admin := map[string]string{envAddr: q.Addr, envToken: adminToken}
	viewer := map[string]string{envAddr: q.Addr, envToken: viewerToken}
	if r := runCLI(t, viewer, "", "adjust", "acme", "alice", "--amount", "5", "--reason", "viewer"); r.Code != exitFailure || !strings.Contains(r.Stderr, "PERMISSION_DENIED") {
		t.Errorf("adjust with a viewer's token = %+v, want exit 1, PERMISSION_DENIED", r)
	}
	for _, args := range [][]string{
		{"adjust", "acme", "alice", "--amount", "5", "--reason", "by admin"},
		{"refund", "acme", held, "--reason", "by admin"},
	} {
		if r := runCLI(t, admin, "", args...); r.Code != 0 {
			t.Fatalf("%s with the admin token = %+v, want exit 0", args[0], r)
		}
	}
	ledger := runCLI(t, viewer, "", "ledger", "acme", "--member", "alice")
	if n := strings.Count(ledger.Stdout, `actor admin; reason "by admin"`); ledger.Code != 0 || n != 2 {
		t.Errorf("ledger = %+v; want 2 entries with actor admin and the reason", ledger)
	}
}
