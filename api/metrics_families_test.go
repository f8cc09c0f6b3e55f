package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
)

// metricsGolden is /metrics as the hand-written exposition answered the traffic of
// scrapeForGolden (captured on main at 7c01b73, before prometheus/client_golang).
// Dashboards and alerts are written against these names: every family must keep its
// type and help text, and every series (sample name and label set) must still appear.
// Families may be added; none may be renamed or lose a label.
const metricsGolden = "testdata/metrics-hand-written.prom"

// scrapeForGolden answers a fixed set of requests on a Server whose pool never
// connects (so the pool families are there, with deterministic series), then scrapes
// the management handler.
func scrapeForGolden(t *testing.T) string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "host=/nonexistent-rowguard-socket user=nobody dbname=none connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := newFixture(t, func(o *api.Options) { o.Pool = pool })
	for _, r := range []req{
		{method: http.MethodGet, path: "/healthz"},
		{method: http.MethodGet, path: "/healthz"},
		{method: http.MethodGet, path: "/nope"},
		{method: http.MethodPost, path: "/healthz", body: `{}`},
		{method: "BREW", path: "/healthz"},
		{method: http.MethodGet, path: "/v1/orgs"},
		{method: http.MethodGet, path: "/v1/orgs", header: map[string]string{"Authorization": "Basic abc"}},
		{method: http.MethodGet, path: "/v1/orgs", header: map[string]string{"Authorization": "Bearer not.a.jwt"}},
		{method: http.MethodGet, path: "/openapi.json"},
		{method: http.MethodGet, path: "/metrics", management: true},
		{method: http.MethodGet, path: "/healthz", management: true},
	} {
		io.Copy(io.Discard, f.do(r).Body)
	}
	resp := f.do(req{method: http.MethodGet, path: "/metrics", management: true})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

type metricFamily struct {
	help, typ string
	series    map[string]bool // sample name{sorted label pairs}, values left out
}

// parseExposition reads the Prometheus text format (0.0.4) line by line, as a
// scraper would, into families by name.
func parseExposition(t *testing.T, text string) map[string]*metricFamily {
	t.Helper()
	families := map[string]*metricFamily{}
	family := func(name string) *metricFamily {
		if families[name] == nil {
			families[name] = &metricFamily{series: map[string]bool{}}
		}
		return families[name]
	}
	var current string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, help, _ := strings.Cut(rest, " ")
			family(name).help = help
			current = name
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			family(name).typ = typ
			current = name
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, ok := parseSample(line)
		if !ok || current == "" || !strings.HasPrefix(name, current) {
			t.Fatalf("not a sample line of family %q: %q", current, line)
		}
		family(current).series[name+"{"+strings.Join(labels, ",")+"}"] = true
	}
	return families
}

// parseSample splits `name{a="x",b="y"} value` into the name and its sorted label
// pairs (escapes kept as written).
func parseSample(line string) (name string, labels []string, ok bool) {
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, false
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return "", nil, false
			}
			j := eq + 2
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' {
					j++
				}
			}
			if j >= len(rest) {
				return "", nil, false
			}
			labels = append(labels, rest[:j+1])
			rest = strings.TrimPrefix(rest[j+1:], ",")
		}
		rest = rest[1:]
	}
	slices.Sort(labels)
	return name, labels, strings.HasPrefix(rest, " ") && len(strings.TrimSpace(rest)) > 0
}

// Every family, help text and series of the hand-written exposition is still there.
func TestMetricsKeepTheirNames(t *testing.T) {
	golden, err := os.ReadFile(metricsGolden)
	if err != nil {
		t.Fatal(err)
	}
	want := parseExposition(t, string(golden))
	if len(want) != 12 {
		t.Fatalf("%d families in %s, want 12", len(want), metricsGolden)
	}
	got := parseExposition(t, scrapeForGolden(t))
	for name, w := range want {
		g := got[name]
		if g == nil {
			t.Errorf("family %s is gone", name)
			continue
		}
		if g.typ != w.typ || g.help != w.help {
			t.Errorf("family %s: %s %q, want %s %q", name, g.typ, g.help, w.typ, w.help)
		}
		for s := range w.series {
			if !g.series[s] {
				t.Errorf("series %s is gone", s)
			}
		}
	}
}

// Beside rowguard's families: the Go runtime's and the process's standard ones, and the
// negotiation a scraper expects (protobuf when asked, gzip when accepted, the text
// format otherwise).
func TestMetricsStandardFamilies(t *testing.T) {
	f := newFixture(t)
	f.do(req{method: http.MethodGet, path: "/healthz"})
	resp := f.do(req{method: http.MethodGet, path: "/metrics", management: true})
	body := string(apitest.Validate(t, resp, "/metrics"))
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	got := parseExposition(t, body)
	for name, typ := range map[string]string{
		"go_goroutines":                 "gauge",
		"go_gc_duration_seconds":        "summary",
		"go_memstats_heap_alloc_bytes":  "gauge",
		"go_info":                       "gauge",
		"process_resident_memory_bytes": "gauge",
		"process_cpu_seconds_total":     "counter",
		"process_open_fds":              "gauge",
		"process_start_time_seconds":    "gauge",
	} {
		if got[name] == nil || got[name].typ != typ || len(got[name].series) == 0 {
			t.Errorf("family %s: %+v, want a %s", name, got[name], typ)
		}
	}
	for _, sample := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if v, err := strconv.ParseFloat(scrapeCount(t, body, sample), 64); err != nil || v <= 0 {
			t.Errorf("%s = %s", sample, scrapeCount(t, body, sample))
		}
	}
	// No pool, no pool families (as before).
	for name := range got {
		if strings.HasPrefix(name, "rowguard_db_pool_") {
			t.Errorf("family %s without a pool", name)
		}
	}

	resp = f.do(req{method: http.MethodGet, path: "/metrics", management: true, header: map[string]string{
		"Accept": "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
	}})
	b := apitest.Validate(t, resp, "/metrics")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf;") || len(b) == 0 || bytes.Contains(b, []byte("# HELP")) {
		t.Errorf("protobuf asked: Content-Type %q, %d bytes", ct, len(b))
	}

	resp = f.do(req{method: http.MethodGet, path: "/metrics", management: true, header: map[string]string{"Accept-Encoding": "gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip accepted: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(zr); err != nil || !strings.Contains(string(b), "# TYPE rowguard_http_requests_total counter") {
		t.Errorf("gzip body: %v\n%.200s", err, b)
	}
}
