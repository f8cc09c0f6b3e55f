package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
)

// scrapeCount returns the value of one sample line of a /metrics answer (-1: absent).
func scrapeCount(t *testing.T, body, sample string) string {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return "-1"
}

// The management handler serves /metrics, /healthz and /readyz and nothing else; the
// API handler no longer serves /metrics. The metrics count the API handler's requests,
// not the management handler's own.
func TestManagementHandler(t *testing.T) {
	f := newFixture(t)

	// On the API handler /metrics is an unknown path, like any other.
	f.problem(f.do(req{method: http.MethodGet, path: "/metrics"}), "/v1/orgs/{org_id}", api.ProblemNotFound)
	f.do(req{method: http.MethodGet, path: "/healthz"})
	f.do(req{method: http.MethodGet, path: "/v1/orgs", auth: true}) // 503: no database

	resp := f.do(req{method: http.MethodGet, path: "/metrics", management: true})
	body := string(apitest.Validate(t, resp, "/metrics"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") ||
		resp.Header.Get(api.RequestIDHeader) == "" {
		t.Fatalf("management /metrics: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get(api.RequestIDHeader))
	}
	for sample, want := range map[string]string{
		`rowguard_http_requests_total{method="GET",route="unmatched",status="404"}`:   "1",
		`rowguard_http_requests_total{method="GET",route="/healthz",status="200"}`:    "1",
		`rowguard_http_requests_total{method="GET",route="/v1/orgs",status="503"}`:    "1",
		`rowguard_http_requests_total{method="GET",route="/metrics",status="200"}`:    "-1", // the scrape itself
		`rowguard_http_request_duration_seconds_count{method="GET",route="/healthz"}`: "1",
		`rowguard_http_requests_in_flight`:                                            "0",
		`rowguard_auth_failures_total{reason="missing_token"}`:                        "0",
	} {
		if got := scrapeCount(t, body, sample); got != want {
			t.Errorf("%s = %s, want %s", sample, got, want)
		}
	}

	// Health and readiness on the management handler too (readiness fails without a database).
	resp = f.do(req{method: http.MethodGet, path: "/healthz", management: true})
	if b := apitest.Validate(t, resp, "/healthz"); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"test-1"`) {
		t.Errorf("management /healthz: %d %s", resp.StatusCode, b)
	}
	f.problem(f.do(req{method: http.MethodGet, path: "/readyz", management: true}), "/readyz", api.ProblemUnavailable)

	// Nothing else: not the API, not its documents; wrong methods answer 405.
	for _, path := range []string{"/v1/orgs", "/v1/auth/login", "/openapi.json", "/docs", "/.well-known/jwks.json", "/metrics/", "/nope"} {
		f.problem(f.do(req{method: http.MethodGet, path: path, auth: true, management: true}), "/v1/orgs/{org_id}", api.ProblemNotFound)
	}
	resp = f.do(req{method: http.MethodPost, path: "/metrics", body: `{}`, management: true})
	resp.Request.Method = http.MethodGet // a 405's method is undocumented by definition
	f.problem(resp, "/metrics", api.ProblemMethodNotAllowed)
	if allow := resp.Header.Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow %q", allow)
	}

	// None of that was counted; the management handler's requests are logged at debug,
	// marked as such.
	body = string(apitest.Validate(t, f.do(req{method: http.MethodGet, path: "/metrics", management: true}), "/metrics"))
	if got := scrapeCount(t, body, `rowguard_http_requests_total{method="GET",route="unmatched",status="404"}`); got != "1" {
		t.Errorf("unmatched 404s = %s after the management handler's: they were counted", got)
	}
	var mgmtLines int
	for _, l := range f.logs.lines(t) {
		if l["msg"] != "request" {
			continue
		}
		if l["listener"] == "management" {
			mgmtLines++
			if l["level"] != "DEBUG" && l["status"] != float64(http.StatusServiceUnavailable) {
				t.Errorf("management request logged at %v: %v", l["level"], l)
			}
		} else if l["level"] == "DEBUG" {
			t.Errorf("API request logged at debug: %v", l)
		}
	}
	if mgmtLines != 12 {
		t.Errorf("%d management request lines, want 12", mgmtLines)
	}
}

// MetricsOnAPIPort (ROWGUARD_MANAGEMENT_ADDR=api) serves /metrics on the API handler as
// well, counted like any API request.
func TestMetricsOnAPIPort(t *testing.T) {
	f := newFixture(t, func(o *api.Options) { o.MetricsOnAPIPort = true })
	f.do(req{method: http.MethodGet, path: "/metrics"})
	resp := f.do(req{method: http.MethodGet, path: "/metrics"})
	body := string(apitest.Validate(t, resp, "/metrics"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics on the API handler: %d %s", resp.StatusCode, body)
	}
	if got := scrapeCount(t, body, `rowguard_http_requests_total{method="GET",route="/metrics",status="200"}`); got != "1" {
		t.Errorf("earlier scrapes on the API port counted %s, want 1", got)
	}
	if got := scrapeCount(t, body, `rowguard_http_requests_in_flight`); got != "1" {
		t.Errorf("in flight during a scrape on the API port: %s, want 1 (itself)", got)
	}
	resp = f.do(req{method: http.MethodGet, path: "/metrics", management: true})
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `route="/metrics",status="200"} 2`) {
		t.Errorf("management /metrics: %d %s", resp.StatusCode, b)
	}
}
