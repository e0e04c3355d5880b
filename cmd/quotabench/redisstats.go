package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// recordKinds are the kinds of records sized after a run, one key pattern
// each, first match wins. The key layout is changing: keep this table in
// step with store/keys.go and the scripts in store/lua. A pattern is a
// Redis glob (SCAN MATCH) that path.Match reads the same way; %s stands
// for the glob of the bench's workspace ids.
var recordKinds = []recordKind{
	{Name: "workspace", Pattern: "q:{ws:%s}:ws"},
	{Name: "account", Pattern: "q:{ws:%s}:acct:*"},
	{Name: "reservation", Pattern: "q:{ws:%s}:res:*"},
	{Name: "held children", Pattern: "q:{ws:%s}:kids:*"},
	{Name: "run index", Pattern: "q:{ws:%s}:run:*"},
	{Name: "idempotency", Pattern: "q:{ws:%s}:idem:*"},
	{Name: "deadlines", Pattern: "q:{ws:%s}:deadlines"},
	{Name: "settled index", Pattern: "q:{ws:%s}:settled"},
	{Name: "grant", Pattern: "q:{ws:%s}:grant:*"},
	{Name: "ledger", Pattern: "q:{ws:%s}:ledger", Stream: true},
	{Name: "events", Pattern: "q:{ws:%s}:events", Stream: true},
	{Name: "members index", Pattern: "q:{ws:%s}:members"},
	{Name: "usage buckets", Pattern: "q:{ws:%s}:use:*"},
	{Name: "usage index", Pattern: "q:{ws:%s}:usek:*"},
	{Name: "usage days", Pattern: "q:{ws:%s}:usedays"},
}

// recordKind is a kind of record and the pattern of its keys.
type recordKind struct {
	Name    string
	Pattern string
	// Stream records are sized per entry too (MEMORY USAGE / XLEN).
	Stream bool
}

// scriptCommands are the commands that run quota's scripts: FCALL (Redis
// Functions, Redis 7 and later), EVALSHA and EVAL (a server without
// Functions), and their read-only forms.
var scriptCommands = []string{"evalsha", "eval", "fcall", "evalsha_ro", "eval_ro", "fcall_ro"}

// cmdStat is one command's line of INFO commandstats.
type cmdStat struct {
	// Calls counts the calls, Failed included: for EVALSHA these are
	// mostly NOSCRIPT answers, after which go-redis sends EVAL.
	Calls  int64
	Failed int64
	Usec   int64 // total µs spent in the command, scripts' inner calls included
}

// cmdStats is INFO commandstats, by lower-case command name.
type cmdStats map[string]cmdStat

// redisStats is one reading of INFO commandstats and cpu.
type redisStats struct {
	cmds cmdStats
	// cpuUsec is the CPU time Redis's main process has used so far
	// (used_cpu_user + used_cpu_sys), in µs.
	cpuUsec int64
}

// readRedisStats returns INFO commandstats and Redis's CPU time, in one
// call.
func readRedisStats(ctx context.Context, rdb redis.UniversalClient) (redisStats, error) {
	s, err := rdb.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return redisStats{}, fmt.Errorf("INFO commandstats cpu: %w", err)
	}
	return redisStats{cmds: parseCommandStats(s), cpuUsec: parseCPU(s)}, nil
}

// infoField returns the value of key in an INFO reply ("key:value" lines).
func infoField(info, key string) (string, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v, true
		}
	}
	return "", false
}

// parseCPU reads used_cpu_user and used_cpu_sys (seconds, with
// microseconds) from INFO cpu and returns their sum in µs.
func parseCPU(info string) int64 {
	var sum int64
	for _, k := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, _ := infoField(info, k)
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			sum += int64(f*1e6 + 0.5)
		}
	}
	return sum
}

// parseCommandStats reads the lines "cmdstat_<name>:calls=N,usec=N,...".
func parseCommandStats(info string) cmdStats {
	out := cmdStats{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		name, found := strings.CutPrefix(name, "cmdstat_")
		if !ok || !found {
			continue
		}
		var st cmdStat
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				st.Calls = n
			case "usec":
				st.Usec = n
			case "failed_calls":
				st.Failed = n
			}
		}
		out[strings.ToLower(name)] = st
	}
	return out
}

