// Package store implements quota.Store on Redis.
//
// Every mutation is one call of a Lua entry point (lua/fn_*.lua, run as a
// Redis Function, or as a script where the server has none: see lua.go)
// that does the check, the change, the idempotency record and the ledger
// entry in one atomic step, so the hot path (Reserve, Commit, Refund) is
// one round trip. The one exception is rare: when a billing period has
// ended, the call answers ROLL with the workspace's anchor, the store
// computes the new period with quota.PeriodAt and calls again with it.
//
// Go computes, Lua applies: the rules (prices, periods, limits, denial
// reasons) and every constant live in Go (package quota, and
// internal/schema, which also generates lua/gen_const.lua); the scripts do
// the atomic read-check-write and return every number they derive.
//
// Every key of a workspace carries the hash tag {ws:<id>} (keys.go), so
// the same code runs unchanged on a single Redis, Sentinel or Cluster, and
// on the embedded server of StartEmbedded.
package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/store/internal/schema"
)

// Options are the store's settings; the zero value of each field means
// its documented default.
type Options struct {
	// CallTimeout bounds each call to Redis; a call that takes longer
	// fails with quota.ErrUnavailable (it may or may not have been
	// applied). Default 2s.
	CallTimeout time.Duration
	// RunRetention is how long a settled run (its root and every child
	// reservation, with their costs) is kept after its root settled;
	// GetReservation is NOT_FOUND after that. Default 72h: it covers the
	// 48-hour idempotency window (a retried Reserve finds its reservation
	// through the record itself) and late commits of expired holds (a
	// hold lives at most 24h). Below IdempotencyWindow, a Reserve retried
	// after its run was deleted would hold again under the same request
	// id: quotad refuses such a -run-retention; tests with an injected
	// clock use shorter ones.
	RunRetention time.Duration
	// LedgerRetention and EventsRetention are how long ledger and event
	// stream entries are kept; a consumer group that has not acknowledged
	// an entry keeps it longer. Default 7 days.
	LedgerRetention, EventsRetention time.Duration
	// UsageRetention is how long the daily usage buckets are kept (a day's
	// buckets are deleted once the day ended that long ago). Default 400
	// days (quota.MaxUsageDays, the longest usage report).
	UsageRetention time.Duration
	// WaitReplicas, when above 0, makes every call wait until that many
	// replicas have its writes (WAIT) before it answers, so that a
	// failover cannot lose what was acknowledged: a call whose writes
	// reached fewer within WaitTimeout fails with quota.ErrUnavailable (it
	// was applied on the master; a retry with the same request id
	// replays it, or applies it on a promoted replica that never got it).
	// The entry point, a barrier write and WAIT go in one pipeline on one
	// connection (runAndWait): no more round trips, but every call, reads
	// included, waits for the replicas' acknowledgement. Default 0:
	// Redis's asynchronous replication.
	WaitReplicas int
	// WaitTimeout bounds the wait for the replicas; keep it below
	// CallTimeout and the Redis client's read timeout. Default 500ms.
	WaitTimeout time.Duration
}

// IdempotencyWindow is how long a request id is remembered: a retry with
// the same id within it changes nothing. A Reserve's record is its
// reservation, so Options.RunRetention must not be shorter.
const IdempotencyWindow = schema.IdempotencyRetention

// Option defaults.
const (
	DefaultCallTimeout     = 2 * time.Second
	DefaultRunRetention    = 72 * time.Hour
	DefaultStreamRetention = 7 * 24 * time.Hour
	DefaultUsageRetention  = quota.MaxUsageDays * 24 * time.Hour
	DefaultWaitTimeout     = 500 * time.Millisecond
)

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.RunRetention <= 0 {
		o.RunRetention = DefaultRunRetention
	}
	if o.LedgerRetention <= 0 {
		o.LedgerRetention = DefaultStreamRetention
	}
	if o.EventsRetention <= 0 {
		o.EventsRetention = DefaultStreamRetention
	}
	if o.UsageRetention <= 0 {
		o.UsageRetention = DefaultUsageRetention
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	return o
}

// Store is quota.Store on Redis. It is safe for concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	run  runner
	opts Options
}

// New returns a Store on rdb: a *redis.Client, *redis.ClusterClient or
// failover client. The Lua library is loaded on the first call, or by
// Load.
func New(rdb redis.UniversalClient, opts ...Options) *Store {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s := &Store{rdb: rdb, opts: o.withDefaults()}
	s.run.rdb = rdb
	s.run.waitReplicas, s.run.waitTimeout = max(s.opts.WaitReplicas, 0), s.opts.WaitTimeout
	return s
}

var _ quota.Store = (*Store)(nil)

// Load loads the Lua library into Redis now (on every master of a
// Cluster), so that a server that cannot take it fails at start.
func (s *Store) Load(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	if err := s.run.load(ctx); err != nil {
		return fmt.Errorf("store: load the Lua library %s: %w", lib.name, err)
	}
	if err := s.run.awaitReplicas(ctx); err != nil {
		return fmt.Errorf("store: the replicas and the Lua library %s: %w", lib.name, err)
	}
	return nil
}

