package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// phaseResult is one load phase: what was asked and what happened.
type phaseResult struct {
	// Name says what ran, e.g. "gRPC cycle".
	Name  string
	Plan  plan
	Loop  loopResult
	Stats *stats
}

// rate returns n per second of elapsed time.
func rate(n int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(n) / elapsed.Seconds()
}

// OpsPerSec returns the ops that ended per second.
func (r phaseResult) OpsPerSec() float64 { return rate(r.Stats.ops.Load(), r.Loop.Elapsed) }

// RunsPerSec returns the ops that succeeded per second.
func (r phaseResult) RunsPerSec() float64 { return rate(r.Stats.runs.Load(), r.Loop.Elapsed) }

// percentiles are the latency columns of the reports.
var percentiles = []struct {
	name string
	q    float64
}{{"p50", 0.50}, {"p99", 0.99}, {"p99.9", 0.999}}

// ms renders a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

// writePhase prints a phase's throughput, latencies and errors.
func writePhase(w io.Writer, r phaseResult) {
	st := r.Stats
	fmt.Fprintf(w, "\n== %s: %d workers, ", r.Name, r.Plan.Workers)
	if r.Plan.Rate > 0 {
		fmt.Fprintf(w, "open loop at %g ops/s (latency of an op counts from when it was due)\n", r.Plan.Rate)
		fmt.Fprintf(w, "schedule     %d ops due, %d started, %d missed (not started within %s past the end)\n",
			r.Loop.Scheduled, r.Loop.Started, r.Loop.Missed, r.Plan.Grace)
	} else {
		fmt.Fprintf(w, "closed loop\n")
	}
	fmt.Fprintf(w, "throughput   %.1f ops/s, %.1f runs/s, %.1f RPC/s (%d ops in %s)\n",
		r.OpsPerSec(), r.RunsPerSec(), rate(st.rpcs.Load(), r.Loop.Elapsed), st.ops.Load(), r.Loop.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "ops          %d = %d succeeded (runs) + %d denied as meant + %d failed\n",
		st.ops.Load(), st.runs.Load(), st.denials.Load(), st.failed.Load())
	writeLatencies(w, st)
	writeOutcomes(w, st)
}

// writeLatencies prints the latency table of every RPC and op kind that
// recorded something, in milliseconds.
func writeLatencies(w io.Writer, st *stats) {
	t := [][]string{{"latency (ms)", "calls", "mean"}}
	for _, p := range percentiles {
		t[0] = append(t[0], p.name)
	}
	t[0] = append(t[0], "max")
	row := func(label string, h *hist) {
		if h.Count() == 0 {
			return
		}
		r := []string{label, strconv.FormatInt(h.Count(), 10), ms(h.Mean())}
		for _, p := range percentiles {
			r = append(r, ms(h.Quantile(p.q)))
		}
		t = append(t, append(r, ms(h.Max())))
	}
	for _, n := range st.rpcNames {
		row("rpc "+n, st.rpc[n])
	}
	for _, n := range st.opNames {
		row("op "+n, st.op[n])
	}
	writeTable(w, "", t)
}

