package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// makeReports sets up, on top of makeRun (alice's committed run and held
// reservation), bob on a Max seat, a pool grant and a programmatic run
// of spender key:ci-bot, through the gRPC client; it returns alice's held
// reservation.
func makeReports(t *testing.T, q *testQuotad) (held string) {
	t.Helper()
	_, _, held = makeRun(t, q)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := q.Admin.SetSeat(ctx, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "bob", RequestId: "seat-2", Seat: quotav1.Seat_SEAT_MAX})
	check("SetSeat bob", err)
	_, err = q.Admin.AddPoolGrant(ctx, &quotav1.AddPoolGrantRequest{WorkspaceId: "acme", RequestId: "grant-1", Kind: quotav1.GrantKind_GRANT_KIND_TOP_UP, Amount: 1_000_000_000})
	check("AddPoolGrant", err)
	r, err := q.Quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", SpenderId: "key:ci-bot", RequestId: "bot-1",
		Amount: 5_000_000, Origin: quotav1.Origin_ORIGIN_AUTOMATION})
	check("Reserve bot", err)
	_, err = q.Quota.Commit(ctx, &quotav1.CommitRequest{WorkspaceId: "acme", ReservationId: r.GetReservation().GetReservationId(), RequestId: "bot-1-commit",
		Usage: &quotav1.AgentRun{AgentId: "ci", Actions: []*quotav1.ToolAction{{Tool: "slack_connector"}}}})
	check("Commit bot", err)
	_, err = q.Quota.Reserve(ctx, &quotav1.ReserveRequest{WorkspaceId: "acme", MemberId: "bob", RequestId: "bob-1",
		Amount: 2_500_000, Origin: quotav1.Origin_ORIGIN_CONVERSATION})
	check("Reserve bob", err)
	return held
}

// TestReports lists members, usage by every grouping, the ledger and the
// open reservations, as tables and as proto JSON.
func TestReports(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	makeReports(t, q)
	got := transcript(t, q.Addr, nil,
		cmdline("members acme"),
		cmdline("members acme --page-size 1"),
		cmdline("members acme --limit 1"),
		cmdline("usage acme"),
		cmdline("usage acme --by agent --from 2026-11-01 --to 2026-11-16"),
		cmdline("usage acme --by model --from 2026-11-15T08:00:00Z"),
		cmdline("usage acme --by tier"),
		cmdline("usage acme --by origin --page-size 1"),
		cmdline("usage acme --by day --from 2026-11-10 --to 2026-11-20"),
		cmdline("usage acme --by day --from 2026-10-01 --to 2026-10-05"),
		cmdline("ledger acme"),
		cmdline("ledger acme --member bob"),
		cmdline("ledger acme --page-size 2 --limit 3"),
		cmdline("reservations acme"),
		cmdline("reservations acme --member bob --page-size 1"),
		cmdline("reservations acme --member carol"),
		cmdline("members acme --limit 1 --json"),
		cmdline("usage acme --by member --json"),
		cmdline("usage acme --by tier --page-size 1 --json"),
		cmdline("ledger acme --member bob --json"),
		cmdline("reservations acme --json"),
	)
	checkGolden(t, "reports", got)
}

// TestReportErrors checks what quotad rejects of the reports.
func TestReportErrors(t *testing.T) {
	q := startQuotad(t, quotadOptions{})
	setUpWorkspace(t, q)
	got := transcript(t, q.Addr, nil,
		cmdline("members nowhere"),
		cmdline("usage acme --from 2026-11-20 --to 2026-11-10"),
		cmdline("usage acme --from 2025-01-01 --to 2026-11-10"),
		cmdline("ledger nowhere"),
		cmdline("ledger acme --page-token bogus"),
		cmdline("reservations acme --member a/b"),
	)
	checkGolden(t, "report-errors", got)
}

// TestLedgerFollow runs ledger --follow, as a table and as proto JSON:
// it prints the entries so far, then one written after it started, and
// stops, exit code 0, when its context is cancelled (an interrupt).
func TestLedgerFollow(t *testing.T) {
	for _, tc := range []struct{ name, golden string }{{"table", "ledger-follow"}, {"json", "ledger-follow-json"}} {
		t.Run(tc.name, func(t *testing.T) {
			q := startQuotad(t, quotadOptions{})
			setUpWorkspace(t, q)
			shown := []string{"ledger", "acme", "--follow", "--interval", "100ms"}
			if tc.name == "json" {
				shown = append(shown, "--json")
			}
			args := append(shown, "--addr", q.Addr)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stdout, stderr := newWatched(), newWatched()
			done := make(chan int, 1)
			go func() {
				done <- execute(ctx, args, strings.NewReader(""), stdout, stderr, func(string) string { return "" })
			}()
			stdout.waitFor(t, done, "ws-1")

			ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel2()
			if _, err := q.Admin.SetSeat(ctx2, &quotav1.SetSeatRequest{WorkspaceId: "acme", MemberId: "alice", RequestId: "seat-after-start", Seat: quotav1.Seat_SEAT_PRO}); err != nil {
				t.Fatal(err)
			}
			stdout.waitFor(t, done, "seat-after-start")
			cancel()
			select {
			case code := <-done:
				if code != exitOK || stderr.String() != "" {
					t.Errorf("ledger --follow, interrupted = exit %d, stderr %q; want exit 0, nothing on stderr", code, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("ledger --follow did not stop when its context was cancelled")
			}
			checkGolden(t, tc.golden, "$ quotactl "+strings.Join(shown, " ")+" (then seat set acme alice pro, then an interrupt)\n"+stdout.String())
		})
	}
}

// watched is a buffer safe for concurrent use whose writes can be waited
// for.
type watched struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

// newWatched returns an empty watched buffer.
func newWatched() *watched { return &watched{written: make(chan struct{}, 1)} }

// Write appends p and wakes a waitFor.
func (w *watched) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.written <- struct{}{}:
	default:
	}
	return w.buf.Write(p)
}

// String returns what was written.
func (w *watched) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits until what was written contains s; it fails the test if
// the command ends (done) first, or after 30 s.
func (w *watched) waitFor(t *testing.T, done <-chan int, s string) {
	t.Helper()
	limit := time.After(30 * time.Second)
	for !strings.Contains(w.String(), s) {
		select {
		case <-w.written:
		case code := <-done:
			t.Fatalf("quotactl ended, exit %d, before printing %q:\n%s", code, s, w.String())
		case <-limit:
			t.Fatalf("quotactl did not print %q in 30 s:\n%s", s, w.String())
		}
	}
}
