package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quota-svc/quota/quota"
	"github.com/quota-svc/quota/server"
)

// metrics are quotad's own Prometheus metrics: the sweeper, the Redis
// client, the store's health, connections and file reloads. The server's
// (gRPC and domain) are server.Metrics; the Go runtime's and the
// process's are registered by newRegistry.
type metrics struct {
	sweeps          *prometheus.CounterVec
	sweepReleased   prometheus.Counter
	sweepLag        prometheus.Gauge
	sweepDuration   prometheus.Histogram
	sweepLastOK     prometheus.Gauge
	redisDuration   *prometheus.HistogramVec
	redisErrors     *prometheus.CounterVec
	storeUp         prometheus.Gauge
	connsRejected   prometheus.Counter
	reloads         *prometheus.CounterVec
	pricingRefresh  *prometheus.CounterVec
	fdLimit         prometheus.Gauge
	connectionLimit prometheus.Gauge
	// The store's sweep: how late the oldest hold it released was
	// released, settled runs deleted, stream entries trimmed, streams
	// held above their retention by a consumer group, workspaces it
	// could not reach.
	holdLag          prometheus.Gauge
	purged           prometheus.Counter
	trimmed          prometheus.Counter
	heldStreams      prometheus.Gauge
	failedWorkspaces prometheus.Gauge
	// server receives the expired and forfeited credits.
	server *server.Metrics
	// openConns reads the open gRPC connections (set once listening).
	openConns atomic.Pointer[func() int64]
}

// registerMetrics registers every metric quotad exports on reg: the Go
// runtime's and the process's, quotad's own and the server's.
func registerMetrics(reg prometheus.Registerer) (*metrics, *server.Metrics, error) {
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	m := newMetrics(reg)
	sm, err := server.NewMetrics(reg)
	m.server = sm
	return m, sm, err
}

// newMetrics registers quotad's metrics on reg.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_sweeps_total", Help: "Sweeps of expired holds, by result (ok, error).",
		}, []string{"result"}),
		sweepReleased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_sweep_released_holds_total", Help: "Expired holds released by the sweeper.",
		}),
		sweepLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_sweep_lag_seconds", Help: "How late the last sweep started after its schedule.",
		}),
		sweepDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quota_sweep_duration_seconds", Help: "Time one sweep took.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10},
		}),
		sweepLastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_sweep_last_success_timestamp_seconds", Help: "Unix time of the last sweep that succeeded.",
		}),
		redisDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quota_redis_command_duration_seconds", Help: "Latency of Redis commands, by command and, for scripts, script.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"command", "script"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_redis_command_errors_total",
			Help: "Failed Redis commands, by command, script and kind (connection, timeout, reply).",
		}, []string{"command", "script", "kind"}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_store_up", Help: "1 while Redis answers the health PING, 0 when health is NOT_SERVING for it.",
		}),
		connsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_grpc_connections_rejected_total", Help: "gRPC connections closed at once because -max-connections were open.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_config_reloads_total", Help: "Reloads of the tokens and TLS files, by file kind (tokens, tls, redis-tls) and result (ok, error).",
		}, []string{"file", "result"}),
		pricingRefresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_pricing_refreshes_total", Help: "Reloads of the price table from Redis, by result (ok, error).",
		}, []string{"result"}),
		fdLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_fd_limit", Help: "The soft limit of open files after quotad raised it (0: unknown).",
		}),
		connectionLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_grpc_connections_limit", Help: "The cap on open gRPC connections.",
		}),
		holdLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_sweep_hold_lag_seconds", Help: "In the last sweep, how long past its deadline the oldest expired hold it released had waited (0: none released).",
		}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_sweep_purged_runs_total", Help: "Settled runs deleted after the run retention.",
		}),
		trimmed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_sweep_trimmed_entries_total", Help: "Ledger and event stream entries trimmed after their retention.",
		}),
		heldStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_sweep_streams_held", Help: "Streams a lagging consumer group keeps above their retention, in the last sweep.",
		}),
		failedWorkspaces: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_sweep_failed_workspaces", Help: "Workspaces the last sweep could not reach (their shard down).",
		}),
	}
	for _, r := range []string{"ok", "error"} {
		m.sweeps.WithLabelValues(r)
		m.pricingRefresh.WithLabelValues(r)
		for _, f := range []string{"tokens", "tls", "redis-tls"} {
			m.reloads.WithLabelValues(f, r)
		}
	}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quota_grpc_connections_open", Help: "Open gRPC connections.",
	}, func() float64 {
		if f := m.openConns.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	reg.MustRegister(m.sweeps, m.sweepReleased, m.sweepLag, m.sweepDuration, m.sweepLastOK,
		m.redisDuration, m.redisErrors, m.storeUp, m.connsRejected, m.reloads, m.pricingRefresh,
		m.fdLimit, m.connectionLimit, open, m.holdLag, m.purged, m.trimmed, m.heldStreams, m.failedWorkspaces)
	return m
}

