package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/redistest"
	"github.com/redis/go-redis/v9"
)

// counter is a go-redis hook that counts the commands sent.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestHotPathIsOneRoundTrip counts the Redis commands of Reserve, Extend,
// Commit, Refund and GetBalance once the scripts are loaded: one each.
func TestHotPathIsOneRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := &counter{}
		e.rdb.AddHook(c)
		e.seat("rt", quota.SeatPro)
		// Load every script once (the first EVALSHA of a script falls back
		// to EVAL).
		warm := e.mustReserve("rt", C)
		if _, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: warm.ID, AddAmount: C}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.commit(warm.ID, actions(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.refund(e.mustReserve("rt", C).ID); err != nil {
			t.Fatal(err)
		}
		e.balance("rt")

		count := func(name string, f func()) {
			t.Helper()
			before := c.n.Load()
			f()
			if got := c.n.Load() - before; got != 1 {
				t.Errorf("%s sent %d Redis commands, want 1", name, got)
			}
		}
		var r quota.Reservation
		count("Reserve", func() { r = e.mustReserve("rt", 10*C) })
		count("Extend", func() {
			if _, err := e.svc.Extend(e.ctx, quota.ExtendRequest{Idem: e.id(), WorkspaceID: "ws1", ReservationID: r.ID, AddAmount: C}); err != nil {
				t.Fatal(err)
			}
		})
		count("Commit", func() {
			if _, err := e.commit(r.ID, actions(2)); err != nil {
				t.Fatal(err)
			}
		})
		r = e.mustReserve("rt", 10*C)
		count("Refund", func() {
			if _, err := e.refund(r.ID); err != nil {
				t.Fatal(err)
			}
		})
		count("GetBalance", func() { e.balance("rt") })
		// A period rollover adds exactly one round trip.
		_, end := quota.PeriodAt(anchor, e.clock())
		e.set(end)
		before := c.n.Load()
		e.mustReserve("rt", C)
		if got := c.n.Load() - before; got != 2 {
			t.Errorf("Reserve across a reset sent %d commands, want 2", got)
		}
	})
}

// BenchmarkReserveCommit measures a Reserve→Commit cycle (with a sub-agent
// in the usage) through quota.Service on each backend.
func BenchmarkReserveCommit(b *testing.B) {
	for _, be := range redistest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			rdb := be.New(b)
			ctx := context.Background()
			svc := fixedService(b, rdb, "bench", "m")
			run := agentRun("sub")
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				id := quota.Idem{RequestID: "r" + itoa(i), Fingerprint: "f"}
				o, err := svc.Reserve(ctx, quota.ReserveRequest{Idem: id, WorkspaceID: "bench", MemberID: "m", Amount: 10 * C, Min: 1, Origin: quota.OriginConversation})
				if err != nil {
					b.Fatal(err)
				}
				id.RequestID = "c" + itoa(i)
				if _, err := svc.Commit(ctx, quota.CommitRequest{Idem: id, WorkspaceID: "bench", ReservationID: o.Reservation.ID, Usage: run}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(i int) string { return string(rune('a'+i%26)) + time.Duration(i).String() }
