package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	quotav1 "github.com/quota-svc/quota/gen/quota/v1"
)

// scrape returns the metric families quotad serves on /metrics.
func scrape(t *testing.T, metricsAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sum returns the sum of the values (counter, gauge, or a histogram's
// count) of the series of name whose labels include every pair of want.
func sum(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total := 0.0
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(want); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == want[i] && l.GetValue() == want[i+1]
			}) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

func TestMetricsArePresentAndMoveWithTraffic(t *testing.T) {
	q := startQuotad(t, "redis", func(c *Config) { c.SweepInterval = 50 * time.Millisecond })
	c, _ := connect(t, q.Addrs.GRPC)
	before := scrape(t, q.Addrs.Metrics)

	w := walkthrough(t, c, "ws-metrics")
	if _, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: w.ws, MemberId: w.member, RequestId: "too-much", Amount: 1_000_000 * credit,
		Origin: quotav1.Origin_ORIGIN_CONVERSATION,
	}); err == nil {
		t.Fatal("a Reserve of a million credits succeeded")
	}
	r, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
		WorkspaceId: w.ws, MemberId: w.member, RequestId: "to-refund", Amount: 5 * credit,
		Origin: quotav1.Origin_ORIGIN_AUTOMATION,
	})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if _, err := c.quota.Refund(rpcCtx(t), &quotav1.RefundRequest{
		WorkspaceId: w.ws, ReservationId: r.GetReservation().GetReservationId(), RequestId: "refund-1",
	}); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // a few sweeps
	after := scrape(t, q.Addrs.Metrics)

	moved := []struct {
		name   string
		labels []string
	}{
		{"grpc_server_handled_total", []string{"grpc_method", "Reserve", "grpc_code", "OK"}},
		{"grpc_server_handled_total", []string{"grpc_method", "Reserve", "grpc_code", "ResourceExhausted"}},
		{"grpc_server_handling_seconds", []string{"grpc_method", "Commit"}},
		{"quota_reserved_microcredits_total", []string{"origin", "conversation"}},
		{"quota_reserved_microcredits_total", []string{"origin", "automation"}},
		{"quota_committed_microcredits_total", []string{"origin", "conversation"}},
		{"quota_released_microcredits_total", []string{"origin", "conversation"}},
		{"quota_refunded_microcredits_total", []string{"origin", "automation"}},
		{"quota_denials_total", []string{"reason", "CREDITS_EXHAUSTED"}},
		{"quota_sweeps_total", []string{"result", "ok"}},
		{"quota_sweep_duration_seconds", nil},
		{"quota_redis_command_duration_seconds", []string{"command", "fcall", "script", "reserve"}},
		{"process_cpu_seconds_total", nil},
	}
	for _, m := range moved {
		b, a := sum(before, m.name, m.labels...), sum(after, m.name, m.labels...)
		if a <= b || a < 0 {
			t.Errorf("%s%v did not move: %v before, %v after", m.name, m.labels, b, a)
		}
	}
	present := []struct {
		name  string
		least float64
	}{
		{"quota_store_up", 1},
		{"quota_grpc_connections_open", 1},
		{"quota_grpc_connections_limit", 16},
		{"quota_sweep_last_success_timestamp_seconds", float64(time.Now().Add(-time.Minute).Unix())},
		{"go_goroutines", 1},
		{"process_open_fds", 1},
		{"quota_expired_microcredits_total", 0},
		{"quota_forfeited_microcredits_total", 0},
		{"quota_panics_total", 0},
		{"quota_auth_failures_total", 0},
	}
	for _, p := range present {
		if got := sum(after, p.name); got < p.least {
			t.Errorf("%s = %v, want at least %v (-1: absent)", p.name, got, p.least)
		}
	}
}

// TestReservedMetricCountsEachCreditOnce checks that
// quota_reserved_microcredits_total counts what a Reserve drew from the
// sources: a child's hold carved out of its parent's was counted when the
// parent reserved it, and only a child's top-up is new.
func TestReservedMetricCountsEachCreditOnce(t *testing.T) {
	q := startQuotad(t, "redis")
	c, _ := connect(t, q.Addrs.GRPC)
	w := walkthrough(t, c, "ws-carve")
	var before int64
	reserved := func() int64 {
		t.Helper()
		return int64(sum(scrape(t, q.Addrs.Metrics), "quota_reserved_microcredits_total", "origin", "conversation"))
	}
	reserve := func(id string, amount int64, parent string, topUp bool) *quotav1.ReserveResponse {
		t.Helper()
		r, err := c.quota.Reserve(rpcCtx(t), &quotav1.ReserveRequest{
			WorkspaceId: w.ws, MemberId: w.member, RequestId: id, Amount: amount,
			Origin: quotav1.Origin_ORIGIN_CONVERSATION, ParentReservationId: parent, AllowTopUp: topUp,
		})
		if err != nil {
			t.Fatalf("Reserve %s: %v", id, err)
		}
		return r
	}
	extend := func(id, res string, add int64) {
		t.Helper()
		if _, err := c.quota.Extend(rpcCtx(t), &quotav1.ExtendRequest{
			WorkspaceId: w.ws, ReservationId: res, RequestId: id, AddAmount: add,
		}); err != nil {
			t.Fatalf("Extend %s: %v", id, err)
		}
	}
	counted := func(when string, want int64) {
		t.Helper()
		if got := reserved() - before; got != want {
			t.Errorf("%s: %d counted, want %d", when, got, want)
		}
	}
	before = reserved()
	root := reserve("root", 10*credit, "", false).GetReservation().GetReservationId()
	counted("a root Reserve of 10 credits", 10*credit)
	// Carved out of the root's 10: counted already.
	child := reserve("child-1", 4*credit, root, false).GetReservation().GetReservationId()
	counted("a child carved 4 credits", 10*credit)
	extend("extend-1", child, 3*credit)
	counted("the child's Extend carved 3 more", 10*credit)
	// The root's last 3 carved, 6 topped up from the seat.
	if h := reserve("child-2", 9*credit, root, true).GetReservation().GetHeld(); h != 9*credit {
		t.Fatalf("child-2 holds %d, want %d", h, 9*credit)
	}
	counted("a child carved 3 credits and topped up 6", 16*credit)
	extend("extend-2", child, 2*credit)
	counted("the child's Extend drew 2 from the seat (the root has none left)", 18*credit)
	// Replays count nothing.
	reserve("child-2", 9*credit, root, true)
	extend("extend-2", child, 2*credit)
	counted("replays", 18*credit)
}

