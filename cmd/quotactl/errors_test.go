package main

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/quota-svc/quota/server"
)

// TestUsageErrors checks that a bad command line is exit code 2 with the
// error and a pointer to the help, and sends nothing (no request id is
// printed, and no server is needed: QUOTA_ADDR points at a closed port).
func TestUsageErrors(t *testing.T) {
	got := transcript(t, closedAddr(t), nil,
		cmdline("bogus"),
		cmdline("grant bogus"),
		cmdline("balance"),
		cmdline("balance acme alice bob"),
		cmdline("workspace get acme --bogus"),
		cmdline("workspace set acme"),
		cmdline("workspace set acme --subscription-start yesterday"),
		cmdline("seat set acme alice gold"),
		cmdline("cap set acme alice lots"),
		cmdline("grant add acme --kind gift --amount 5"),
		cmdline("grant add acme --kind top-up --amount 1.0000001"),
		cmdline("grant add acme --kind top-up --amount 1e6"),
		cmdline("grant add acme --kind top-up --amount 99999999999999"),
		cmdline("grants acme --limit -1"),
		cmdline("pricing set testdata/missing.json"),
		cmdline("pricing set testdata/usage.json"),
		cmdline("estimate --origin api testdata/usage.json"),
		cmdline("balance acme --timeout soon"),
		cmdline("balance acme --ca-file testdata/missing.pem"),
		cmdline("balance acme --cert testdata/pricing.json"),
		cmdline("members"),
		cmdline("usage acme --by week"),
		cmdline("usage acme --from yesterday"),
		cmdline("usage acme --to 2026-13-01"),
		cmdline("ledger acme --follow --limit 5"),
		cmdline("ledger acme --follow --interval 1ms"),
		cmdline("ledger acme --interval soon"),
		cmdline("reservations acme bob"),
		cmdline("refund acme r1"),
		cmdline("refund acme --reason why"),
		cmdline("adjust acme alice --reason why"),
		cmdline("adjust acme alice --amount 12.5x --reason why"),
		cmdline("adjust acme alice --amount -1.0000001 --reason why"),
		cmdline("adjust acme --amount 5 --reason why --expire tomorrow"),
		cmdline("explain acme alice bob"),
		cmdline("audit"),
	)
	checkGolden(t, "usage-errors", got)
}

// TestServerErrors checks the one-line errors and exit codes of what
// quotad refuses: rejected (4), denied (3), and failures (1).
func TestServerErrors(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	got := transcript(t, q.Addr, nil,
		cmdline("workspace get nowhere"),
		cmdline("balance nowhere alice"),
		step{Args: []string{"workspace", "set", "a b", "--subscription-start", "2026-01-31T09:00:00Z", "--request-id", "ws-x"}},
		cmdline("workspace set acme --subscription-start 2026-01-31T09:00:00Z --request-id ws-1"),
		cmdline("workspace set acme --subscription-start 2026-02-28T09:00:00Z --request-id ws-1"),
		cmdline("grant add acme --kind commitment --amount 5 --request-id grant-1"),
		cmdline("grant add acme --kind top-up --amount 5 --request-id grant-2"),
		cmdline("grant void acme g1 --request-id void-1"),
		cmdline("grant void acme g1 --request-id void-2"),
		cmdline("grant void acme g9 --request-id void-3"),
		cmdline("reservation get acme c_00000000000000000000000000000000_0"),
		cmdline("pricing show --version 7"),
		cmdline("workspace get nowhere --json"),
	)
	checkGolden(t, "server-errors", got)
}

// TestAuthAndUnavailable checks the token (flag and QUOTA_TOKEN), the
// answers to a missing, unknown or under-privileged token, and quotad
// out of reach: all exit code 1.
func TestAuthAndUnavailable(t *testing.T) {
	const viewerToken = "viewer-token-0123456789"
	q := startQuotad(t, quotadOptions{Tokens: map[string]server.Role{adminToken: server.RoleAdmin, viewerToken: server.RoleViewer}})
	setUpWorkspace(t, q)
	got := transcript(t, q.Addr, map[string]string{envToken: viewerToken},
		cmdline("workspace get acme"),
		cmdline("workspace get acme --token not-a-token-0123456789"),
		cmdline("seat set acme alice pro --request-id seat-1"),
		cmdline("seat set acme alice pro --request-id seat-1 --token "+adminToken),
	)
	got += "\n" + transcript(t, q.Addr, nil, cmdline("workspace get acme"))
	checkGolden(t, "auth", got)

	// An address nothing listens on: UNAVAILABLE, exit 1, the address in
	// the message.
	addr := closedAddr(t)
	r := runCLI(t, map[string]string{envAddr: addr}, "", "balance", "acme", "alice")
	if r.Code != exitFailure || !strings.HasPrefix(r.Stderr, "quotactl: UNAVAILABLE: ") || !strings.Contains(r.Stderr, addr) ||
		strings.Count(r.Stderr, "\n") != 1 || r.Stdout != "" {
		t.Errorf("balance with quotad out of reach = %+v, want exit 1 and one line \"quotactl: UNAVAILABLE: ...%s...\"", r, addr)
	}
}

// TestGeneratedRequestID checks that a mutation without --request-id
// sends a generated one and prints it, and that sending it again is a
// retry: the first answer, nothing changed.
func TestGeneratedRequestID(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	setUpWorkspace(t, q)
	env := map[string]string{envAddr: q.Addr}
	first := runCLI(t, env, "", "grant", "add", "acme", "--kind", "top-up", "--amount", "10")
	m := regexp.MustCompile(`^request id: (qctl-[0-9a-f]{24})\n$`).FindStringSubmatch(first.Stderr)
	if first.Code != 0 || m == nil {
		t.Fatalf("grant add = %+v, want exit 0 and stderr \"request id: qctl-<24 hex digits>\"", first)
	}
	again := runCLI(t, env, "", "grant", "add", "acme", "--kind", "top-up", "--amount", "10", "--request-id", m[1])
	if again.Code != 0 || again.Stdout != first.Stdout {
		t.Errorf("retry with --request-id %s = %+v, want the first answer %q", m[1], again, first.Stdout)
	}
	other := runCLI(t, env, "", "grant", "add", "acme", "--kind", "top-up", "--amount", "10")
	if other.Stderr == first.Stderr {
		t.Errorf("two runs generated the same request id: %q", other.Stderr)
	}
	if grants := runCLI(t, env, "", "grants", "acme"); strings.Count(grants.Stdout, "top-up") != 2 {
		t.Errorf("grants after two adds and a retry:\n%s\nwant 2 grants", grants.Stdout)
	}
}

// TestAddrFlagBeatsEnvironment checks that --addr wins over QUOTA_ADDR.
func TestAddrFlagBeatsEnvironment(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	r := runCLI(t, map[string]string{envAddr: closedAddr(t)}, "", "pricing", "versions", "--addr", q.Addr)
	if r.Code != 0 {
		t.Errorf("pricing versions --addr %s with QUOTA_ADDR elsewhere = %+v, want exit 0", q.Addr, r)
	}
}

// closedAddr returns an address of 127.0.0.1 where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// TestHelp keeps the help, with the exit codes, in a golden file: quotactl
// alone and a group alone print their help and exit 0.
func TestHelp(t *testing.T) {
	got := transcript(t, closedAddr(t), nil,
		cmdline("--help"),
		cmdline("grant"),
	)
	checkGolden(t, "help", got)
}
