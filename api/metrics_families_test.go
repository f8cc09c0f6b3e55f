package api_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
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
