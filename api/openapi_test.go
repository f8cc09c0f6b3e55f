package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
)

// Every registered route is documented under the listener that serves it, and every
// documented operation is registered there: the API handler serves the API port's
// operations (and /metrics too with MetricsOnAPIPort), the management handler the
// management listener's.
func TestRoutesMatchOpenAPI(t *testing.T) {
	spec, err := apitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	ops := func(routes []api.Route) []string {
		var out []string
		for _, r := range routes {
			out = append(out, r.Method+" "+r.Path)
		}
		sort.Strings(out)
		return out
	}
	compare := func(what string, registered, documented []string) {
		for _, op := range registered {
			if !slices.Contains(documented, op) {
				t.Errorf("%s: route %s is registered but not documented there in openapi.json", what, op)
			}
		}
		for _, op := range documented {
			if !slices.Contains(registered, op) {
				t.Errorf("%s: operation %s is documented there in openapi.json but not registered", what, op)
			}
		}
	}
	f := newFixture(t)
	compare("API port", ops(f.srv.Routes()), spec.OperationsOn(apitest.ListenerAPI))
	compare("management listener", ops(f.srv.ManagementRoutes()), spec.OperationsOn(apitest.ListenerManagement))
	onAPI := newFixture(t, func(o *api.Options) { o.MetricsOnAPIPort = true })
	compare("API port with MetricsOnAPIPort", ops(onAPI.srv.Routes()), append(spec.OperationsOn(apitest.ListenerAPI), "GET /metrics"))
	compare("management listener with MetricsOnAPIPort", ops(onAPI.srv.ManagementRoutes()), spec.OperationsOn(apitest.ListenerManagement))
}

type openapiDoc struct {
	Security []map[string][]string                 `json:"security"`
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
	Comps    struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	Security  *[]map[string][]string     `json:"security"`
	Responses map[string]json.RawMessage `json:"responses"`
}

