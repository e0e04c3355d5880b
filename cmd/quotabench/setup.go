package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// subscriptionStart is the anchor of every bench workspace. It is fixed so
// that SetWorkspace with the same request id is the same request on every
// run.
var subscriptionStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// setup creates the workspaces of keys, a Max seat for each of their
// members and a Free seat for freeMember, with workers calls at once. The
// request ids are fixed ("qb-setup-..."), so a second run changes nothing
// and only replays the first answers. It returns how many calls it made.
func setup(ctx context.Context, a quotav1.AdminServiceClient, keys keyspace, workers int, timeout time.Duration) (int, error) {
	err := parallel(ctx, workers, keys.workspaces, func(ctx context.Context, n int) error {
		ws := keys.workspace(n)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := a.SetWorkspace(ctx, &quotav1.SetWorkspaceRequest{
			WorkspaceId: ws, RequestId: "qb-setup-ws-" + ws, SubscriptionStart: timestamppb.New(subscriptionStart),
		}, grpc.WaitForReady(true)) // quotad may be starting: wait, within the timeout
		if err != nil {
			return fmt.Errorf("SetWorkspace %s: %w", ws, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	perWS := keys.members + 1
	seats := keys.workspaces * perWS
	err = parallel(ctx, workers, seats, func(ctx context.Context, j int) error {
		ws := keys.workspace(j / perWS)
		mem, seat := freeMember, quotav1.Seat_SEAT_FREE
		if m := j % perWS; m < keys.members {
			mem, seat = member(m), quotav1.Seat_SEAT_MAX
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := a.SetSeat(ctx, &quotav1.SetSeatRequest{
			WorkspaceId: ws, MemberId: mem, RequestId: "qb-setup-seat-" + ws + "-" + mem, Seat: seat,
		})
		if err != nil {
			return fmt.Errorf("SetSeat %s/%s: %w", ws, mem, err)
		}
		return nil
	})
	return keys.workspaces + seats, err
}

// parallel calls f(ctx, 0), ..., f(ctx, n-1) on up to workers goroutines
// and returns the first error; after one, no further call starts.
func parallel(ctx context.Context, workers, n int, f func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
