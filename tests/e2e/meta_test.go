package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
)

// Every route the router serves is documented in openapi.json, every
// documented operation is served, and every protected one documents its 401; the
// same for the management listener, whose operations the document places there.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spec, err := apitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	var routed, public []string
	for _, r := range e.server.Routes() {
		op := r.Method + " " + r.Path
		routed = append(routed, op)
		if !r.Auth {
			public = append(public, op)
		}
		if _, err := spec.Response(r.Method, r.Path, http.StatusOK); err != nil && strings.Contains(err.Error(), "not documented") {
			t.Errorf("route %s is not documented", op)
		}
		if r.Auth && !documentedStatuses(t)[op]["401"] {
			t.Errorf("protected route %s does not document 401", op)
		}
	}
	slices.Sort(routed)
	if documented := spec.OperationsOn(apitest.ListenerAPI); !slices.Equal(routed, documented) {
		t.Errorf("router and openapi.json disagree:\nrouted:     %v\ndocumented: %v", routed, documented)
	}
	var managed []string
	for _, r := range e.server.ManagementRoutes() {
		managed = append(managed, r.Method+" "+r.Path)
		if r.Auth {
			t.Errorf("management route %s requires a token", r.Method+" "+r.Path)
		}
	}
	slices.Sort(managed)
	if documented := spec.OperationsOn(apitest.ListenerManagement); !slices.Equal(managed, documented) {
		t.Errorf("management router and openapi.json disagree:\nrouted:     %v\ndocumented: %v", managed, documented)
	}
	// Exactly these answer without a token.
	slices.Sort(public)
	wantPublic := []string{
		"GET /.well-known/jwks.json", "POST /v1/auth/refresh",
		"GET /docs", "GET /docs/docs.css", "GET /docs/docs.js", "GET /docs/swagger-ui/swagger-ui-bundle.js",
		"GET /docs/swagger-ui/swagger-ui.css", "GET /healthz", "GET /openapi.json",
		"GET /readyz", "POST /v1/auth/login", "POST /v1/auth/register", "POST /v1/auth/register/verify",
		"POST /v1/auth/restore",    // the password is the credential, as at login
		"POST /v1/billing/webhook", // authenticated by the provider's HMAC signature, not a token
	}
	wantPublic = append(wantPublic, passwordlessRoutes...) // sign_in_code_test.go
	slices.Sort(wantPublic)
	if !slices.Equal(public, wantPublic) {
		t.Errorf("public routes %v, want %v", public, wantPublic)
	}
}

func TestMetaEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	var health map[string]string
	e.do(t, "GET", "/healthz", "", nil).want(t, http.StatusOK).decode(t, &health)
	if health["status"] != "ok" || health["version"] != "e2e" {
		t.Errorf("healthz: %v", health)
	}

	var ready map[string]string
	e.do(t, "GET", "/readyz", "", nil).want(t, http.StatusOK).decode(t, &ready)
	if ready["status"] != "ready" {
		t.Errorf("readyz: %v", ready)
	}

	r := e.do(t, "GET", "/openapi.json", "", nil).want(t, http.StatusOK)
	if string(r.Body) != string(api.OpenAPI()) {
		t.Error("/openapi.json is not the embedded document")
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	r.decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") || len(doc.Paths) == 0 {
		t.Errorf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}

	for path, ct := range map[string]string{
		"/docs": "text/html", "/docs/docs.js": "text/javascript", "/docs/docs.css": "text/css",
		"/docs/swagger-ui/swagger-ui-bundle.js": "text/javascript", "/docs/swagger-ui/swagger-ui.css": "text/css",
	} {
		r := e.do(t, "GET", path, "", nil).want(t, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), ct) || len(r.Body) == 0 {
			t.Errorf("%s: Content-Type %q, %d bytes", path, r.Header.Get("Content-Type"), len(r.Body))
		}
	}
	// The docs page works offline: it loads nothing from another origin.
	page := string(e.do(t, "GET", "/docs", "", nil).Body)
	if !strings.Contains(strings.ToLower(page), "<html") || strings.Contains(page, "https://cdn") || strings.Contains(page, "src=\"http") {
		t.Errorf("/docs is not a self-contained page:\n%.400s", page)
	}
}

// With its database gone the server is not ready (503, a problem with
// Retry-After) but still healthy.
func TestReadyzWithoutDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pool.Close()
	e.logs.expect("status=503") // the access log reports every 5xx at Error level
	e.logs.expect("database unavailable")
	r := e.do(t, "GET", "/readyz", "", nil)
	wantProblem(t, r, api.ProblemUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: no Retry-After", r)
	}
	e.do(t, "GET", "/healthz", "", nil).want(t, http.StatusOK)
	// The same on the management listener.
	wantProblem(t, e.do(t, "GET", "/readyz", "", nil, e.onManagement()), api.ProblemUnavailable)
	e.do(t, "GET", "/healthz", "", nil, e.onManagement()).want(t, http.StatusOK)
	// Sign-in, too, says 503 rather than 500 or 401.
	r = e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": "a@example.com", "password": "whatever1"})
	wantProblem(t, r, api.ProblemUnavailable)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, o := e.register(t, "nomad", "Nomad Inc")

	for _, path := range []string{"/nope", "/v1", "/v1/orgs/not-a-uuid", "/v1/orgs/" + o.ID + "/projects/42", "/v1/orgs/" + o.ID + "/nope"} {
		r := e.do(t, "GET", path, u.Token, nil)
		wantProblem(t, r, api.ProblemNotFound)
	}
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/v1/orgs", "GET, HEAD, POST"},
		{"PUT", "/healthz", "GET, HEAD"},
		{"DELETE", "/healthz", "GET, HEAD"},
		{"GET", "/v1/auth/login", "POST"},
		{"POST", "/v1/orgs/" + o.ID, "GET, HEAD, PATCH, DELETE"},
		{"PUT", "/v1/orgs/" + o.ID + "/projects", "GET, HEAD, POST"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := e.do(t, c.method, c.path, u.Token, nil)
			if r.Status == http.StatusNotFound {
				// A route registered later with the same method (but another
				// path) resets gorilla/mux's method-mismatch state.
				t.Fatalf("%s answers 404 instead of 405", r)
			}
			wantProblem(t, r, api.ProblemMethodNotAllowed)
			if got := r.Header.Get("Allow"); got != c.allow {
				t.Errorf("%s: Allow %q, want %q", r, got, c.allow)
			}
		})
	}
}

// A sane X-Request-Id from the client is kept (header and problem); anything
// else is replaced by a fresh id.
func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(t, "GET", "/v1/auth/me", "", nil, withHeader(api.RequestIDHeader, "trace-42.abc"))
	if got := r.Header.Get(api.RequestIDHeader); got != "trace-42.abc" || r.problem(t).RequestID != "trace-42.abc" {
		t.Errorf("request id %q / %q", got, r.problem(t).RequestID)
	}
	for _, bad := range []string{"has space", strings.Repeat("x", 129), "quote\"", "new\u2028line"} {
		r := e.do(t, "GET", "/v1/auth/me", "", nil, withHeader(api.RequestIDHeader, bad))
		if got := r.Header.Get(api.RequestIDHeader); got == bad || got == "" {
			t.Errorf("request id %q kept as %q", bad, got)
		}
	}
	// Two requests, two ids.
	a := e.do(t, "GET", "/healthz", "", nil).Header.Get(api.RequestIDHeader)
	b := e.do(t, "GET", "/healthz", "", nil).Header.Get(api.RequestIDHeader)
	if a == b {
		t.Errorf("two requests share the id %s", a)
	}
}
