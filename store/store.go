// Package store implements quota.Store on Redis. Placeholder: being written.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/quota-svc/quota/quota"
	"github.com/redis/go-redis/v9"
)

var errTODO = errors.New("store: not implemented yet")

// Store is quota.Store on Redis.
type Store struct{ rdb redis.UniversalClient }

// New returns a Store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

var _ quota.Store = (*Store)(nil)

func (s *Store) SetWorkspace(ctx context.Context, op quota.WorkspaceOp) (quota.Workspace, error) {
	return quota.Workspace{}, errTODO
}
func (s *Store) GetWorkspace(ctx context.Context, id string) (quota.Workspace, error) {
	return quota.Workspace{}, errTODO
}
func (s *Store) SetSeat(ctx context.Context, op quota.SeatOp) (quota.Balance, error) {
	return quota.Balance{}, errTODO
}
func (s *Store) Reserve(ctx context.Context, op quota.ReserveOp) (quota.Outcome, error) {
	return quota.Outcome{}, errTODO
}
func (s *Store) Extend(ctx context.Context, op quota.ExtendOp) (quota.Outcome, error) {
	return quota.Outcome{}, errTODO
}
func (s *Store) Commit(ctx context.Context, op quota.CommitOp) (quota.Outcome, error) {
	return quota.Outcome{}, errTODO
}
func (s *Store) Refund(ctx context.Context, op quota.RefundOp) (quota.Outcome, error) {
	return quota.Outcome{}, errTODO
}
func (s *Store) GetReservation(ctx context.Context, ws, id string, now time.Time) (quota.Reservation, error) {
	return quota.Reservation{}, errTODO
}
func (s *Store) GetBalance(ctx context.Context, ws, m string, now time.Time) (quota.Balance, error) {
	return quota.Balance{}, errTODO
}
func (s *Store) LoadPricing(ctx context.Context) (quota.PriceTable, bool, error) {
	return quota.PriceTable{}, false, nil
}
func (s *Store) SavePricing(ctx context.Context, op quota.PricingOp) (quota.PriceTable, error) {
	return quota.PriceTable{}, errTODO
}
func (s *Store) Sweep(ctx context.Context, now time.Time, limit int) (int, error) { return 0, nil }
