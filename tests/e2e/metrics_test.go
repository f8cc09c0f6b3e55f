package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// scrape reads /metrics on the management listener into sample name{labels} →
// value (see scrapeAt).
func (e *env) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	return e.scrapeAt(t, e.onManagement())
}

// scrapeAt reads /metrics (on the API port, unless an option says otherwise) into
// sample name{labels} → value, checking the text format line by line (HELP/TYPE
// comments, then "name{labels} value").
func (e *env) scrapeAt(t *testing.T, opts ...reqOption) map[string]float64 {
	t.Helper()
	r := e.do(t, "GET", "/metrics", "", nil, opts...).want(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil || !(strings.HasPrefix(line, "rowguard_") || strings.HasPrefix(line, "go_") || strings.HasPrefix(line, "process_")) {
			t.Fatalf("not a sample line: %q", line)
		}
		samples[line[:i]] = v
	}
	return samples
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Metrics Acme")
	path := "/v1/orgs/" + a.Org.ID + "/projects"
	before := e.scrape(t)

	const lists = 7
	for range lists {
		e.do(t, "GET", path, a.Member.Token, nil).want(t, http.StatusOK)
	}
	e.do(t, "GET", path, "", nil).want(t, http.StatusUnauthorized)
	e.do(t, "GET", path, "x", nil, withHeader("Authorization", "Basic abc")).want(t, http.StatusUnauthorized)
	e.do(t, "GET", path, "not.a.jwt", nil).want(t, http.StatusUnauthorized)
	e.exec(t, `update auth.sessions set revoked_at = now() where id = $1`, a.Admin.SessionID)
	e.do(t, "GET", path, a.Admin.Token, nil).want(t, http.StatusUnauthorized)
	e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": a.Owner.Email, "password": "wrong password"}).want(t, http.StatusUnauthorized)
	e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/nothing-here", a.Member.Token, nil).want(t, http.StatusNotFound)
	// On the API port /metrics is an unknown path (counted as such).
	wantProblem(t, e.do(t, "GET", "/metrics", "", nil), api.ProblemNotFound)

	after := e.scrape(t)
	delta := func(sample string) float64 { return after[sample] - before[sample] }
	for sample, want := range map[string]float64{
		`rowguard_http_requests_total{method="GET",route="/v1/orgs/{org_id}/projects",status="200"}`:               lists,
		`rowguard_http_requests_total{method="GET",route="/v1/orgs/{org_id}/projects",status="401"}`:               4,
		`rowguard_http_requests_total{method="GET",route="unmatched",status="404"}`:                                2,
		`rowguard_http_request_duration_seconds_count{method="GET",route="/v1/orgs/{org_id}/projects"}`:            lists + 4,
		`rowguard_http_request_duration_seconds_bucket{method="GET",route="/v1/orgs/{org_id}/projects",le="+Inf"}`: lists + 4,
		`rowguard_auth_failures_total{reason="missing_token"}`:                                                     1,
		`rowguard_auth_failures_total{reason="malformed_header"}`:                                                  1,
		`rowguard_auth_failures_total{reason="invalid_token"}`:                                                     1,
		`rowguard_auth_failures_total{reason="session_invalid"}`:                                                   1,
		`rowguard_auth_failures_total{reason="invalid_credentials"}`:                                               1,
	} {
		if got := delta(sample); got != want {
			t.Errorf("%s grew by %v, want %v", sample, got, want)
		}
	}
	// Buckets are cumulative and end at the count.
	prev := 0.0
	for _, le := range []string{"0.001", "0.005", "0.05", "0.5", "5", "10", "+Inf"} {
		v := after[`rowguard_http_request_duration_seconds_bucket{method="GET",route="/v1/orgs/{org_id}/projects",le="`+le+`"}`]
		if v < prev {
			t.Errorf("bucket le=%s = %v < %v", le, v, prev)
		}
		prev = v
	}
	if after[`rowguard_db_pool_max_connections`] < 1 || after[`rowguard_db_pool_acquires_total`] < lists ||
		after[`rowguard_db_pool_connections`] < 1 {
		t.Errorf("pool gauges: max %v, acquires %v, connections %v", after[`rowguard_db_pool_max_connections`],
			after[`rowguard_db_pool_acquires_total`], after[`rowguard_db_pool_connections`])
	}
	// The Go runtime's and the process's standard families are there too.
	if after[`go_goroutines`] < 1 || after[`process_resident_memory_bytes`] <= 0 {
		t.Errorf("go_goroutines %v, process_resident_memory_bytes %v", after[`go_goroutines`], after[`process_resident_memory_bytes`])
	}
	// The management listener's own requests (the scrapes) are not API traffic.
	if after[`rowguard_http_requests_in_flight`] != 0 {
		t.Errorf("in flight during the scrape: %v", after[`rowguard_http_requests_in_flight`])
	}
	for sample := range after {
		if strings.Contains(sample, `route="/metrics"`) {
			t.Errorf("a scrape was counted: %s", sample)
		}
	}
	// No raw path or id ever becomes a label.
	for sample := range after {
		if strings.Contains(sample, a.Org.ID) || strings.Contains(sample, "nothing-here") {
			t.Errorf("label holds a raw path: %s", sample)
		}
	}
}

