package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// knownStats returns stats with known contents: 100 Reserves of 2 ms,
// 100 Commits of 3 ms, 100 cycles of 5 ms, 5 deliberate denials and 10
// failures.
func knownStats(t *testing.T) *stats {
	t.Helper()
	st := newStats(allRPCs, []string{kindCycle})
	for range 100 {
		st.rpc[rpcReserve].Record(2 * time.Millisecond)
		st.rpc[rpcCommit].Record(3 * time.Millisecond)
		st.succeed(kindCycle, time.Now().Add(-5*time.Millisecond))
	}
	st.op[kindCycle] = new(hist) // succeed measured real time: replace it
	for range 100 {
		st.op[kindCycle].Record(5 * time.Millisecond)
	}
	st.rpcs.Store(200)
	denied := withReason(t, codes.ResourceExhausted, "CREDITS_EXHAUSTED")
	for range 5 {
		st.count(classify(denied), true)
		st.denials.Add(1)
		st.ops.Add(1)
	}
	for range 7 {
		st.fail(status.Error(codes.Unavailable, "connection refused"))
	}
	for range 3 {
		st.fail(withReason(t, codes.Internal, "INTERNAL"))
	}
	return st
}

// withReason returns a status error with an ErrorInfo of reason.
func withReason(t *testing.T, c codes.Code, reason string) error {
	t.Helper()
	s, err := status.New(c, "x").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "quota"})
	if err != nil {
		t.Fatal(err)
	}
	return s.Err()
}

