package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metrics are prometheus/client_golang's, in a registry of each Server's own (not
// the process-wide default registry: tests build many Servers in one process). The
// family names, types, help texts and labels are those of the hand-written exposition
// this replaced (testdata/metrics-hand-written.prom, TestMetricsKeepTheirNames), so
// that dashboards and alerts keep working; the Go runtime's (go_*) and the process's
// (process_*) standard families come with it.

// latencyBuckets are the upper bounds (seconds) of the request latency histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics counts what the API port's access log sees (not the management listener's
// own requests). Labels are bounded: route is a path template ("" for unrouted paths
// is reported as "unmatched"), never a raw path; method is one of knownMethods or
// "other"; reason is one of authFailureReasons.
type metrics struct {
	registry     *prometheus.Registry
	handler      http.Handler
	requests     *prometheus.CounterVec   // by method, route, status
	latency      *prometheus.HistogramVec // by method, route
	inFlight     prometheus.Gauge
	authFailures *prometheus.CounterVec // by reason
	replica      *replicaMetrics

	// series caches each (method, route)'s children of requests and latency, so that
	// a request costs no label hashing or validation once its series exist.
	series sync.Map // routeKey → *routeSeries
}

type routeKey struct{ method, route string }

type routeSeries struct {
	latency  prometheus.Observer
	byStatus sync.Map // int → prometheus.Counter
}

// newMetrics registers every family; pool (nil: no database) adds the pool's.
func newMetrics(pool *pgxpool.Pool, logger *slog.Logger) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rowguard_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rowguard_http_request_duration_seconds",
			Help:    "Time to answer a request, by method and route template.",
			Buckets: latencyBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rowguard_http_requests_in_flight",
			Help: "Requests being answered now.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rowguard_auth_failures_total",
			Help: "Refused authentications, by reason.",
		}, []string{"reason"}),
	}
	// Every reason is there from the start, at 0: rate() and alerts see the first one.
	for _, reason := range authFailureReasons {
		m.authFailures.WithLabelValues(reason)
	}
	m.registry.MustRegister(m.requests, m.latency, m.inFlight, m.authFailures,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.replica = newReplicaMetrics(m.registry)
	if pool != nil {
		m.registry.MustRegister(poolCollector{pool})
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		// A collector's error is logged and the rest is served: a scrape with a
		// family missing beats no scrape.
		ErrorLog:      promLogger{logger},
		ErrorHandling: promhttp.ContinueOnError,
		// OpenMetrics stays off: it writes integer bucket bounds as le="1.0" where
		// the text format (and this exposition since it exists) writes le="1", and
		// Prometheus prefers it when offered, which would split the latency series.
	})
	return m
}

func (m *metrics) start() { m.inFlight.Inc() }

// observe records one answered request.
func (m *metrics) observe(method, route string, status int, d time.Duration, authFailure string) {
	if route == "" {
		route = "unmatched"
	}
	if !slices.Contains(knownMethods, method) {
		method = "other"
	}
	m.inFlight.Dec()
	rk := routeKey{method, route}
	v, ok := m.series.Load(rk)
	if !ok {
		v, _ = m.series.LoadOrStore(rk, &routeSeries{latency: m.latency.WithLabelValues(method, route)})
	}
	rs := v.(*routeSeries)
	c, ok := rs.byStatus.Load(status)
	if !ok {
		c, _ = rs.byStatus.LoadOrStore(status, m.requests.WithLabelValues(method, route, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
	rs.latency.Observe(d.Seconds())
	if authFailure != "" {
		m.authFailures.WithLabelValues(authFailure).Inc()
	}
}

var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Auth failure reasons (label values of rowguard_auth_failures_total).
const (
	authMissingToken       = "missing_token"
	authMalformedHeader    = "malformed_header"
	authExpiredToken       = "expired_token"
	authInvalidToken       = "invalid_token"
	authSessionInvalid     = "session_invalid" // revoked session or disabled user (RG401)
	authInvalidCredentials = "invalid_credentials"
	authAccountDisabled    = "account_disabled"
)

var authFailureReasons = []string{authMissingToken, authMalformedHeader, authExpiredToken, authInvalidToken,
	authSessionInvalid, authInvalidCredentials, authAccountDisabled}

// poolCollector reads the connection pool's statistics at each scrape.
type poolCollector struct{ pool *pgxpool.Pool }

var poolDescs = struct {
	max, total, acquired, idle, acquires, emptyAcquires, canceledAcquires, acquireWait *prometheus.Desc
}{
	max:              prometheus.NewDesc("rowguard_db_pool_max_connections", "Largest size of the database connection pool.", nil, nil),
	total:            prometheus.NewDesc("rowguard_db_pool_connections", "Open database connections (idle, in use or being opened).", nil, nil),
	acquired:         prometheus.NewDesc("rowguard_db_pool_acquired_connections", "Database connections in use by requests.", nil, nil),
	idle:             prometheus.NewDesc("rowguard_db_pool_idle_connections", "Idle database connections.", nil, nil),
	acquires:         prometheus.NewDesc("rowguard_db_pool_acquires_total", "Connections handed to requests.", nil, nil),
	emptyAcquires:    prometheus.NewDesc("rowguard_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil),
	canceledAcquires: prometheus.NewDesc("rowguard_db_pool_canceled_acquires_total", "Acquires abandoned because the request ended first.", nil, nil),
	acquireWait:      prometheus.NewDesc("rowguard_db_pool_acquire_wait_seconds_total", "Time spent acquiring connections.", nil, nil),
}

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolDescs.max, poolDescs.total, poolDescs.acquired, poolDescs.idle,
		poolDescs.acquires, poolDescs.emptyAcquires, poolDescs.canceledAcquires, poolDescs.acquireWait} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolDescs.max, float64(st.MaxConns()))
	gauge(poolDescs.total, float64(st.TotalConns()))
	gauge(poolDescs.acquired, float64(st.AcquiredConns()))
	gauge(poolDescs.idle, float64(st.IdleConns()))
	counter(poolDescs.acquires, float64(st.AcquireCount()))
	counter(poolDescs.emptyAcquires, float64(st.EmptyAcquireCount()))
	counter(poolDescs.canceledAcquires, float64(st.CanceledAcquireCount()))
	counter(poolDescs.acquireWait, st.AcquireDuration().Seconds())
}

// promLogger hands promhttp's errors (a collector failing) to the server's log.
type promLogger struct{ logger *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.logger.Error("metrics", slog.String("error", fmt.Sprint(v...)))
}

// GET /metrics on the management listener (and on the API port with MetricsOnAPIPort):
// the Prometheus text format (0.0.4), or protobuf when the scraper asks for it, gzip
// when it accepts it.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) {
	s.metrics.handler.ServeHTTP(w, r)
}

// noteAuthFailure records why authentication failed, for the metrics (once per request).
func noteAuthFailure(r *http.Request, reason string) {
	if info := infoFrom(r.Context()); info != nil && info.authFailure == "" {
		info.authFailure = reason
	}
}