// The management listener serves the operators' endpoints and nothing of the API: not
// its routes, its documents or its keys, whatever the token.
func TestMetricsListenerServesNothingElse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Metrics Listener")
	var health map[string]string
	e.do(t, "GET", "/healthz", "", nil, e.onManagement()).want(t, http.StatusOK).decode(t, &health)
	if health["status"] != "ok" || health["version"] != "e2e" {
		t.Errorf("healthz: %v", health)
	}
	e.do(t, "GET", "/readyz", "", nil, e.onManagement()).want(t, http.StatusOK)
	for _, path := range []string{"/v1/orgs", "/v1/orgs/" + a.Org.ID + "/projects", "/v1/auth/me", "/openapi.json", "/docs",
		"/.well-known/jwks.json", "/metrics/", "/nope"} {
		wantProblem(t, e.do(t, "GET", path, a.Owner.Token, nil, e.onManagement()), api.ProblemNotFound)
	}
	r := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": a.Owner.Email, "password": fixturePassword}, e.onManagement())
	wantProblem(t, r, api.ProblemNotFound)
	r = e.do(t, "DELETE", "/metrics", "", nil, e.onManagement())
	wantProblem(t, r, api.ProblemMethodNotAllowed)
	if allow := r.Header.Get("Allow"); allow != "GET, HEAD" {
		t.Errorf("Allow %q", allow)
	}
	// A management listener needs no token, and a bad one changes nothing.
	e.do(t, "GET", "/metrics", "not.a.jwt", nil, e.onManagement()).want(t, http.StatusOK)
}

// With MetricsOnAPIPort (ROWGUARD_MANAGEMENT_ADDR=api, one port only) /metrics is
// served on the API port too, documented and counted like any API request.
func TestMetricsOnAPIPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) { o.MetricsOnAPIPort = true }))
	e.scrapeAt(t)
	after := e.scrapeAt(t)
	if got := after[`rowguard_http_requests_total{method="GET",route="/metrics",status="200"}`]; got != 1 {
		t.Errorf("scrapes on the API port counted %v, want 1 (the earlier one)", got)
	}
	if got := after[`rowguard_http_requests_in_flight`]; got != 1 {
		t.Errorf("in flight during a scrape on the API port: %v, want 1 (itself)", got)
	}
	if got := e.scrape(t)[`rowguard_http_requests_total{method="GET",route="/metrics",status="200"}`]; got != 2 {
		t.Errorf("the management listener's scrape sees %v scrapes on the API port, want 2", got)
	}
}