// sweepResult is what one sweep did.
type sweepResult struct {
	// Stats is what the store reported.
	Stats quota.SweepStats
	// Lag is how late the sweep started after its schedule.
	Lag time.Duration
	// Took is how long it ran.
	Took time.Duration
	// Err is its error, if any.
	Err error
}

// swept records one sweep.
func (m *metrics) swept(r sweepResult) {
	m.sweepLag.Set(r.Lag.Seconds())
	m.sweepDuration.Observe(r.Took.Seconds())
	m.sweepReleased.Add(float64(r.Stats.Released))
	m.holdLag.Set(r.Stats.Lag.Seconds())
	m.purged.Add(float64(r.Stats.Purged))
	m.trimmed.Add(float64(r.Stats.Trimmed))
	m.heldStreams.Set(float64(r.Stats.Held))
	m.failedWorkspaces.Set(float64(r.Stats.Failed))
	if m.server != nil {
		for _, o := range quota.Origins {
			m.server.Expired(o, r.Stats.ReleasedByOrigin[o])
		}
		m.server.Forfeited(quota.OriginUnknown, r.Stats.ForfeitedCredits)
	}
	if r.Err != nil {
		m.sweeps.WithLabelValues("error").Inc()
		return
	}
	m.sweeps.WithLabelValues("ok").Inc()
	m.sweepLastOK.Set(float64(time.Now().UnixNano()) / 1e9)
}

// result is "ok" or "error".
func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// maxProfileSeconds bounds ?seconds= of a CPU profile, a trace or a delta
// profile (-pprof), so that no caller can hold the process's one profiler,
// or a handler, indefinitely (net/http/pprof moves the write deadline out
// by as long as asked).
const maxProfileSeconds = 120

// boundedSeconds refuses a profile or trace longer than maxProfileSeconds
// with 400, before h starts it.
func boundedSeconds(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s := r.FormValue("seconds"); s != "" {
			if n, err := strconv.ParseFloat(s, 64); err == nil && n > maxProfileSeconds {
				http.Error(w, fmt.Sprintf("seconds must be at most %d", maxProfileSeconds), http.StatusBadRequest)
				return
			}
		}
		h(w, r)
	}
}

// serveMetrics serves /metrics of reg on lis until ctx ends, and Go's
// profiles under /debug/pprof/ when withPprof (-pprof). The command line
// (pprof's cmdline) is not served: -redis-url may hold a password.
func serveMetrics(ctx context.Context, lis net.Listener, reg *prometheus.Registry, withPprof bool, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if withPprof {
		// net/http/pprof's routes but cmdline, on this mux only (importing
		// it registers them on http.DefaultServeMux too, which nothing
		// serves). Index serves the named profiles (heap, goroutine, ...).
		mux.HandleFunc("/debug/pprof/", boundedSeconds(pprof.Index))
		mux.HandleFunc("/debug/pprof/profile", boundedSeconds(pprof.Profile))
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", boundedSeconds(pprof.Trace))
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics listener stopped", "err", err)
	}
}