// scriptUsage is what scripts cost Redis between two readings.
type scriptUsage struct {
	// Calls counts the script calls that ran (failed calls, mostly
	// NOSCRIPT, are left out), Usec the µs they took in all.
	Calls, Usec int64
	// CPUUsec is the CPU time Redis used meanwhile, for everything it did
	// (the scripts, reading and answering their commands, any other
	// client), in µs.
	CPUUsec int64
	// By is the delta of each script command that was called.
	By map[string]cmdStat
}

// scriptDelta returns the script commands' usage from before to after.
func scriptDelta(before, after redisStats) scriptUsage {
	u := scriptUsage{By: map[string]cmdStat{}, CPUUsec: after.cpuUsec - before.cpuUsec}
	for _, c := range scriptCommands {
		b, a := before.cmds[c], after.cmds[c]
		d := cmdStat{
			Calls:  a.Calls - b.Calls,
			Failed: a.Failed - b.Failed,
			Usec:   a.Usec - b.Usec,
		}
		if d.Calls == 0 {
			continue
		}
		u.By[c] = d
		u.Calls += d.Calls - d.Failed
		u.Usec += d.Usec
	}
	return u
}

// PerCall returns the mean µs per script call, 0 with no call.
func (u scriptUsage) PerCall() float64 { return ratio(u.Usec, u.Calls) }

// CPUPerCall returns Redis's CPU µs per script call, 0 with no call.
// Unlike PerCall, a wall-clock time, it leaves out the moments Redis
// waited for a core (the shared placement), and it counts all of Redis's
// work for the call: reading the command and writing the reply too.
func (u scriptUsage) CPUPerCall() float64 { return ratio(u.CPUUsec, u.Calls) }

