package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

const (
	corsApp   = "https://app.example.com"
	corsLocal = "http://localhost:5173"
	corsEvil  = "https://evil.example"
)

// corsHeaders are the response headers of the CORS protocol.
func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// varies reports whether the answer's Vary names field.
func varies(h http.Header, field string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}

// browserAllows is the browser's check of a preflight's answer (Fetch standard, "CORS
// check" and "CORS-preflight fetch"): an ok status, Access-Control-Allow-Origin naming
// the page's origin (or "*" without credentials), the method and every non-safelisted
// request header listed.
func browserAllows(r *response, origin, method string, headers ...string) bool {
	if r.Status < 200 || r.Status > 299 {
		return false
	}
	acao := r.Header.Get("Access-Control-Allow-Origin")
	if acao != origin && (acao != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "") {
		return false
	}
	list := func(name string) []string {
		var out []string
		for _, v := range strings.Split(r.Header.Get(name), ",") {
			out = append(out, strings.ToLower(strings.TrimSpace(v)))
		}
		return out
	}
	if !slices.Contains([]string{"GET", "HEAD", "POST"}, method) && !slices.Contains(list("Access-Control-Allow-Methods"), strings.ToLower(method)) {
		return false
	}
	for _, h := range headers {
		if !slices.Contains(list("Access-Control-Allow-Headers"), strings.ToLower(h)) {
			return false
		}
	}
	return true
}

// checkNoCredentials fails t if r allows credentials, or allows any origin on an API
// answer. (/openapi.json, a public document, says "*", and never with credentials.)
func checkNoCredentials(t testing.TB, r *response) {
	t.Helper()
	if v := r.Header.Get("Access-Control-Allow-Credentials"); v != "" {
		t.Errorf("%s: Access-Control-Allow-Credentials %q", r, v)
	}
	if r.Header.Get("Access-Control-Allow-Origin") == "*" && r.Path != "/openapi.json" {
		t.Errorf("%s: Access-Control-Allow-Origin *", r)
	}
	if len(r.Header.Values("Access-Control-Allow-Origin")) > 1 {
		t.Errorf("%s: several Access-Control-Allow-Origin", r)
	}
}

// Off by default: an Origin changes nothing, a preflight is an OPTIONS like any other.
func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, o := e.register(t, "nocors", "No CORS Inc")
	r := e.do(t, "GET", "/v1/orgs/"+o.ID, u.Token, nil, withHeader("Origin", corsApp)).want(t, http.StatusOK)
	if got := corsHeaders(r.Header); len(got) != 0 || varies(r.Header, "Origin") {
		t.Errorf("%s: CORS headers %v, Vary %q", r, got, r.Header.Values("Vary"))
	}
	r = e.do(t, "OPTIONS", "/v1/orgs/"+o.ID, "", nil, withHeader("Origin", corsApp),
		withHeader("Access-Control-Request-Method", "PATCH"), withHeader("Access-Control-Request-Headers", "authorization"))
	wantProblem(t, r, api.ProblemMethodNotAllowed)
	if got := corsHeaders(r.Header); len(got) != 0 || r.Header.Get("Allow") != "GET, HEAD, PATCH, DELETE" {
		t.Errorf("%s: CORS headers %v, Allow %q", r, got, r.Header.Get("Allow"))
	}
}