func TestWritePhase(t *testing.T) {
	r := phaseResult{
		Name:  "gRPC cycle",
		Plan:  plan{Workers: 4, Duration: time.Minute},
		Loop:  loopResult{Started: 115, Scheduled: 115, Elapsed: 2 * time.Second},
		Stats: knownStats(t),
	}
	var b strings.Builder
	writePhase(&b, r)
	want := `
== gRPC cycle: 4 workers, closed loop
throughput   57.5 ops/s, 50.0 runs/s, 100.0 RPC/s (115 ops in 2s)
ops          115 = 100 succeeded (runs) + 5 denied as meant + 10 failed
  latency (ms)  calls   mean    p50    p99  p99.9    max
  rpc Reserve     100  2.000  2.000  2.000  2.000  2.000
  rpc Commit      100  3.000  3.000  3.000  3.000  3.000
  op cycle        100  5.000  5.000  5.000  5.000  5.000
errors by gRPC code and ErrorInfo reason:
  UNAVAILABLE         -                  7  UNEXPECTED
  RESOURCE_EXHAUSTED  CREDITS_EXHAUSTED  5  expected (deliberate denial)
  INTERNAL            INTERNAL           3  UNEXPECTED
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writePhase (-want +got):\n%s", diff)
	}
}

func TestWritePhaseOpenLoop(t *testing.T) {
	r := phaseResult{
		Name:  "gRPC reserve",
		Plan:  plan{Workers: 2, Rate: 1000, Duration: 100 * time.Millisecond, Grace: 5 * time.Second},
		Loop:  loopResult{Started: 98, Scheduled: 100, Missed: 2, Elapsed: 200 * time.Millisecond},
		Stats: newStats(allRPCs, []string{kindReserve}),
	}
	r.Stats.ops.Store(98)
	r.Stats.runs.Store(98)
	var b strings.Builder
	writePhase(&b, r)
	for _, want := range []string{
		"== gRPC reserve: 2 workers, open loop at 1000 ops/s (latency of an op counts from when it was due)\n",
		"schedule     100 ops due, 98 started, 2 missed (not started within 5s past the end)\n",
		"throughput   490.0 ops/s, 490.0 runs/s, 0.0 RPC/s (98 ops in 200ms)\n",
		"errors       none\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("writePhase printed\n%s\nwant a line %q", b.String(), want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want outcome
	}{
		{withReason(t, codes.ResourceExhausted, "CREDITS_EXHAUSTED"), outcome{Code: "RESOURCE_EXHAUSTED", Reason: "CREDITS_EXHAUSTED"}},
		{status.Error(codes.DeadlineExceeded, "slow"), outcome{Code: "DEADLINE_EXCEEDED"}},
		{errUnexpectedOK, outcome{Code: "OK", Reason: "NOT_DENIED"}},
		{errors.New("store: connection reset"), outcome{Code: "ERROR", Reason: "store: connection reset"}},
		{errors.New(strings.Repeat("x", 80)), outcome{Code: "ERROR", Reason: strings.Repeat("x", 60) + "…"}},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %+v, want %+v", tt.err, got, tt.want)
		}
	}
}

func TestCommandStatsDelta(t *testing.T) {
	before := parseCommandStats("# Commandstats\r\n" +
		"cmdstat_evalsha:calls=4,usec=600,usec_per_call=150.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_ping:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n")
	after := parseCommandStats("# Commandstats\r\n" +
		"cmdstat_evalsha:calls=10,usec=1500,usec_per_call=150.00,rejected_calls=0,failed_calls=1\r\n" +
		"cmdstat_eval:calls=2,usec=400,usec_per_call=200.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_FCALL:calls=5,usec=250,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hset:calls=99,usec=99,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_ping:calls=3,usec=3,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n")
	if got, want := after["evalsha"], (cmdStat{Calls: 10, Failed: 1, Usec: 1500}); got != want {
		t.Errorf("parsed evalsha = %+v, want %+v", got, want)
	}
	u := scriptDelta(redisStats{cmds: before, cpuUsec: 1_000_000}, redisStats{cmds: after, cpuUsec: 1_001_200})
	if u.Calls != 12 || u.Usec != 1550 {
		t.Errorf("scriptDelta = %d calls, %d µs; want 12 calls (a failed one left out), 1550 µs", u.Calls, u.Usec)
	}
	if got, want := fmt.Sprintf("%.2f", u.PerCall()), "129.17"; got != want {
		t.Errorf("PerCall = %s, want %s", got, want)
	}
	if got, want := u.String(), "eval 2 calls 400 µs, evalsha 6 calls 900 µs (1 failed), fcall 5 calls 250 µs"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%.1f", u.CPUPerCall()), "100.0"; got != want {
		t.Errorf("CPUPerCall = %s, want %s (1,200 µs over 12 calls)", got, want)
	}
	if got := scriptDelta(redisStats{cmds: after}, redisStats{cmds: after}); got.Calls != 0 || got.PerCall() != 0 || got.String() != "no script call" {
		t.Errorf("scriptDelta of no change = %+v (%s)", got, got)
	}
}

func TestRecordKinds(t *testing.T) {
	patterns := make([]string, len(recordKinds))
	for i, k := range recordKinds {
		patterns[i] = fmt.Sprintf(k.Pattern, "bench-*")
	}
	tests := map[string]string{
		"q:{ws:bench-1}:ws":                    "workspace",
		"q:{ws:bench-1}:acct:m7":               "account",
		"q:{ws:bench-12}:run:0123":             "run index",
		"q:{ws:bench-1}:res:0123":              "reservation",
		"q:{ws:bench-1}:kids:0123":             "held children",
		"q:{ws:bench-1}:settled":               "settled index",
		"q:{ws:bench-1}:idem:qb-abc-1-r":       "idempotency",
		"q:{ws:bench-1}:deadlines":             "deadlines",
		"q:{ws:bench-1}:ledger":                "ledger",
		"q:{ws:bench-1}:events":                "events",
		"q:{ws:other-1}:res:c_0123":            "",
		"q:{pricing}:table":                    "",
		"q:{ws:bench-1}:something-else:c_0123": "",
	}
	for key, want := range tests {
		got := ""
		if i := kindOf(key, patterns); i >= 0 {
			got = recordKinds[i].Name
		}
		if got != want {
			t.Errorf("kind of %q = %q, want %q", key, got, want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	writeTable(&b, "", [][]string{{"name", "µs/call"}, {"a", "1.5"}, {"longer", "10"}})
	want := "  name    µs/call\n  a           1.5\n  longer       10\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTable (-want +got):\n%s", diff)
	}
}

// TestParseCPU reads Redis's CPU time from INFO cpu: user and system, in
// µs, the children's left out.
func TestParseCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:2.000001\r\nused_cpu_sys_children:9.000000\r\n" +
		"used_cpu_user_children:9.000000\r\n"
	if got, want := parseCPU(info), int64(3_250_001); got != want {
		t.Errorf("parseCPU = %d µs, want %d", got, want)
	}
}

// TestWriteSlowSaysHowOftenRedisWasPreempted prints the preemptions of
// Redis next to the slow log's script calls, and nothing of them when
// Redis is not a process quotabench can read.
func TestWriteSlowSaysHowOftenRedisWasPreempted(t *testing.T) {
	r := slowReport{Entries: 1, Scripts: []redis.SlowLog{{Duration: 2 * time.Millisecond, Args: []string{"fcall", "quota_x_reserve", "1", "q:{ws:a}:ws"}}}}
	var b strings.Builder
	writeSlow(&b, r)
	if strings.Contains(b.String(), "preempted") {
		t.Errorf("report without a Redis process mentions preemptions:\n%s", b.String())
	}
	r.Preempted = &preempted{Pid: 4242, Times: 231}
	b.Reset()
	writeSlow(&b, r)
	for _, want := range []string{"1 script calls over 1ms", "fcall 1", "redis-server (pid 4242) was preempted 231 times"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