// Library returns the Lua library's name ("quota_<version>") and whether
// it runs as Redis Functions (false: as scripts) once loaded.
func (s *Store) Library() (name string, functions bool) {
	return lib.name, s.run.mode.Load() == modeFunctions
}

// ScriptNames maps the function names and script SHA-1s the store sends to
// the entry point's name ("reserve"), for metrics.
func ScriptNames() map[string]string {
	out := map[string]string{}
	for name, e := range lib.entries {
		out[e.fn] = name
		out[e.script.Hash()] = name
	}
	return out
}

// call is one call of an entry point. Its args follow the common args of
// lua/core.lua.
type call struct {
	entry  *entry
	ws     string // the workspace ("" for the pricing slot)
	idem   quota.Idem
	rhex   string // the hex a Reserve with this request id would have
	now    time.Time
	args   []any
	prefix string // overrides the workspace's prefix
}

// maxRolls bounds the ROLL exchange: one roll always suffices, the second
// try only covers a period ending between the two calls.
const maxRolls = 3

// fp16 shortens a fingerprint to what records keep: 16 hex digits (64
// bits), enough to tell two requests with the same id apart.
func fp16(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

// do runs a call and returns its OK reply, after answering ROLL replies
// with the new period; an ERR reply is returned as a quota error.
func (s *Store) do(ctx context.Context, c call) (*reply, error) {
	prefix, key := c.prefix, keyPricingCur
	if prefix == "" {
		prefix, key = wsPrefix(c.ws), wsKey(c.ws)
	}
	nowMS := c.now.UnixMilli()
	var rollStart, rollEnd int64
	for range maxRolls {
		argv := append([]any{nowMS, prefix, rollStart, rollEnd, c.idem.RequestID, fp16(c.idem.Fingerprint), c.rhex}, c.args...)
		raw, err := s.exec(ctx, c.entry, []string{key}, argv)
		if err != nil {
			return nil, err
		}
		r, err := newReply(raw)
		if err != nil {
			return nil, quota.Internal(fmt.Errorf("store: %s: %w", c.entry.name, err))
		}
		switch r.status {
		case schema.StatusOK, schema.StatusReplay:
			return r, nil
		case schema.StatusErr:
			return nil, r.err()
		case schema.StatusRoll:
			anchor := r.int()
			start, end := quota.PeriodAt(msTime(anchor), time.UnixMilli(nowMS).UTC())
			rollStart, rollEnd = start.UnixMilli(), end.UnixMilli()
		}
	}
	return nil, quota.Internal(errors.New("store: billing period rollover did not settle"))
}

// exec runs an entry point within the call timeout, and classifies its
// failure: the caller's context ending stays as it is, a Redis that
// cannot be reached or did not answer in time is quota.ErrUnavailable,
// anything else (a bug in a script) is internal.
func (s *Store) exec(ctx context.Context, e *entry, keys []string, args []any) (any, error) {
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	raw, err := s.run.run(cctx, e, keys, args)
	if err == nil {
		return raw, nil
	}
	return nil, s.classify(ctx, err)
}

// classify turns a Redis client error into a quota error.
func (s *Store) classify(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if unavailable(err) {
		return quota.Unavailable(err)
	}
	return quota.Internal(err)
}

// unavailable tells whether err means Redis could not be reached, did not
// answer in time, or cannot take writes now: a retry may succeed. A
// connection whose TLS handshake failed (Redis's certificate not trusted;
// or the client's refused by Redis, a net.Error) is Redis unreachable
// too: a retry succeeds once the certificates are put right.
func unavailable(err error) bool {
	var nerr net.Error
	var cerr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, errNotReplicated), errors.As(err, &nerr),
		errors.As(err, &cerr):
		return true
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		// MOVED and ASK reach here only from runAndWait, which talks to a
		// Cluster master directly: the slot moved (a failover), and the
		// Cluster client follows it on the retry.
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN",
			"NOREPLICAS", "BUSY", "NOMASTERLINK", "MOVED ", "ASK ", "OOM ", "MISCONF ",
			"ERR max number of clients"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}

// plain runs a plain Redis command with the call timeout and classifies
// its failure like exec.
func (s *Store) plain(ctx context.Context, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	if err := f(cctx); err != nil {
		return s.classify(ctx, err)
	}
	return nil
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// owner is the account a reservation draws on: the member, or the
// programmatic spender; "" for a child that names neither (the parent's).
func owner(member, spender string) string {
	switch {
	case member != "":
		return member
	case spender != "":
		return schema.SpenderMark + spender
	}
	return ""
}

// capArg encodes an optional cap for the scripts.
func capArg(c int64, set bool) int64 {
	if !set {
		return schema.CapUnlimited
	}
	return c
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
