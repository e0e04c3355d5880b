package store

import (
	"context"
	"time"
)

// Exported for the tests of package store_test, which can use redistest
// (redistest imports store, so store's own tests cannot).

// PackInts is packInts.
var PackInts = packInts

// MsgpackLua is lua/msgpack.lua, the MessagePack codec of the stand-alone
// scripts.
func MsgpackLua() string {
	b, err := luaFS.ReadFile("lua/msgpack.lua")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// AppendStr is appendStr.
var AppendStr = appendStr

// MaxFolds is maxFolds: a usage report's bound of fold calls.
const MaxFolds = maxFolds

// SweepBatch is sweepBatch: the most expired holds one sweep call
// releases.
const SweepBatch = sweepBatch

// RetainBatch is retainBatch: the most reservations one retention call
// deletes (and the root of the last run it reaches).
const RetainBatch = retainBatch

// RetainOnce makes one retention call of workspace ws at now (at most
// RetainBatch reservations deleted), the first of a sweep.
func (s *Store) RetainOnce(ctx context.Context, ws string, now time.Time) error {
	_, err := s.retain(ctx, ws, now, true)
	return err
}
