package api

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The Prometheus text exposition (format 0.0.4) is written here by hand: four metric
// families do not justify prometheus/client_golang and its dependency tree.

// latencyBuckets are the upper bounds (seconds) of the request latency histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics counts what the API port's access log sees (not the management listener's
// own requests). Labels are bounded: route is a path template ("" for unrouted paths
// is reported as "unmatched"), never a raw path.
type metrics struct {
	mu           sync.Mutex
	requests     map[requestKey]uint64   // by method, route, status
	latency      map[routeKey]*histogram // by method, route
	authFailures map[string]uint64       // by reason
	inFlight     int64
}

type routeKey struct{ method, route string }

type requestKey struct {
	routeKey
	status int
}

type histogram struct {
	counts []uint64 // per bucket (not cumulative); the last is +Inf
	sum    float64
	count  uint64
}

func newMetrics() *metrics {
	return &metrics{
		requests:     map[requestKey]uint64{},
		latency:      map[routeKey]*histogram{},
		authFailures: map[string]uint64{},
	}
}

func (m *metrics) start() {
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
}

// observe records one answered request.
func (m *metrics) observe(method, route string, status int, d time.Duration, authFailure string) {
	if route == "" {
		route = "unmatched"
	}
	if !slices.Contains(knownMethods, method) {
		method = "other"
	}
	rk := routeKey{method, route}
	secs := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	m.requests[requestKey{rk, status}]++
	h := m.latency[rk]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[rk] = h
	}
	i, _ := slices.BinarySearch(latencyBuckets, secs)
	h.counts[i]++
	h.sum += secs
	h.count++
	if authFailure != "" {
		m.authFailures[authFailure]++
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

func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// write renders every family, sorted so that scrapes are stable.
func (m *metrics) write(w io.Writer, pool *pgxpool.Pool) {
	var b strings.Builder
	m.mu.Lock()
	b.WriteString("# HELP rowguard_http_requests_total HTTP requests answered, by method, route template and status.\n")
	b.WriteString("# TYPE rowguard_http_requests_total counter\n")
	reqKeys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		reqKeys = append(reqKeys, k)
	}
	slices.SortFunc(reqKeys, func(a, c requestKey) int {
		return strings.Compare(fmt.Sprint(a.route, a.method, a.status), fmt.Sprint(c.route, c.method, c.status))
	})
	for _, k := range reqKeys {
		fmt.Fprintf(&b, "rowguard_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %d\n",
			labelValue(k.method), labelValue(k.route), k.status, m.requests[k])
	}

	b.WriteString("# HELP rowguard_http_request_duration_seconds Time to answer a request, by method and route template.\n")
	b.WriteString("# TYPE rowguard_http_request_duration_seconds histogram\n")
	latKeys := make([]routeKey, 0, len(m.latency))
	for k := range m.latency {
		latKeys = append(latKeys, k)
	}
	slices.SortFunc(latKeys, func(a, c routeKey) int { return strings.Compare(a.route+" "+a.method, c.route+" "+c.method) })
	for _, k := range latKeys {
		h := m.latency[k]
		labels := fmt.Sprintf("method=\"%s\",route=\"%s\"", labelValue(k.method), labelValue(k.route))
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "rowguard_http_request_duration_seconds_bucket{%s,le=\"%s\"} %d\n", labels, formatFloat(le), cum)
		}
		fmt.Fprintf(&b, "rowguard_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.count)
		fmt.Fprintf(&b, "rowguard_http_request_duration_seconds_sum{%s} %s\n", labels, formatFloat(h.sum))
		fmt.Fprintf(&b, "rowguard_http_request_duration_seconds_count{%s} %d\n", labels, h.count)
	}

	b.WriteString("# HELP rowguard_http_requests_in_flight Requests being answered now.\n")
	b.WriteString("# TYPE rowguard_http_requests_in_flight gauge\n")
	fmt.Fprintf(&b, "rowguard_http_requests_in_flight %d\n", m.inFlight)

	b.WriteString("# HELP rowguard_auth_failures_total Refused authentications, by reason.\n")
	b.WriteString("# TYPE rowguard_auth_failures_total counter\n")
	for _, reason := range []string{authMissingToken, authMalformedHeader, authExpiredToken, authInvalidToken,
		authSessionInvalid, authInvalidCredentials, authAccountDisabled} {
		fmt.Fprintf(&b, "rowguard_auth_failures_total{reason=\"%s\"} %d\n", reason, m.authFailures[reason])
	}
	m.mu.Unlock()

	if pool != nil {
		st := pool.Stat()
		for _, g := range []struct {
			name, typ, help string
			value           string
		}{
			{"rowguard_db_pool_max_connections", "gauge", "Largest size of the database connection pool.", strconv.Itoa(int(st.MaxConns()))},
			{"rowguard_db_pool_connections", "gauge", "Open database connections (idle, in use or being opened).", strconv.Itoa(int(st.TotalConns()))},
			{"rowguard_db_pool_acquired_connections", "gauge", "Database connections in use by requests.", strconv.Itoa(int(st.AcquiredConns()))},
			{"rowguard_db_pool_idle_connections", "gauge", "Idle database connections.", strconv.Itoa(int(st.IdleConns()))},
			{"rowguard_db_pool_acquires_total", "counter", "Connections handed to requests.", strconv.FormatInt(st.AcquireCount(), 10)},
			{"rowguard_db_pool_empty_acquires_total", "counter", "Acquires that had to wait for a connection.", strconv.FormatInt(st.EmptyAcquireCount(), 10)},
			{"rowguard_db_pool_canceled_acquires_total", "counter", "Acquires abandoned because the request ended first.", strconv.FormatInt(st.CanceledAcquireCount(), 10)},
			{"rowguard_db_pool_acquire_wait_seconds_total", "counter", "Time spent acquiring connections.", formatFloat(st.AcquireDuration().Seconds())},
		} {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", g.name, g.help, g.name, g.typ, g.name, g.value)
		}
	}
	_, _ = io.WriteString(w, b.String())
}

// GET /metrics on the management listener (and on the API port with MetricsOnAPIPort):
// Prometheus text format.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w, s.pool)
}

// noteAuthFailure records why authentication failed, for the metrics (once per request).
func noteAuthFailure(r *http.Request, reason string) {
	if info := infoFrom(r.Context()); info != nil && info.authFailure == "" {
		info.authFailure = reason
	}
}
