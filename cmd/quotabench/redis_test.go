package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quota-svc/quota/store/redistest"
)

// TestRawProfileAndRedisStats runs a cycle load with -raw and -profile on
// a real redis-server that quotad and quotabench share, and checks the
// figures that do not depend on speed: every raw and profile call
// succeeded and reached Redis, and each record kind written was sized.
func TestRawProfileAndRedisStats(t *testing.T) {
	srv := redistest.StartTestServer(t)
	rdb := srv.Client()
	addr := startQuotad(t, rdb)

	cfg := testConfig(addr, workloadCycle, 200)
	cfg.RedisURL = "redis://" + srv.Addr() + "/0"
	cfg.Raw = true
	cfg.Reference = true
	cfg.Profile = true
	cfg.ProfileN = 50
	sum := runBench(t, cfg)

	checkCounts(t, sum.Main.Stats, 200, counts{
		runs: 200,
		rpcs: map[string]int64{rpcReserve: 200, rpcCommit: 200},
		ops:  map[string]int64{kindCycle: 200},
	})
	// Each Reserve and Commit is one script call (EVALSHA, or EVAL the
	// first time); this quotad has no sweeper.
	if sum.MainRedis == nil {
		t.Fatal("no Redis figures for the main phase")
	}
	if got := sum.MainRedis.Scripts.Calls; got < 400 || got > 410 {
		t.Errorf("script calls of 200 cycles = %d, want about 400", got)
	}
	if sum.MainRedis.Scripts.Usec <= 0 {
		t.Errorf("script µs = %d, want some", sum.MainRedis.Scripts.Usec)
	}
	// 400 script calls take milliseconds of Redis CPU: even a kernel that
	// accounts CPU by ticks reports some.
	if cpu := sum.MainRedis.Scripts.CPUUsec; cpu <= 0 || cpu > 60_000_000 {
		t.Errorf("Redis CPU over 200 cycles = %d µs, want some and less than the test's time", cpu)
	}
	// Redis 7's own latency histogram has each of those script calls.
	if l := sum.MainRedis.Latency; l == nil || l.Calls < 400 || l.Calls > 410 || l.Quantile(0.5) <= 0 {
		t.Errorf("Redis's latency histogram of 200 cycles = %+v, want about 400 script calls", l)
	}

	c := sum.Compare
	if c == nil {
		t.Fatal("no -raw comparison")
	}
	if c.Reused {
		t.Error("the comparison reused a cycle phase as its gRPC Reserve side")
	}
	for name, r := range map[string]phaseResult{"gRPC": c.GRPC, "raw": c.Raw} {
		if ops, runs := r.Stats.ops.Load(), r.Stats.runs.Load(); ops != 200 || runs != 200 {
			t.Errorf("%s reserve: %d ops, %d runs, want 200 each (%v)", name, ops, runs, r.Stats.outcomeList())
		}
	}
	if c.RawRedis == nil || c.RawRedis.Scripts.Calls < 200 {
		t.Errorf("raw phase script calls = %+v, want at least 200", c.RawRedis)
	}
	if c.Ratio() <= 0 {
		t.Errorf("ratio gRPC/raw = %g, want a positive number", c.Ratio())
	}

	ref := sum.Reference
	if ref == nil || ref.Redis == nil {
		t.Fatal("no -reference phase with Redis figures")
	}
	if ops, runs := ref.Phase.Stats.ops.Load(), ref.Phase.Stats.runs.Load(); ops != 200 || runs != 200 {
		t.Errorf("reference reserve: %d ops, %d runs, want 200 each (%v)", ops, runs, ref.Phase.Stats.outcomeList())
	}
	if us, calls := perCallOf(ref.Redis.Scripts, "evalsha", "eval"); calls != 200 || us <= 0 {
		t.Errorf("reference script: %d calls at %.1f µs, want 200 calls, some µs", calls, us)
	}
	if n, err := rdb.Keys(context.Background(), refPattern).Result(); err != nil || len(n) != 0 {
		t.Errorf("reference keys left after the run: %d (%v), want none", len(n), err)
	}

	if len(sum.Profile) != 5 {
		t.Fatalf("%d profile phases, want 5", len(sum.Profile))
	}
	for _, p := range sum.Profile {
		if p.Calls != 50 || p.Failed != 0 {
			t.Errorf("profile %s: %d calls, %d failed; want 50, 0", p.Name, p.Calls, p.Failed)
		}
		if p.Scripts.Calls < 50 || p.Scripts.Calls > 55 || p.Scripts.PerCall() <= 0 {
			t.Errorf("profile %s: %d script calls at %.1f µs; want about 50, some µs", p.Name, p.Scripts.Calls, p.Scripts.PerCall())
		}
	}

	if !sum.RecordsComplete {
		t.Error("the record scan stopped early on a small keyspace")
	}
	sized := map[string]recordSize{}
	for _, s := range sum.Records {
		sized[s.Kind.Name] = s
	}
	for _, kind := range []string{"workspace", "account", "reservation", "idempotency", "deadlines", "settled index", "ledger"} {
		if s := sized[kind]; s.Seen == 0 || s.Sized == 0 || s.Bytes <= 0 {
			t.Errorf("record %s: %+v, want keys seen and sized", kind, s)
		}
	}
	if got := sized["workspace"].Seen; got != 2 {
		t.Errorf("workspace records = %d, want 2", got)
	}
	// Reservations: 200 cycles, 400 Reserves of the comparison, 100 of
	// the profile.
	if got := sized["reservation"].Seen; got != 700 {
		t.Errorf("reservation records = %d, want 700", got)
	}
	if got := sized["reservation"].Sized; got != cfg.Samples {
		t.Errorf("reservations sized = %d, want -samples %d", got, cfg.Samples)
	}
	if s := sized["ledger"]; s.Entries <= 0 {
		t.Errorf("ledger entries = %d, want some", s.Entries)
	}

	if sum.Slow == nil {
		t.Fatal("no slow log report")
	}
	// This redis-server is a process of this machine: where its status
	// file can be read (Linux's /proc), the report says how often it was
	// preempted, by its own pid.
	pid := redisPid(t, rdb)
	if _, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status")); err == nil {
		if p := sum.Slow.Preempted; p == nil || p.Pid != pid || p.Times < 0 {
			t.Errorf("preemptions of Redis = %+v, want its pid %d and a count", p, pid)
		}
	}
	// The slow log settings are put back.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := rdb.ConfigGet(ctx, "slowlog-log-slower-than").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["slowlog-log-slower-than"] != strconv.Itoa(10000) {
		t.Errorf("slowlog-log-slower-than after the run = %q, want Redis's default 10000 back", got["slowlog-log-slower-than"])
	}
}