func loadDoc(t *testing.T) openapiDoc {
	t.Helper()
	var d openapiDoc
	if err := json.Unmarshal(api.OpenAPI(), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// Security in the document matches the router: public routes declare
// security: [], authenticated ones inherit bearerAuth and document 401.
func TestOpenAPISecurityMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	d := loadDoc(t)
	for _, r := range append(f.srv.Routes(), f.srv.ManagementRoutes()...) {
		var op operation
		if err := json.Unmarshal(d.Paths[r.Path][strings.ToLower(r.Method)], &op); err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public == r.Auth {
			t.Errorf("%s %s: router auth=%v, document public=%v", r.Method, r.Path, r.Auth, public)
		}
		if _, ok := op.Responses["401"]; r.Auth && !ok {
			t.Errorf("%s %s requires a token but documents no 401", r.Method, r.Path)
		}
		if _, ok := op.Responses["default"]; !ok {
			t.Errorf("%s %s has no default (problem) response", r.Method, r.Path)
		}
	}
}

// Every response schema in the document compiles (all $refs resolve).
func TestOpenAPISchemasCompile(t *testing.T) {
	spec, err := apitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	d := loadDoc(t)
	for _, op := range spec.Operations() {
		method, path, _ := strings.Cut(op, " ")
		var o operation
		if err := json.Unmarshal(d.Paths[path][strings.ToLower(method)], &o); err != nil {
			t.Fatal(err)
		}
		for code := range o.Responses {
			status := 599
			if code != "default" {
				status, _ = strconv.Atoi(code)
			}
			rs, err := spec.Response(method, path, status)
			if err != nil {
				t.Errorf("%s %s: %v", op, code, err)
				continue
			}
			for mt := range rs.Content {
				if !strings.HasSuffix(mt, "json") {
					continue
				}
				// An empty object is never valid for our fixed shapes; what
				// matters is that compilation (inside ValidateBody) succeeds.
				err := spec.ValidateBody(method, path, status, mt, []byte(`{}`))
				if err != nil && strings.Contains(err.Error(), "compiling") {
					t.Errorf("%s %s %s: %v", op, code, mt, err)
				}
			}
		}
	}
}

// The Problem schema's type enum and the Go problem kinds are the same set.
func TestProblemTypesDocumented(t *testing.T) {
	d := loadDoc(t)
	var problem struct {
		Description string `json:"description"`
		Properties  struct {
			Type struct {
				Enum []string `json:"enum"`
			} `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(d.Comps.Schemas["Problem"], &problem); err != nil {
		t.Fatal(err)
	}
	// The table is in the API description, shown once on /docs, not in
	// the schema, which every error response of every operation repeats.
	var info struct {
		Info struct {
			Description string `json:"description"`
		} `json:"info"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &info); err != nil {
		t.Fatal(err)
	}
	problem.Description = info.Info.Description
	var kinds []string
	for _, k := range api.ProblemKinds() {
		kinds = append(kinds, k.Type())
		if !strings.Contains(problem.Description, "| `"+k.Type()+"` | "+strconv.Itoa(k.Status)+" |") {
			t.Errorf("problem %s (%d) missing from the problem table in info.description", k.Slug, k.Status)
		}
	}
	sort.Strings(kinds)
	doc := slices.Clone(problem.Properties.Type.Enum)
	sort.Strings(doc)
	if !slices.Equal(kinds, doc) {
		t.Errorf("problem types differ:\n go:  %v\n doc: %v", kinds, doc)
	}
}

// Shapes the contract fixes are closed: additionalProperties false.
func TestOpenAPIShapesClosed(t *testing.T) {
	d := loadDoc(t)
	for name, raw := range d.Comps.Schemas {
		var s struct {
			Type                 any   `json:"type"`
			AdditionalProperties *bool `json:"additionalProperties"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if s.Type == "object" && (s.AdditionalProperties == nil || *s.AdditionalProperties) {
			t.Errorf("schema %s is an open object", name)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/openapi.json"})
	body := apitest.Validate(t, resp, "/openapi.json")
	if resp.StatusCode != http.StatusOK || string(body) != string(api.OpenAPI()) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	var v struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, %v", v.OpenAPI, err)
	}
}

// The docs page works offline: it and its assets are served from the
// binary, under a CSP that allows nothing from another origin and neither
// 'unsafe-eval' nor 'unsafe-inline'. (That the page also never tries is
// checked in a browser: TestDocsRenderInBrowser.)
func TestDocsSelfContained(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ path, ctype, must string }{
		{"/docs", "text/html; charset=utf-8", `src="/docs/swagger-ui/swagger-ui-bundle.js"`},
		{"/docs/docs.js", "text/javascript; charset=utf-8", `url: "/openapi.json"`},
		{"/docs/docs.css", "text/css; charset=utf-8", "font-family"},
		{"/docs/swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/docs/swagger-ui/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"},
	} {
		resp := f.do(req{method: http.MethodGet, path: c.path})
		body := apitest.Validate(t, resp, c.path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.ctype {
			t.Fatalf("%s: %d %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(string(body), c.must) {
			t.Errorf("%s lacks %q", c.path, c.must)
		}
		if !strings.Contains(c.path, "swagger-ui/") { // our own files
			for _, ext := range []string{"http://", "https://", "//cdn", "@import"} {
				if strings.Contains(string(body), ext) {
					t.Errorf("%s references an external resource (%q)", c.path, ext)
				}
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self';") ||
			!strings.Contains(csp, "connect-src 'self';") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s CSP = %q", c.path, csp)
		}
		// The 1.7 MB bundle is revalidated, not downloaded again.
		etag := resp.Header.Get("ETag")
		again := f.do(req{method: http.MethodGet, path: c.path, header: map[string]string{"If-None-Match": etag}})
		if etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("%s: ETag %q, revalidation answered %d", c.path, etag, again.StatusCode)
		}
	}
}