// With ROWGUARD_CORS_ALLOWED_ORIGINS: a listed origin may call the API from a browser,
// preflight included; any other origin gets no CORS headers (its preflight a 403), and a
// request without Origin is answered as before. Vary: Origin on every answer.
func TestCORSAllowedRefusedAndAbsentOrigins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) { o.CORSAllowedOrigins = []string{corsApp, corsLocal} }))
	a := e.newTenant(t, "Browser Co")
	path := "/v1/orgs/" + a.Org.ID + "/projects/" + a.Project.ID
	var cat category
	e.do(t, "POST", path+"/categories", a.Owner.Token, map[string]any{"kind": "income", "name": "Sales"},
		withHeader("Origin", corsApp)).want(t, http.StatusCreated).decode(t, &cat)
	var rec record
	e.do(t, "POST", path+"/records", a.Owner.Token, recordBody("income", "12.50", "EUR", cat.ID, "2030-01-02"),
		withHeader("Origin", corsApp)).want(t, http.StatusCreated).decode(t, &rec)
	recPath := path + "/records/" + rec.ID
	var all []*response
	keep := func(r *response) *response { all = append(all, r); return r }

	// Allowed: the answer names the origin and exposes what a script needs; errors too,
	// so that a script can read the problem.
	for _, origin := range []string{corsApp, corsLocal} {
		r := keep(e.do(t, "GET", recPath, a.Owner.Token, nil, withHeader("Origin", origin)).want(t, http.StatusOK))
		if r.Header.Get("Access-Control-Allow-Origin") != origin || !varies(r.Header, "Origin") || r.Header.Get("ETag") == "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, Vary %q, ETag %q", r, r.Header.Get("Access-Control-Allow-Origin"),
				r.Header.Values("Vary"), r.Header.Get("ETag"))
		}
		exposed := strings.Split(r.Header.Get("Access-Control-Expose-Headers"), ", ")
		for _, h := range []string{"ETag", "Location", "Retry-After", "X-Request-Id"} {
			if !slices.Contains(exposed, h) {
				t.Errorf("%s: %s not exposed (%v)", r, h, exposed)
			}
		}
	}
	r := keep(e.do(t, "GET", recPath, "", nil, withHeader("Origin", corsApp)))
	wantProblem(t, r, api.ProblemUnauthorized)
	if r.Header.Get("Access-Control-Allow-Origin") != corsApp {
		t.Errorf("%s: a script cannot read the problem: %v", r, corsHeaders(r.Header))
	}
	r = keep(sendNoRedirect(t, e.newRequest(t, http.MethodHead, recPath, a.Owner.Token, nil, withHeader("Origin", corsApp))))
	if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != corsApp {
		t.Errorf("HEAD %s: %d, %v", recPath, r.Status, corsHeaders(r.Header))
	}

	// The preflight of what a front end does: PATCH with a token, JSON and If-Match.
	preflight := func(origin, method, path string, headers ...string) *response {
		opts := []reqOption{withHeader("Origin", origin), withHeader("Access-Control-Request-Method", method)}
		if len(headers) > 0 {
			opts = append(opts, withHeader("Access-Control-Request-Headers", strings.ToLower(strings.Join(headers, ","))))
		}
		return keep(e.do(t, "OPTIONS", path, "", nil, opts...))
	}
	r = preflight(corsApp, "PATCH", recPath, "Authorization", "Content-Type", "If-Match")
	if r.want(t, http.StatusNoContent); len(r.Body) != 0 || !browserAllows(r, corsApp, "PATCH", "Authorization", "Content-Type", "If-Match") {
		t.Errorf("%s: a browser would refuse: %v", r, r.Header)
	}
	if got := r.Header.Get("Access-Control-Allow-Methods"); got != "GET, HEAD, PATCH, DELETE" {
		t.Errorf("%s: Access-Control-Allow-Methods %q, want the path's methods", r, got)
	}
	if r.Header.Get("Access-Control-Max-Age") != "7200" || !varies(r.Header, "Origin") ||
		!varies(r.Header, "Access-Control-Request-Method") || !varies(r.Header, "Access-Control-Request-Headers") {
		t.Errorf("%s: Max-Age %q, Vary %q", r, r.Header.Get("Access-Control-Max-Age"), r.Header.Values("Vary"))
	}
	// Every request header the API reads from a script is allowed; a method the path
	// does not serve is not.
	r = preflight(corsLocal, "POST", path+"/records", "Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id")
	if !browserAllows(r, corsLocal, "POST", "Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id") {
		t.Errorf("%s: a browser would refuse: %v", r, r.Header)
	}
	if r = preflight(corsApp, "PUT", recPath, "Authorization"); browserAllows(r, corsApp, "PUT", "Authorization") {
		t.Errorf("%s: PUT is not a method of this path", r)
	}
	if r = preflight(corsApp, "PATCH", recPath, "Authorization", "X-Debug"); browserAllows(r, corsApp, "PATCH", "X-Debug") {
		t.Errorf("%s: X-Debug is not read by the API", r)
	}
	// The real request the preflight cleared.
	r = keep(e.do(t, "PATCH", recPath, a.Owner.Token, map[string]any{"amount": "13.00"}, withHeader("Origin", corsApp),
		withHeader("If-Match", `"1"`)).want(t, http.StatusOK))
	if r.Header.Get("Access-Control-Allow-Origin") != corsApp || r.Header.Get("ETag") != `"2"` {
		t.Errorf("%s: %v, ETag %q", r, corsHeaders(r.Header), r.Header.Get("ETag"))
	}
	// An unknown path: the router's 404, readable by the page.
	r = preflight(corsApp, "GET", "/v1/nope", "Authorization")
	wantProblem(t, r, api.ProblemNotFound)
	if browserAllows(r, corsApp, "GET", "Authorization") || r.Header.Get("Access-Control-Allow-Origin") != corsApp {
		t.Errorf("%s: %v", r, corsHeaders(r.Header))
	}

	// Refused: origins not listed exactly (a browser never sends a default port, a path
	// or upper case), a look-alike, another scheme, "null" (sandboxed frames, files), and
	// two Origin headers at once.
	for _, origin := range []string{corsEvil, "https://app.example.com.evil.example", "http://app.example.com",
		"https://app.example.com:443", "https://APP.example.com", "https://app.example.com/", "null", "*"} {
		r := keep(e.do(t, "GET", recPath, a.Owner.Token, nil, withHeader("Origin", origin)).want(t, http.StatusOK))
		if got := corsHeaders(r.Header); len(got) != 0 || !varies(r.Header, "Origin") {
			t.Errorf("Origin %q: %s: CORS headers %v, Vary %q", origin, r, got, r.Header.Values("Vary"))
		}
		r = preflight(origin, "PATCH", recPath, "Authorization")
		wantProblem(t, r, api.ProblemForbidden)
		if got := corsHeaders(r.Header); len(got) != 0 || browserAllows(r, origin, "PATCH", "Authorization") {
			t.Errorf("preflight from %q: %s: CORS headers %v", origin, r, got)
		}
	}
	req := e.newRequest(t, "GET", recPath, a.Owner.Token, nil)
	req.Header["Origin"] = []string{corsApp, corsEvil}
	r, err := e.send(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := corsHeaders(keep(r).Header); r.Status != http.StatusOK || len(got) != 0 {
		t.Errorf("two Origin headers: %s: CORS headers %v", r, got)
	}

	// Absent: answered as before, but with Vary: Origin (a cache must not serve it to a page).
	for _, p := range []string{recPath, "/healthz", "/.well-known/jwks.json"} {
		r := keep(e.do(t, "GET", p, a.Owner.Token, nil).want(t, http.StatusOK))
		if got := corsHeaders(r.Header); len(got) != 0 || !varies(r.Header, "Origin") {
			t.Errorf("%s: CORS headers %v, Vary %q", r, got, r.Header.Values("Vary"))
		}
	}
	// An OPTIONS that is no preflight (no Access-Control-Request-Method) is what it was: 405.
	r = keep(e.do(t, "OPTIONS", recPath, "", nil, withHeader("Origin", corsApp)))
	wantProblem(t, r, api.ProblemMethodNotAllowed)
	// /openapi.json, a public document, stays readable from anywhere, without credentials.
	r = keep(e.do(t, "GET", "/openapi.json", "", nil, withHeader("Origin", corsEvil)).want(t, http.StatusOK))
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%s: Access-Control-Allow-Origin %q", r, r.Header.Get("Access-Control-Allow-Origin"))
	}
	// The management listener is for operators' tools, not browsers: no CORS there.
	r = keep(e.do(t, "GET", "/healthz", "", nil, e.onManagement(), withHeader("Origin", corsApp)).want(t, http.StatusOK))
	if got := corsHeaders(r.Header); len(got) != 0 || varies(r.Header, "Origin") {
		t.Errorf("management %s: CORS headers %v", r, got)
	}
	r = keep(e.do(t, "OPTIONS", "/healthz", "", nil, e.onManagement(), withHeader("Origin", corsApp),
		withHeader("Access-Control-Request-Method", "GET")))
	wantProblem(t, r, api.ProblemMethodNotAllowed)

	// Credentials are never allowed, and an API answer never allows any origin.
	for _, r := range all {
		checkNoCredentials(t, r)
	}
}
