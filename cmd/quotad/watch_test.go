package main

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A change made after the files were first read (their fingerprint then)
// but before the watch started is loaded at its first check; with the
// files unchanged since, nothing is.
func TestWatchFilesLoadsAChangeMadeWhileStarting(t *testing.T) {
	f := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(f, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	atStart := fingerprint([]string{f})
	if err := os.WriteFile(f, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	watch := func(since [32]byte) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		var n atomic.Int64
		watchFiles(ctx, 20*time.Millisecond, []string{f}, since, func() { n.Add(1) })
		return n.Load()
	}
	if n := watch(atStart); n != 1 {
		t.Errorf("a change made before the watch started: %d reloads, want 1", n)
	}
	if n := watch(fingerprint([]string{f})); n != 0 {
		t.Errorf("no change: %d reloads, want 0", n)
	}
}