// String renders the breakdown by command, e.g. "evalsha 2000 calls
// 180000 µs" (", 3 failed" when some failed).
func (u scriptUsage) String() string {
	names := make([]string, 0, len(u.By))
	for n := range u.By {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		d := u.By[n]
		p := fmt.Sprintf("%s %d calls %d µs", n, d.Calls, d.Usec)
		if d.Failed > 0 {
			p += fmt.Sprintf(" (%d failed)", d.Failed)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "no script call"
	}
	return strings.Join(parts, ", ")
}

// usedMemory returns INFO memory's used_memory, in bytes.
func usedMemory(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	s, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	if v, ok := infoField(s, "used_memory"); ok {
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("INFO memory has no used_memory")
}

// Slow log settings while quotabench runs: every command over slowOver is
// logged, and the log keeps the last slowKeep of them.
const (
	slowOver = time.Millisecond
	slowKeep = 10_000 // a few MB at most: Redis keeps 32 args of 128 bytes per entry
)

// prepareSlowlog logs every command over slowOver, keeps slowKeep of them
// and empties the slow log. restore puts the two settings back.
func prepareSlowlog(ctx context.Context, rdb redis.UniversalClient) (restore func(context.Context), err error) {
	old, err := rdb.ConfigGet(ctx, "slowlog-*").Result()
	if err != nil {
		return nil, fmt.Errorf("CONFIG GET slowlog-*: %w", err)
	}
	set := map[string]string{
		"slowlog-log-slower-than": strconv.FormatInt(slowOver.Microseconds(), 10),
		"slowlog-max-len":         strconv.Itoa(slowKeep),
	}
	for k, v := range set {
		if err := rdb.ConfigSet(ctx, k, v).Err(); err != nil {
			return nil, fmt.Errorf("CONFIG SET %s: %w", k, err)
		}
	}
	if err := rdb.SlowLogReset(ctx).Err(); err != nil {
		return nil, fmt.Errorf("SLOWLOG RESET: %w", err)
	}
	return func(ctx context.Context) {
		for k := range set {
			if v, ok := old[k]; ok {
				rdb.ConfigSet(ctx, k, v)
			}
		}
	}, nil
}

// slowReport is the slow log of the whole quotabench run.
type slowReport struct {
	// Entries is how many entries the log holds (at most slowKeep).
	Entries int
	// Scripts are the script calls over slowOver, slowest first.
	Scripts []redis.SlowLog
	// Preempted is how many times the kernel took the CPU from Redis's
	// main thread over the same span, nil when Redis is not a process of
	// this machine quotabench can read (findRedisProc).
	Preempted *preempted
}

// preempted is how often Redis was preempted while the slow log filled.
type preempted struct {
	Pid   int   // Redis's process id
	Times int64 // nonvoluntary context switches of its main thread
}

// readSlowlog returns the slow log's script calls over slowOver.
func readSlowlog(ctx context.Context, rdb redis.UniversalClient) (slowReport, error) {
	logs, err := rdb.SlowLogGet(ctx, slowKeep).Result()
	if err != nil {
		return slowReport{}, fmt.Errorf("SLOWLOG GET: %w", err)
	}
	r := slowReport{Entries: len(logs)}
	for _, l := range logs {
		if len(l.Args) > 0 && slices.Contains(scriptCommands, strings.ToLower(l.Args[0])) && l.Duration > slowOver {
			r.Scripts = append(r.Scripts, l)
		}
	}
	slices.SortFunc(r.Scripts, func(a, b redis.SlowLog) int { return cmp.Compare(b.Duration, a.Duration) })
	return r, nil
}

// Bounds of the key scan that finds records to size.
const (
	scanCount    = 1000             // SCAN COUNT
	scanMaxCalls = 2000             // at most 2M keys visited
	scanMaxTime  = 30 * time.Second // and at most this long
)

// recordSize is the size of one kind of record.
type recordSize struct {
	Kind recordKind
	// Seen is how many keys of the kind the scan met; Sized how many of
	// them were sized, Bytes their MEMORY USAGE in all.
	Seen, Sized int
	Bytes       int64
	// Entries is the XLEN of the sized streams, in all.
	Entries int64
}

// sampleRecords scans the keys of the workspaces matching wsGlob, sizes
// up to samples keys of each record kind with MEMORY USAGE (SAMPLES 0,
// exact), and reports whether the scan saw every key.
func sampleRecords(ctx context.Context, rdb redis.UniversalClient, wsGlob string, samples int) ([]recordSize, bool, error) {
	sizes := make([]recordSize, len(recordKinds))
	keys := make([][]string, len(recordKinds))
	for i, k := range recordKinds {
		sizes[i].Kind = k
	}
	patterns := make([]string, len(recordKinds))
	for i, k := range recordKinds {
		patterns[i] = fmt.Sprintf(k.Pattern, wsGlob)
	}
	match := "q:{ws:" + wsGlob + "}:*"
	deadline := time.Now().Add(scanMaxTime)
	var cursor uint64
	complete := false
	for range scanMaxCalls {
		batch, next, err := rdb.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return nil, false, fmt.Errorf("SCAN: %w", err)
		}
		for _, key := range batch {
			if i := kindOf(key, patterns); i >= 0 {
				sizes[i].Seen++
				if len(keys[i]) < samples {
					keys[i] = append(keys[i], key)
				}
			}
		}
		cursor = next
		if cursor == 0 {
			complete = true
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	for i, ks := range keys {
		if len(ks) == 0 {
			continue
		}
		pipe := rdb.Pipeline()
		mem := make([]*redis.IntCmd, len(ks))
		lens := make([]*redis.IntCmd, len(ks))
		for j, k := range ks {
			mem[j] = pipe.MemoryUsage(ctx, k, 0)
			if sizes[i].Kind.Stream {
				lens[j] = pipe.XLen(ctx, k)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, false, fmt.Errorf("MEMORY USAGE: %w", err)
		}
		for j := range ks {
			b, err := mem[j].Result()
			if err != nil { // gone meanwhile (an expired idempotency record)
				continue
			}
			sizes[i].Sized++
			sizes[i].Bytes += b
			if lens[j] != nil {
				sizes[i].Entries += lens[j].Val()
			}
		}
	}
	return sizes, complete, nil
}

// kindOf returns the index of the first of patterns (recordKinds' with
// the workspace glob filled in) that key matches, or -1.
func kindOf(key string, patterns []string) int {
	for i, p := range patterns {
		if ok, _ := path.Match(p, key); ok {
			return i
		}
	}
	return -1
}
