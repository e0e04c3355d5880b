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

// ratio returns a/b, 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
