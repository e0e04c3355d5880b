package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/store/redistest"
)

func TestWarnsOfAMasterWithoutReplicaRequirement(t *testing.T) {
	srv := redistest.StartTestServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	warned := func() bool {
		logs := &lines{}
		checkReplication(ctx, rdb, "mymaster", slog.New(slog.NewTextHandler(logs, nil)))
		return logs.contains("level=WARN", "min-replicas-to-write", "master=mymaster")
	}
	if !warned() {
		t.Error("no warning for a master without min-replicas-to-write")
	}
	for _, kv := range [][2]string{{"min-replicas-to-write", "1"}, {"min-replicas-max-lag", "10"}} {
		if err := rdb.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if warned() {
		t.Error("a warning for a master with min-replicas-to-write 1")
	}
}

// lines is a log sink that remembers what was written.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written.
func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// contains tells whether one line contains every one of subs.
func (l *lines) contains(subs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for line := range strings.SplitSeq(l.buf.String(), "\n") {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return true
	}
	return false
}