// redisPid is the process id INFO server gives.
func redisPid(t *testing.T, rdb redis.UniversalClient) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := infoField(info, "process_id")
	pid, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("INFO server process_id %q: %v", v, err)
	}
	return pid
}

// TestFindRedisProc finds the redis-server a client reaches among the
// processes of a fake /proc, and only that one: a process of another name
// (Redis under valgrind, a recycled pid), a Redis whose title names
// another port, or a Redis reached at a host that is not this machine or
// at a port that is not its own is not reported.
func TestFindRedisProc(t *testing.T) {
	srv := redistest.StartTestServer(t)
	rdb := srv.Client()
	pid := redisPid(t, rdb)
	_, port, _ := strings.Cut(srv.Addr(), ":")
	ctx := context.Background()

	fake := func(comm, cmdline, status string) string {
		root := t.TempDir()
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, text := range map[string]string{"comm": comm, "cmdline": cmdline, "status": status} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	status := "Name:\tredis-server\nvoluntary_ctxt_switches:\t40580\nnonvoluntary_ctxt_switches:\t231\n"
	title := "redis-server 127.0.0.1:" + port + "\x00\x00\x00"

	for name, cmdline := range map[string]string{
		"title":             title,
		"title, cluster":    "redis-server *:" + port + " [cluster]\x00",
		"title, IPv6":       "redis-server ::1:" + port + "\x00",
		"no title, --port":  "redis-server\x00--port\x00" + port + "\x00--save\x00\x00",
		"no title, a .conf": "/usr/bin/redis-server\x00/etc/redis.conf\x00--port\x00" + port + "\x00",
	} {
		p, err := findRedisProc(ctx, rdb, srv.Addr(), fake("redis-server\n", cmdline, status))
		if err != nil || p.Pid != pid {
			t.Fatalf("%s: findRedisProc = %+v, %v; want pid %d", name, p, err, pid)
		}
		// Read twice: the file is read again from its start.
		for range 2 {
			if n, err := p.Preemptions(); err != nil || n != 231 {
				t.Errorf("%s: Preemptions = %d, %v; want 231", name, n, err)
			}
		}
		p.Close()
	}

	for name, c := range map[string]struct {
		addr, root string
		notLocal   bool // the error is errNotLocal: nothing to say of it
	}{
		"another program":       {srv.Addr(), fake("memcheck-amd64-\n", title, status), false},
		"another port's title":  {srv.Addr(), fake("redis-server\n", "redis-server 127.0.0.1:1"+port+"\x00", status), false},
		"no such process":       {srv.Addr(), t.TempDir(), false},
		"a port not Redis's":    {"localhost:1" + port, fake("redis-server\n", "redis-server 127.0.0.1:1"+port+"\x00", status), false},
		"not this machine":      {"10.1.2.3:" + port, fake("redis-server\n", title, status), true},
		"an address not parsed": {"nohostport", fake("redis-server\n", title, status), true},
	} {
		p, err := findRedisProc(ctx, rdb, c.addr, c.root)
		if err == nil {
			p.Close()
			t.Errorf("%s: findRedisProc = %+v, want an error", name, p)
		} else if errors.Is(err, errNotLocal) != c.notLocal {
			t.Errorf("%s: findRedisProc error %v; errNotLocal: %v, want %v", name, err, !c.notLocal, c.notLocal)
		}
	}

	if runtime.GOOS != "linux" {
		return
	}
	p, err := findRedisProc(ctx, rdb, srv.Addr(), "/proc")
	if err != nil || p.Pid != pid {
		t.Fatalf("findRedisProc in /proc = %+v, %v; want pid %d", p, err, pid)
	}
	defer p.Close()
	if n, err := p.Preemptions(); err != nil || n < 0 {
		t.Errorf("Preemptions in /proc = %d, %v", n, err)
	}
	// Once a process has gone, its status file, opened before, reads no
	// more: a pid the kernel recycles is never read as Redis's.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	gone := &redisProc{Pid: cmd.Process.Pid, status: f}
	defer gone.Close()
	if _, err := gone.Preemptions(); err != nil {
		t.Fatalf("Preemptions of a running process: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n, err := gone.Preemptions(); err == nil {
		t.Errorf("Preemptions of a process gone = %d, want an error", n)
	}
}
