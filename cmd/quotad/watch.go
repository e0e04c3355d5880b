package main

import (
	"context"
	"crypto/sha256"
	"os"
	"time"
)

// watchFiles calls reload whenever the content of one of paths differs
// from the last seen, since at first: the fingerprint taken before the
// files were first loaded, so that a change made while quotad was
// starting is loaded too. It checks every interval until ctx ends, and
// reads the files rather than watching for events, so that it follows
// every way a file is replaced: an editor's rename, a Kubernetes Secret's
// symlink swap, a config management tool's copy. The files are small
// (tokens, certificates).
func watchFiles(ctx context.Context, interval time.Duration, paths []string, since [sha256.Size]byte, reload func()) {
	last := since
	every(ctx, interval, func(context.Context) {
		if fp := fingerprint(paths); fp != last {
			last = fp
			reload()
		}
	})
}

// fingerprint is a hash of the contents of paths; a file that cannot be
// read counts as empty, so that its return is a change too.
func fingerprint(paths []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		s := sha256.Sum256(b)
		h.Write([]byte(p))
		h.Write(s[:])
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}
