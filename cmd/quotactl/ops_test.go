package main

import (
	"regexp"
	"strings"
	"testing"
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
