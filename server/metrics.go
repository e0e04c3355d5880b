package server

import (
	"cmp"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/quota-svc/quota/quota"
)

// Metrics are the server's Prometheus metrics: the gRPC server metrics of
// go-grpc-middleware's Prometheus provider (grpc_server_*), and the
// domain's, counted from the handlers' outcomes (quota_*). Amounts are in
// µcredits. A nil *Metrics records nothing.
//
// The credit counters count what changed: a retried mutation (the same
// request_id) answers its first outcome again and is not counted again.
// quota_denials_total counts answers, replays included.
type Metrics struct {
	grpc *grpcprom.ServerMetrics

	reserved       *prometheus.CounterVec
	committed      *prometheus.CounterVec
	released       *prometheus.CounterVec
	refunded       *prometheus.CounterVec
	expired        *prometheus.CounterVec
	forfeited      *prometheus.CounterVec
	shortfall      *prometheus.CounterVec
	shortfalls     *prometheus.CounterVec
	denials        *prometheus.CounterVec
	unavailable    prometheus.Counter
	panics         prometheus.Counter
	authFailures   *prometheus.CounterVec
	credentialsSet prometheus.Gauge
	audits         *prometheus.CounterVec
	auditDrifts    prometheus.Counter
}

// originLabels are the values of the "origin" label.
var originLabels = func() []string {
	var names []string
	for _, o := range quota.Origins {
		names = append(names, o.Name())
	}
	return names
}()

// denialReasons are the values of the "reason" label of
// quota_denials_total, set to 0 from the start.
var denialReasons = []string{
	quota.ReasonNoSeat, quota.ReasonPoolCapReached, quota.ReasonProgrammaticCapReached,
	quota.ReasonCreditsExhausted, quota.ReasonRunCapReached, quota.ReasonParentHoldExhausted,
}

// authReasons are the values of the "reason" label of
// quota_auth_failures_total.
var authReasons = []string{reasonTokenMissing, reasonTokenInvalid, reasonRoleNotPermitted, reasonWorkspaceNotPermitted}

