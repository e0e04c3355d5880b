package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// A bounded load of Reserve→Commit cycles through quotad's gRPC API, for
// the fault tests (failover, lost replies, crashes). Each worker runs the
// cycles of one account, one after the other. A call that fails
// UNAVAILABLE or DEADLINE_EXCEEDED is retried with the same request_id,
// as the README tells clients, for at most loadRetryFor; a cycle left
// unfinished then is finished by settle once the fault is over. Every
// acknowledged answer is kept, with when it came, so that verify can
// check afterwards that each one is still in the books, to the µcredit.

const (
	// loadCallTimeout bounds one attempt of one call.
	loadCallTimeout = 5 * time.Second
	// loadBackoff is the pause between two attempts.
	loadBackoff = 50 * time.Millisecond
	// loadHoldTTL is every hold's TTL: no hold expires during a test.
	loadHoldTTL = 10 * time.Minute
	// loadHold is what each Reserve holds: 5 credits.
	loadHold = 5 * credit
	// loadPace is the least time between the starts of two cycles of a
	// worker: at most 100 cycles a second each, so that checking them
	// all afterwards stays quick.
	loadPace = 10 * time.Millisecond
)

// account is a member of a workspace, on a Pro seat.
type account struct{ ws, member string }

func (a account) String() string { return a.ws + "/" + a.member }

// cycle is one Reserve→Commit of a load, and what quotad acknowledged.
type cycle struct {
	acct account
	n    int
	// reserved and committed are the acknowledged answers' reservations
	// (nil until acknowledged); reservedAt and committedAt are when they
	// came.
	reserved, committed     *quotav1.Reservation
	reservedAt, committedAt time.Time
	// err is the last error of a call that gave up (nil once settled).
	err error
}

// reserveID and commitID are the cycle's request ids.
func (c *cycle) reserveID() string { return fmt.Sprintf("load-%s-%d-r", c.acct.member, c.n) }
func (c *cycle) commitID() string  { return fmt.Sprintf("load-%s-%d-c", c.acct.member, c.n) }

// usage is the cycle's run: input tokens of gpt-5-mini that vary with n,
// so that the costs are uneven µcredit amounts.
func (c *cycle) usage() *quotav1.AgentRun {
	return &quotav1.AgentRun{AgentId: "main", Models: []*quotav1.ModelUsage{{Model: "gpt-5-mini", InputTokens: int64(1_000 + 7*c.n)}}}
}

// callEvent is one attempt of a load call: which account, when it
// started and ended, and its error.
type callEvent struct {
	acct       account
	start, end time.Time
	err        error
}

// load is a running load; see startLoad.
type load struct {
	c    *client
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu     sync.Mutex
	cycles []*cycle
	events []callEvent
}

// setUpAccounts creates each account's workspace (once per workspace) and
// gives its member a Pro seat (8,000 credits).
func setUpAccounts(t *testing.T, c *client, accts []account) {
	t.Helper()
	done := map[string]bool{}
	for _, a := range accts {
		if !done[a.ws] {
			runWorkspace(t, c, a.ws, a.member, quotav1.Seat_SEAT_PRO)
			done[a.ws] = true
			continue
		}
		setSeat(t, c, a.ws, a.member, quotav1.Seat_SEAT_PRO)
	}
}

// startLoad starts one worker per account, each running at most cycles
// cycles, one every loadPace at most, until stopAndWait or the end of t.
func startLoad(t *testing.T, c *client, accts []account, cycles int) *load {
	l := &load{c: c, stop: make(chan struct{})}
	t.Cleanup(l.stopAndWait)
	for _, a := range accts {
		l.wg.Go(func() {
			next := time.Now()
			for n := 0; n < cycles; n++ {
				select {
				case <-l.stop:
					return
				case <-time.After(time.Until(next)):
				}
				next = time.Now().Add(loadPace)
				cy := &cycle{acct: a, n: n}
				l.run(cy, loadRetryFor)
				l.mu.Lock()
				l.cycles = append(l.cycles, cy)
				l.mu.Unlock()
			}
		})
	}
	return l
}

// loadRetryFor bounds the retries of one call during the load.
const loadRetryFor = 30 * time.Second

// stopAndWait stops the workers after their current cycle and waits for
// them (their calls are bounded by loadRetryFor). Later calls do nothing.
func (l *load) stopAndWait() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// run takes cy as far as it goes: Reserve, then Commit, each retried for
// at most retryFor. It returns at the first call that gives up (cy.err).
func (l *load) run(cy *cycle, retryFor time.Duration) {
	a := cy.acct
	if cy.reserved == nil {
		var resp *quotav1.ReserveResponse
		cy.err = l.retry(a, retryFor, func(ctx context.Context) (err error) {
			resp, err = l.c.quota.Reserve(ctx, &quotav1.ReserveRequest{
				WorkspaceId: a.ws, MemberId: a.member, RequestId: cy.reserveID(), Amount: loadHold,
				Ttl: durationpb.New(loadHoldTTL), Origin: quotav1.Origin_ORIGIN_CONVERSATION,
			})
			return err
		})
		if cy.err != nil {
			return
		}
		cy.reserved, cy.reservedAt = resp.GetReservation(), time.Now()
	}
	if cy.committed == nil {
		var resp *quotav1.CommitResponse
		cy.err = l.retry(a, retryFor, func(ctx context.Context) (err error) {
			resp, err = l.c.quota.Commit(ctx, &quotav1.CommitRequest{
				WorkspaceId: a.ws, ReservationId: cy.reserved.GetReservationId(), RequestId: cy.commitID(), Usage: cy.usage(),
			})
			return err
		})
		if cy.err != nil {
			return
		}
		cy.committed, cy.committedAt = resp.GetReservation(), time.Now()
	}
}

// retryable tells whether the README says to retry err with the same
// request_id.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}

// retry calls f until it succeeds, fails with an error that is not
// retryable, or retryFor has passed, recording every attempt.
func (l *load) retry(a account, retryFor time.Duration, f func(context.Context) error) error {
	end := time.Now().Add(retryFor)
	for {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), loadCallTimeout)
		err := f(ctx)
		cancel()
		l.mu.Lock()
		l.events = append(l.events, callEvent{acct: a, start: start, end: time.Now(), err: err})
		l.mu.Unlock()
		if err == nil || !retryable(err) || time.Now().After(end) {
			return err
		}
		time.Sleep(loadBackoff)
	}
}

// settle finishes every cycle a worker gave up on, retrying with the same
// request ids for at most retryFor each: the client's retry after the
// fault. It fails t if one cannot be finished, unless its acknowledged
// Reserve was lost (see losses).
func (l *load) settle(t *testing.T, retryFor time.Duration) {
	t.Helper()
	settled := 0
	for _, cy := range l.cycles {
		if cy.committed != nil {
			continue
		}
		l.run(cy, retryFor)
		switch {
		case cy.reserveLost(): // see losses
		case cy.err != nil:
			t.Errorf("%s cycle %d: not settled by the client's retry: %v", cy.acct, cy.n, cy.err)
		default:
			settled++
		}
	}
	if settled > 0 {
		t.Logf("the client's retries after the fault settled %d cycles that had given up", settled)
	}
}
