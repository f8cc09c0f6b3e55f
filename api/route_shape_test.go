package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

const shapeTestID = "6f1c2a4e-9b3d-4c5e-8f7a-0b1c2d3e4f5a"

// shapeSample is template with its variables filled in: ids with a UUID, the rest with v.
func shapeSample(template, v string) string {
	segs := strings.Split(template, "/")
	for i, seg := range segs {
		switch {
		case idVar.MatchString(seg):
			segs[i] = shapeTestID
		case strings.Contains(seg, "{"):
			segs[i] = v
		}
	}
	return strings.Join(segs, "/")
}

// shapeCorpus is, for every route, its path filled in and variations around it: a
// segment more or less, trailing and doubled slashes, a bad id, an empty variable,
// each literal segment changed, case changed, other routes' literals in its variables.
func shapeCorpus(routes []registeredRoute) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range []string{"", "/", "//", "/v1", "/v1/", "/v1/orgs/", "/v1//orgs", "/x"} {
		add(p)
	}
	for _, r := range routes {
		for _, v := range []string{"EUR", "2024-01-31", "shop", "deleted", "records", "x/y", ""} {
			p := shapeSample(r.Path, v)
			add(p)
			add(p + "/")
			add(p + "/x")
			add(p + "//")
			add(strings.ToUpper(p))
			if i := strings.LastIndexByte(p, '/'); i > 0 {
				add(p[:i])
			}
			add(strings.ReplaceAll(p, shapeTestID, "not-a-uuid"))
			add(strings.ReplaceAll(p, shapeTestID, ""))
			add(strings.ReplaceAll(p, shapeTestID, strings.ToUpper(shapeTestID)))
			segs := strings.Split(p, "/")
			for i, seg := range segs {
				if seg == "" || seg == shapeTestID {
					continue
				}
				changed := append([]string(nil), segs...)
				changed[i] = seg + "x"
				add(strings.Join(changed, "/"))
				changed[i] = shapeTestID
				add(strings.Join(changed, "/"))
			}
		}
	}
	return out
}

// TestPathShapeIsNecessary: a route's shape admits every path its regexp matches, on
// every route of both listeners and the corpus around them.
func TestPathShapeIsNecessary(t *testing.T) {
	s := newTestServer(t, &bytes.Buffer{})
	for _, rt := range []*routeTable{s.api, s.mgmt} {
		corpus := shapeCorpus(rt.routes)
		for _, r := range rt.routes {
			shape, ok := newPathShape(r.Path)
			if !ok {
				t.Errorf("%s %s: no shape", r.Method, r.Path)
				continue
			}
			for _, p := range corpus {
				if r.pathRE.MatchString(p) && !shape.admits(p) {
					t.Errorf("%s: the shape refuses %q, which the regexp matches", r.Path, p)
				}
			}
		}
	}
}

// TestPathShapeSelects: a path is admitted only by the routes of its template and the
// few whose variables stand where its literals are — the records list (registered
// among the last routes) by its own two (GET, POST) — so a request runs a handful
// of path regexps, not one per route registered before its own.
func TestPathShapeSelects(t *testing.T) {
	s := newTestServer(t, &bytes.Buffer{})
	routes := s.api.routes
	admitting := func(p string) (n int) {
		for _, r := range routes {
			if shape, _ := newPathShape(r.Path); shape.admits(p) {
				n++
			}
		}
		return n
	}
	records := shapeSample("/v1/orgs/{org_id}/projects/{project_id}/records", "")
	if n := admitting(records); n != 2 {
		t.Errorf("%d routes admit %s, want its GET and POST", n, records)
	}
	for _, r := range routes {
		// At most 5: the methods of one template (GET, PATCH, DELETE), and a template
		// with a variable where another has a literal (/v1/orgs/{org_id}, /v1/orgs/deleted).
		if p := shapeSample(r.Path, "EUR"); admitting(p) > 5 {
			t.Errorf("%d of %d routes admit %s", admitting(p), len(routes), p)
		}
	}
	if _, ok := newPathShape("/v1/files/{path:.*}"); ok {
		t.Error("a variable with its own pattern got a shape")
	}
}

// TestRoutingUnchangedByShapes: the routers route every path of the corpus, with
// every method, as a router of the same routes without shapes does: the same route,
// the same variables, the same mismatch (404, 405).
func TestRoutingUnchangedByShapes(t *testing.T) {
	s := newTestServer(t, &bytes.Buffer{})
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions}
	for _, rt := range []*routeTable{s.api, s.mgmt} {
		plain := mux.NewRouter()
		plain.NotFoundHandler = http.NotFoundHandler()
		plain.MethodNotAllowedHandler = http.NotFoundHandler()
		for _, r := range rt.routes {
			ms := []string{r.Method}
			if r.Method == http.MethodGet {
				ms = append(ms, http.MethodHead)
			}
			plain.Path(idVar.ReplaceAllString(r.Path, `{$1:`+uuidPattern+`}`)).Methods(ms...).
				Handler(http.NotFoundHandler()).Name(r.Path)
		}
		for _, p := range shapeCorpus(rt.routes) {
			for _, m := range methods {
				req := httptest.NewRequest(m, "/", nil)
				req.URL.Path = p
				var got, want mux.RouteMatch
				gotOK, wantOK := rt.router.Match(req, &got), plain.Match(req, &want)
				name := func(m mux.RouteMatch) string {
					if m.Route == nil {
						return ""
					}
					return m.Route.GetName()
				}
				if gotOK != wantOK || got.MatchErr != want.MatchErr || name(got) != name(want) || !reflect.DeepEqual(got.Vars, want.Vars) {
					t.Errorf("%s %q: routed to %q %v %v (%v), without shapes %q %v %v (%v)", m, p,
						name(got), got.Vars, got.MatchErr, gotOK, name(want), want.Vars, want.MatchErr, wantOK)
				}
			}
		}
	}
}

// BenchmarkRouteRecordsList routes GET …/records (one of the last routes registered)
// through the API router, to a handler that does nothing.
func BenchmarkRouteRecordsList(b *testing.B) {
	s := newTestServer(b, &bytes.Buffer{})
	req := httptest.NewRequest(http.MethodGet, shapeSample("/v1/orgs/{org_id}/projects/{project_id}/records", "")+"?limit=50", nil)
	b.ReportAllocs()
	for b.Loop() {
		var m mux.RouteMatch
		if !s.api.router.Match(req, &m) || m.Route.GetName() != "/v1/orgs/{org_id}/projects/{project_id}/records" {
			b.Fatal("not routed to the records list")
		}
	}
}
