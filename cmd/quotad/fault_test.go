package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/status"
)

// A fault under load: the load of load_test.go runs, a fault strikes
// (a Redis master, Redis or quotad killed), and the test measures how
// soon the clients are served again and what the fault cost.

const (
	// faultCycles bounds each worker's cycles.
	faultCycles = 2_000
	// loadBeforeKill is how long the load runs before the fault, and
	// loadAfterRecovery how long after the clients are served again.
	loadBeforeKill, loadAfterRecovery = time.Second, time.Second
	// faultWait bounds the wait for the end of the fault (a promotion, a
	// restart), and for the clients to be served again. A sentinel starved
	// of CPU for 2 s enters TILT mode and does nothing for 30 s: on a
	// loaded machine a failover may take that long.
	faultWait = time.Minute
	// followBound is how soon after the end of a fault (a replica's
	// promotion, Redis's restart) quotad must serve the clients again,
	// without a restart of its own (issue 8: within 10 s; the README
	// states it).
	followBound = 10 * time.Second
)

// faultFigures are what underLoad measured, from the fault.
type faultFigures struct {
	// at is when the fault struck, done when it was done (the process
	// killed had exited).
	at, done time.Time
	// over is how long after the fault it was over (its end returned),
	// and served when the clients it hit were served again.
	over, served time.Duration
	// failed counts the calls that failed after the fault, of the
	// accounts it hit and of the others.
	failed, othersFailed int
	// lastSecond counts the Commits acknowledged in the second before it.
	lastSecond int
}

// underLoad sets up accts and runs the load on them; once it has run
// loadBeforeKill, it calls fault, then end, which returns once the fault
// is over (a promotion, a restart). It waits until the accounts that hit
// says the fault hit are served again (by a call started after their last
// failure), lets the load run loadAfterRecovery more and stops it. It
// fails t if they are not served within followBound of the fault's end,
// and logs and returns the figures, with the stopped load for the checks
// of the books.
func underLoad(t *testing.T, c *client, accts []account, hit func(account) bool, fault func() error,
	end func(context.Context) error) (*load, faultFigures) {
	t.Helper()
	setUpAccounts(t, c, accts)
	l := startLoad(t, c, accts, faultCycles)
	time.Sleep(loadBeforeKill)

	f := faultFigures{at: time.Now()}
	if err := fault(); err != nil {
		t.Fatal(err)
	}
	f.done = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), faultWait)
	err := end(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	f.over = time.Since(f.at)
	var served time.Time
	for wait := time.Now().Add(faultWait); served.IsZero() && time.Now().Before(wait); time.Sleep(100 * time.Millisecond) {
		l.mu.Lock()
		_, served = l.outage(f.at, hit)
		l.mu.Unlock()
	}
	if served.IsZero() {
		t.Fatalf("the clients were not served again within %v of the end of the fault; failures: %v", faultWait, l.failureKinds())
	}
	time.Sleep(loadAfterRecovery)
	l.stopAndWait()

	f.served = served.Sub(f.at)
	f.failed, _ = l.outage(f.at, hit)
	f.othersFailed, _ = l.outage(f.at, func(a account) bool { return !hit(a) })
	_, f.lastSecond = l.acked(f.at.Add(-time.Second), f.at)
	t.Logf("the fault was over %v after it struck; the clients were served again %v after it (%v after its end), quotad never restarted; %d calls failed meanwhile (%v), %d of accounts it did not hit; %d cycles, %d Commits acknowledged in the second before it",
		f.over.Round(time.Millisecond), f.served.Round(time.Millisecond), (f.served - f.over).Round(time.Millisecond),
		f.failed, l.failureKinds(), f.othersFailed, len(l.cycles), f.lastSecond)
	if f.served-f.over > followBound {
		t.Errorf("the clients were served again %v after the end of the fault, want within %v", f.served-f.over, followBound)
	}
	return l, f
}

// acked returns how many cycles were committed, and how many of them
// were acknowledged at or after from and before to.
func (l *load) acked(from, to time.Time) (all, between int) {
	for _, cy := range l.cycles {
		if cy.committed == nil {
			continue
		}
		all++
		if !cy.committedAt.Before(from) && cy.committedAt.Before(to) {
			between++
		}
	}
	return all, between
}

// touched returns how many cycles had a call acknowledged at or after
// from and before to.
func (l *load) touched(from, to time.Time) int {
	n := 0
	in := func(at time.Time) bool { return !at.IsZero() && !at.Before(from) && at.Before(to) }
	for _, cy := range l.cycles {
		if in(cy.reservedAt) || in(cy.committedAt) {
			n++
		}
	}
	return n
}

// outage returns, for the calls of the accounts that match, how many
// failed after since, and when the first call that started after since
// and after the last failure succeeded (zero if none did).
func (l *load) outage(since time.Time, match func(account) bool) (failed int, recovered time.Time) {
	var lastFail time.Time
	for _, e := range l.events {
		if match(e.acct) && e.err != nil && e.end.After(since) {
			failed++
			if e.end.After(lastFail) {
				lastFail = e.end
			}
		}
	}
	after := since
	if lastFail.After(after) {
		after = lastFail
	}
	for _, e := range l.events {
		if match(e.acct) && e.err == nil && !e.start.Before(after) && (recovered.IsZero() || e.end.Before(recovered)) {
			recovered = e.end
		}
	}
	return failed, recovered
}

// failureKinds counts the failed calls by code.
func (l *load) failureKinds() map[string]int {
	kinds := map[string]int{}
	for _, e := range l.events {
		if e.err != nil {
			kinds[status.Code(e.err).String()]++
		}
	}
	return kinds
}
