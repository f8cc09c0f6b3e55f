package e2e

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scrape reads /metrics into sample name{labels} → value, checking the text
// format line by line (HELP/TYPE comments, then "name{labels} value").
func (e *env) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	r := e.do(t, "GET", "/metrics", "", nil).want(t, http.StatusOK)
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
		if i < 0 || err != nil || !strings.HasPrefix(line, "rowguard_") {
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

	after := e.scrape(t)
	delta := func(sample string) float64 { return after[sample] - before[sample] }
	for sample, want := range map[string]float64{
		`rowguard_http_requests_total{method="GET",route="/v1/orgs/{org_id}/projects",status="200"}`:               lists,
		`rowguard_http_requests_total{method="GET",route="/v1/orgs/{org_id}/projects",status="401"}`:               4,
		`rowguard_http_requests_total{method="GET",route="unmatched",status="404"}`:                                1,
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
	if after[`rowguard_http_requests_in_flight`] != 1 { // the scrape itself
		t.Errorf("in flight during the scrape: %v", after[`rowguard_http_requests_in_flight`])
	}
	// No raw path or id ever becomes a label.
	for sample := range after {
		if strings.Contains(sample, a.Org.ID) || strings.Contains(sample, "nothing-here") {
			t.Errorf("label holds a raw path: %s", sample)
		}
	}
}
