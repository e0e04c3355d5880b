package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// redisErr is an error as Redis answers it (go-redis's redis.Error).
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

// A failure a retry may get past is unavailable; a script's own error is
// not.
func TestUnavailableTellsRetryableFailures(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("%w: 0 of 1 replicas within 500ms", errNotReplicated), true},
		{redisErr("NOREPLICAS Not enough good replicas to write."), true},
		{redisErr("READONLY You can't write against a read only replica."), true},
		{redisErr("MOVED 3999 127.0.0.1:6381"), true},
		{redisErr("ASK 3999 127.0.0.1:6381"), true},
		{redisErr("LOADING Redis is loading the dataset in memory"), true},
		{redisErr("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{redisErr("CLUSTERDOWN The cluster is down"), true},
		{redisErr("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redisErr("OOM command not allowed when used memory > 'maxmemory'."), true},
		{redisErr("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."), true},
		{redisErr("ERR max number of clients reached"), true},
		{fmt.Errorf("store: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{fmt.Errorf("store: %w", io.EOF), true},
		{io.ErrUnexpectedEOF, true},
		{syscall.ECONNRESET, true},
		{fmt.Errorf("store: %w", redis.ErrPoolTimeout), true},
		{redis.ErrClosed, true},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, true},
		{&net.OpError{Op: "remote error", Err: tls.AlertError(48)}, true}, // unknown certificate authority
		{redisErr("ERR user_script:1: attempt to index a nil value"), false},
		{errors.New("MOVED, but not from Redis"), false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("unavailable(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// The barrier key is of the slot of the key it is made from: under its
// hash tag, or with the whole key as tag; none for a key whose "}" would
// cut that tag short.
func TestWaitKeyKeepsTheSlot(t *testing.T) {
	for key, want := range map[string]string{
		"q:{ws:acme}:ws":      "q:{ws:acme}:wait",
		"q:{pricing}:cur":     "q:{pricing}:wait",
		"q:{ws:a}:x:{ws:b}:y": "q:{ws:a}:wait",
		"q:workspaces":        "{q:workspaces}:wait",
		"q:{open":             "{q:{open}:wait",
		"q:{}:empty-tag":      "",
		"q:close}":            "",
	} {
		got, ok := waitKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("waitKey(%q) = %q, %v, want %q", key, got, ok, want)
		}
	}
}