// exportedNames returns the name of every metric family quotad registers,
// with the _bucket, _sum and _count series of histograms, from the
// collectors' descriptions (a labelled family with no series yet is
// exported all the same).
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recordingRegisterer{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	if _, _, err := registerMetrics(rec); err != nil {
		t.Fatal(err)
	}
	return rec.names
}

// recordingRegisterer notes the names its collectors describe.
type recordingRegisterer struct {
	prometheus.Registerer
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			for _, s := range []string{"", "_bucket", "_sum", "_count"} {
				r.names[m[1]+s] = true
			}
		}
	}
	return r.Registerer.Register(c)
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// metricRef finds the metric names of quotad in a PromQL expression.
var metricRef = regexp.MustCompile(`\b(?:quota|grpc_server|go|process)_[a-zA-Z0-9_]+\b`)

// dashboardExprs returns every "expr" and "query" of a Grafana dashboard.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query") {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

// alertExprs returns the expr of every rule of a Prometheus rules file.
func alertExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("%s: a rule without alert or expr: %+v", path, r)
			}
			out = append(out, r.Expr)
		}
	}
	return out
}

func TestMonitoringUsesExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	for _, f := range []struct {
		path  string
		exprs func(*testing.T, string) []string
	}{
		{"../../monitoring/grafana/quotad-dashboard.json", dashboardExprs},
		{"../../monitoring/prometheus/quotad-alerts.yaml", alertExprs},
	} {
		t.Run(f.path, func(t *testing.T) {
			exprs := f.exprs(t, f.path)
			if len(exprs) == 0 {
				t.Fatal("no expression found")
			}
			used := 0
			for _, e := range exprs {
				for _, name := range metricRef.FindAllString(e, -1) {
					used++
					if !exported[name] {
						t.Errorf("%s names %s, which quotad does not export (in %q)", f.path, name, strings.TrimSpace(e))
					}
				}
			}
			if used == 0 {
				t.Error("no metric of quotad is named")
			}
		})
	}
}

// TestPprofIsServedOnlyWhenAsked checks -pprof: Go's profiles are on the
// metrics listener with it, and absent without it (the default); the
// command line never is (-redis-url may hold a password), and a CPU
// profile, trace or delta profile longer than maxProfileSeconds is
// refused.
func TestPprofIsServedOnlyWhenAsked(t *testing.T) {
	get := func(addr, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp.StatusCode, string(b)
	}
	off := startQuotad(t, "embedded")
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		if code, _ := get(off.Addrs.Metrics, path); code != http.StatusNotFound {
			t.Errorf("without -pprof, GET %s: %d, want 404", path, code)
		}
	}

	on := startQuotad(t, "embedded", func(c *Config) { c.Pprof = true })
	if code, body := get(on.Addrs.Metrics, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("with -pprof, GET /debug/pprof/: %d, %.200q", code, body)
	}
	if code, body := get(on.Addrs.Metrics, "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Errorf("with -pprof, GET /debug/pprof/heap: %d, %.200q", code, body)
	}
	if code, body := get(on.Addrs.Metrics, "/debug/pprof/cmdline"); code != http.StatusNotFound || strings.Contains(body, "quotad") {
		t.Errorf("with -pprof, GET /debug/pprof/cmdline: %d, %.200q; want 404", code, body)
	}
	for _, path := range []string{"/debug/pprof/profile", "/debug/pprof/trace", "/debug/pprof/heap"} {
		tooLong := fmt.Sprintf("%s?seconds=%d", path, maxProfileSeconds+1)
		if code, body := get(on.Addrs.Metrics, tooLong); code != http.StatusBadRequest || !strings.Contains(body, "at most 120") {
			t.Errorf("with -pprof, GET %s: %d, %.200q; want 400", tooLong, code, body)
		}
	}
	if code, _ := get(on.Addrs.Metrics, "/metrics"); code != http.StatusOK {
		t.Errorf("GET /metrics with -pprof: %d", code)
	}
}