// NewMetrics returns the server's metrics, registered on reg. Every
// labelled series the server can produce starts at 0.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	byOrigin := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"origin"})
		for _, o := range originLabels {
			v.WithLabelValues(o)
		}
		return v
	}
	m := &Metrics{
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),
		)),
		reserved:  byOrigin("quota_reserved_microcredits_total", "µcredits drawn from the sources into holds by Reserve and Extend (not what a child carves out of an ancestor's hold)."),
		committed: byOrigin("quota_committed_microcredits_total", "µcredits charged by Commit (from the hold and beyond it)."),
		released:  byOrigin("quota_released_microcredits_total", "µcredits of holds released unused by Commit."),
		refunded:  byOrigin("quota_refunded_microcredits_total", "µcredits of holds released by Refund."),
		expired: byOrigin("quota_expired_microcredits_total",
			"µcredits of holds released at their deadline; counted once the store reports them (0 until then)."),
		forfeited: byOrigin("quota_forfeited_microcredits_total",
			"µcredits forfeited at a period's end or with a voided grant; counted once the store reports them (0 until then)."),
		shortfall:  byOrigin("quota_shortfall_microcredits_total", "µcredits of committed usage that no source could pay."),
		shortfalls: byOrigin("quota_shortfalls_total", "Commits that recorded a shortfall."),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_denials_total", Help: "Holds refused (RESOURCE_EXHAUSTED), by reason.",
		}, []string{"reason"}),
		unavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_store_unavailable_total", Help: "Calls answered UNAVAILABLE because the store could not be reached or did not answer in time.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_panics_total", Help: "Panics in gRPC handlers, recovered and answered INTERNAL.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_auth_failures_total", Help: "Calls refused by authentication (UNAUTHENTICATED) or authorization (PERMISSION_DENIED), by reason.",
		}, []string{"reason"}),
		credentialsSet: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quota_auth_tokens", Help: "Bearer tokens currently valid (0: authentication is off or no token is loaded).",
		}),
		audits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quota_audits_total", Help: "Workspace audits (AuditWorkspace and quotad's scheduled audits), by result: clean, drift or failed.",
		}, []string{"result"}),
		auditDrifts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quota_audit_drifts_total", Help: "Differences audits found between the books and what the records say; any is a bug to investigate.",
		}),
	}
	for _, r := range denialReasons {
		m.denials.WithLabelValues(r)
	}
	for _, r := range authReasons {
		m.authFailures.WithLabelValues(r)
	}
	for _, r := range []string{"clean", "drift", "failed"} {
		m.audits.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{
		m.grpc, m.reserved, m.committed, m.released, m.refunded, m.expired, m.forfeited,
		m.shortfall, m.shortfalls, m.denials, m.unavailable, m.panics, m.authFailures, m.credentialsSet,
		m.audits, m.auditDrifts,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// originLabel is the "origin" label of o: its name, or "unknown".
func originLabel(o quota.Origin) string { return cmp.Or(o.Name(), "unknown") }

// initialize creates the gRPC series of every registered method, at 0.
func (m *Metrics) initialize(gs *grpc.Server) {
	if m != nil {
		m.grpc.InitializeMetrics(gs)
	}
}

// held counts µcredits held by a Reserve or an Extend's addition,
// once: a replay (the same request id again) is not counted.
func (m *Metrics) held(out *quota.Outcome, amount int64) {
	if m != nil && amount > 0 && !out.Replayed {
		m.reserved.WithLabelValues(originLabel(out.Reservation.Origin)).Add(float64(amount))
	}
}

// settled counts what a Commit or a Refund did, once: a replay is not
// counted.
func (m *Metrics) settled(out *quota.Outcome) {
	if m == nil || out.Replayed {
		return
	}
	r := &out.Reservation
	o := originLabel(r.Origin)
	switch r.State {
	case quota.StateCommitted:
		m.committed.WithLabelValues(o).Add(float64(r.Charged))
		m.released.WithLabelValues(o).Add(float64(r.Released))
		if r.Shortfall > 0 {
			m.shortfall.WithLabelValues(o).Add(float64(r.Shortfall))
			m.shortfalls.WithLabelValues(o).Inc()
		}
	case quota.StateRefunded:
		m.refunded.WithLabelValues(o).Add(float64(r.Released))
	}
}

// Expired counts µcredits of holds of origin o released at their
// deadline by the sweeper (quotad passes on the store's SweepStats).
func (m *Metrics) Expired(o quota.Origin, amount int64) {
	if m != nil && amount > 0 {
		m.expired.WithLabelValues(originLabel(o)).Add(float64(amount))
	}
}

// Forfeited counts µcredits forfeited when expired holds were released
// (seat credits of an ended period, credits of ended grants); o is
// OriginUnknown ("unknown") when the store does not tell.
func (m *Metrics) Forfeited(o quota.Origin, amount int64) {
	if m != nil && amount > 0 {
		m.forfeited.WithLabelValues(originLabel(o)).Add(float64(amount))
	}
}

// Audited counts an audit of one workspace that found drifts
// differences (0: the books agree).
func (m *Metrics) Audited(drifts int) {
	if m == nil {
		return
	}
	if drifts == 0 {
		m.audits.WithLabelValues("clean").Inc()
		return
	}
	m.audits.WithLabelValues("drift").Inc()
	m.auditDrifts.Add(float64(drifts))
}

// AuditFailed counts an audit that could not run to its end.
func (m *Metrics) AuditFailed() {
	if m != nil {
		m.audits.WithLabelValues("failed").Inc()
	}
}

// denied counts a refused hold.
func (m *Metrics) denied(reason string) {
	if m != nil {
		m.denials.WithLabelValues(reason).Inc()
	}
}

// storeUnavailable counts a call answered UNAVAILABLE.
func (m *Metrics) storeUnavailable() {
	if m != nil {
		m.unavailable.Inc()
	}
}

// panicked counts a recovered panic.
func (m *Metrics) panicked() {
	if m != nil {
		m.panics.Inc()
	}
}

// authFailure counts a call refused by authentication or authorization.
func (m *Metrics) authFailure(reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(reason).Inc()
	}
}

// tokens sets how many tokens are valid.
func (m *Metrics) tokens(n int) {
	if m != nil {
		m.credentialsSet.Set(float64(n))
	}
}

// unaryInterceptor is the gRPC server metrics' unary interceptor, nil
// when m is.
func (m *Metrics) unaryInterceptor() grpc.UnaryServerInterceptor {
	if m == nil {
		return nil
	}
	return m.grpc.UnaryServerInterceptor()
}

// streamInterceptor is the gRPC server metrics' stream interceptor, nil
// when m is.
func (m *Metrics) streamInterceptor() grpc.StreamServerInterceptor {
	if m == nil {
		return nil
	}
	return m.grpc.StreamServerInterceptor()
}
