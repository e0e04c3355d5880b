package main

// The raw path: the Reserve workload sent straight to Redis through the
// store package's Go API, the same script quotad runs, without gRPC and
// without the service layer (no validation, no pricing). It builds the
// same ReserveOp quota.Service builds: the reservation's key is the hex
// of its request id, priced with version 0.

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store"
)

// rpcRawReserve names the raw call in the latency table.
const rpcRawReserve = "store.Reserve"

// rawTTL is the lifetime of a raw hold: quotad's default TTL, as the gRPC
// Reserves of the comparison get.
const rawTTL = 5 * time.Minute

// rawLoad reserves holdAmount per op through the store package.
type rawLoad struct {
	loadBase
	st      *store.Store
	timeout time.Duration
	stats   *stats
}

// newRawLoad returns the raw Reserve workload on rdb for workers workers,
// picking keys as the gRPC workloads do with the same seed.
func newRawLoad(rdb redis.UniversalClient, keys keyspace, workers int, seed uint64, timeout time.Duration, st *stats) *rawLoad {
	return &rawLoad{loadBase: newLoadBase(keys, workers, seed), st: store.New(rdb), timeout: timeout, stats: st}
}

// op takes one hold; it is an opFunc.
func (r *rawLoad) op(ctx context.Context, w int, i int64, due time.Time) {
	ws, mem := r.pick(w, i)
	req := r.req(i, "raw")
	err := r.stats.call(ctx, r.timeout, rpcRawReserve, func(ctx context.Context) error {
		now := time.Now()
		_, err := r.st.Reserve(ctx, quota.ReserveOp{
			Idem:        quota.Idem{RequestID: req, Fingerprint: "quotabench-raw-" + req},
			WorkspaceID: ws,
			MemberID:    mem,
			Ref:         quota.ReservationRef{Origin: quota.OriginConversation, Hex: quota.RequestHex(ws, req)},
			Amount:      holdAmount,
			Min:         holdAmount,
			Deadline:    now.Add(rawTTL),
			Now:         now,
		})
		return err
	})
	if err != nil {
		r.stats.fail(err)
		return
	}
	r.stats.succeed(kindReserve, due)
}