// writeTable prints rows of cells in columns, indented by two spaces.
// align has a letter per column, 'l' (left) or 'r' (right); columns
// beyond it are right-aligned but the first, which is left-aligned.
func writeTable(w io.Writer, align string, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			left := i == 0
			if i < len(align) {
				left = align[i] == 'l'
			}
			if left {
				b.WriteString("  " + c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// writeOutcomes prints the answers other than success by code and reason.
func writeOutcomes(w io.Writer, st *stats) {
	l := st.outcomeList()
	if len(l) == 0 {
		fmt.Fprintln(w, "errors       none")
		return
	}
	fmt.Fprintln(w, "errors by gRPC code and ErrorInfo reason:")
	var t [][]string
	for _, o := range l {
		reason := o.Reason
		if reason == "" {
			reason = "-"
		}
		note := "UNEXPECTED"
		if o.Expected {
			note = "expected (deliberate denial)"
		}
		t = append(t, []string{o.Code, reason, strconv.FormatInt(o.N, 10), note})
	}
	writeTable(w, "llrl", t)
}

// redisRun is what a phase cost Redis.
type redisRun struct {
	Scripts scriptUsage
	// MemDelta is used_memory after less before, in bytes.
	MemDelta int64
	// Latency is Redis's own histogram of the time it spent in each
	// script call (LATENCY HISTOGRAM); nil before Redis 7.
	Latency *scriptLatency
}

// writeRedisRun prints the script cost and the memory of a phase.
func writeRedisRun(w io.Writer, r phaseResult, rr redisRun) {
	ops, runs := r.Stats.ops.Load(), r.Stats.runs.Load()
	u := rr.Scripts
	fmt.Fprintf(w, "redis        %.1f µs per script call, %d script calls (%.2f per op) [%s]\n",
		u.PerCall(), u.Calls, ratio(u.Calls, ops), u)
	fmt.Fprintf(w, "redis cpu    %.1f µs of Redis CPU per script call (all of Redis's work, not waiting for a core)\n", u.CPUPerCall())
	if l := rr.Latency; l != nil && l.Calls > 0 {
		fmt.Fprintf(w, "redis time   %s in a script call (Redis's own histogram: the part of the latencies above spent in scripts)\n", l)
	}
	fmt.Fprintf(w, "redis memory used_memory %+d bytes, %.0f bytes per run (%d runs)\n", rr.MemDelta, ratio(rr.MemDelta, runs), runs)
}

// ratio returns a/b, 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// comparison is the -raw comparison: the Reserve workload over gRPC and
// straight on Redis, with the same workers and keys.
type comparison struct {
	GRPC, Raw           phaseResult
	GRPCRedis, RawRedis *redisRun // nil without commandstats
	// Reused says the gRPC side is the main phase.
	Reused bool
}

// Ratio returns gRPC ops/s over raw ops/s.
func (c comparison) Ratio() float64 {
	if c.Raw.OpsPerSec() == 0 {
		return 0
	}
	return c.GRPC.OpsPerSec() / c.Raw.OpsPerSec()
}

// writeComparison prints both throughputs and their ratio.
func writeComparison(w io.Writer, c comparison) {
	fmt.Fprintf(w, "\n== raw comparison: Reserve, %d workers, closed loop, same keys\n", c.Raw.Plan.Workers)
	if c.Reused {
		fmt.Fprintln(w, "(the gRPC side is the main phase above)")
	}
	t := [][]string{{"path", "ops", "ops/s", "p50 ms", "p99 ms", "failed", "redis µs/call", "cpu µs/call"}}
	row := func(name string, r phaseResult, rr *redisRun) {
		h := r.Stats.op[kindReserve]
		perCall, cpu := "-", "-"
		if rr != nil {
			perCall, cpu = fmt.Sprintf("%.1f", rr.Scripts.PerCall()), fmt.Sprintf("%.1f", rr.Scripts.CPUPerCall())
		}
		t = append(t, []string{name, strconv.FormatInt(r.Stats.ops.Load(), 10), fmt.Sprintf("%.1f", r.OpsPerSec()),
			ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), strconv.FormatInt(r.Stats.failed.Load(), 10), perCall, cpu})
	}
	row("gRPC Reserve", c.GRPC, c.GRPCRedis)
	row("raw store.Reserve", c.Raw, c.RawRedis)
	writeTable(w, "", t)
	fmt.Fprintf(w, "ratio gRPC/raw  %.3f (throughput)\n", c.Ratio())
	writeOutcomes(w, c.Raw.Stats)
}

// writeProfile prints the µs per script call of each profile phase.
func writeProfile(w io.Writer, phases []profilePhase) {
	fmt.Fprintln(w, "\n== profile: Redis µs per script call, one RPC per phase (INFO commandstats and cpu deltas)")
	t := [][]string{{"phase", "calls", "failed", "script calls", "µs/call", "cpu µs/call", "RPC p50 ms", "RPC p99 ms"}}
	for _, p := range phases {
		h := p.Stats.rpc[p.RPC]
		t = append(t, []string{p.Name, strconv.FormatInt(p.Calls, 10), strconv.FormatInt(p.Failed, 10),
			strconv.FormatInt(p.Scripts.Calls, 10), fmt.Sprintf("%.1f", p.Scripts.PerCall()),
			fmt.Sprintf("%.1f", p.Scripts.CPUPerCall()), ms(h.Quantile(0.5)), ms(h.Quantile(0.99))})
	}
	writeTable(w, "", t)
	fmt.Fprintln(w, "(script calls above calls are quotad's sweeper, one per workspace a second, or a ROLL at a period's end)")
}

// writeRecords prints the average bytes per record kind.
func writeRecords(w io.Writer, sizes []recordSize, complete bool) {
	fmt.Fprintln(w, "\n== bytes per record (MEMORY USAGE SAMPLES 0)")
	if !complete {
		fmt.Fprintf(w, "(the scan stopped early: key counts are partial)\n")
	}
	t := [][]string{{"record", "keys", "sized", "bytes/key", "entries", "bytes/entry"}}
	for _, s := range sizes {
		if s.Seen == 0 {
			t = append(t, []string{s.Kind.Name, "0", "", "", "", ""})
			continue
		}
		r := []string{s.Kind.Name, strconv.Itoa(s.Seen), strconv.Itoa(s.Sized), fmt.Sprintf("%.0f", ratio(s.Bytes, int64(s.Sized))), "", ""}
		if s.Kind.Stream {
			r[4], r[5] = strconv.FormatInt(s.Entries, 10), fmt.Sprintf("%.0f", ratio(s.Bytes, s.Entries))
		}
		t = append(t, r)
	}
	writeTable(w, "", t)
}

// writeSlow prints the script calls of the slow log over slowOver.
func writeSlow(w io.Writer, r slowReport) {
	byCmd := map[string]int{}
	for _, l := range r.Scripts {
		byCmd[strings.ToLower(l.Args[0])]++
	}
	var cmds []string
	for _, c := range scriptCommands {
		if byCmd[c] > 0 {
			cmds = append(cmds, fmt.Sprintf("%s %d", c, byCmd[c]))
		}
	}
	fmt.Fprintf(w, "\n== slow log: %d script calls over %s (issue 7 wants none)", len(r.Scripts), slowOver)
	if len(cmds) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(cmds, ", "))
	}
	if r.Entries >= slowKeep {
		fmt.Fprintf(w, "; the log is full (%d entries): older ones were dropped, so this is a lower bound", slowKeep)
	}
	fmt.Fprintln(w)
	if p := r.Preempted; p != nil {
		fmt.Fprintf(w, "  redis-server (pid %d) was preempted %d times meanwhile (involuntary context switches of its main thread):\n"+
			"  a script call preempted for over %s is in the slow log whatever its own work (make load LOAD_PIN=2, or LOAD_PIN=1 LOAD_RT=1, runs Redis at real-time priority)\n",
			p.Pid, p.Times, slowOver)
	}
	if byCmd["eval"] > 0 {
		fmt.Fprintln(w, "  (EVAL sends and compiles the whole script: go-redis sends it after a NOSCRIPT, on a script's first use)")
	}
	for i, l := range r.Scripts {
		if i == 5 {
			fmt.Fprintf(w, "  ... %d more\n", len(r.Scripts)-i)
			break
		}
		fmt.Fprintf(w, "  %s ms  %s  %s\n", ms(l.Duration), l.Time.Format(time.TimeOnly), slowArgs(l.Args))
	}
}

// slowArgs renders a slow script call's command and first keys: the
// script body of an EVAL is left out, long arguments are cut.
func slowArgs(args []string) string {
	var out []string
	for i, a := range args[:min(len(args), 5)] {
		switch {
		case i == 1 && strings.EqualFold(args[0], "eval"):
			a = "<script>"
		case len(a) > 60:
			a = a[:60] + "…"
		}
		out = append(out, strings.ReplaceAll(a, "\n", " "))
	}
	return strings.Join(out, " ")
}
