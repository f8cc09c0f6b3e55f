package e2e

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sendNoRedirect sends req with a client that shows redirects instead of following them
// (the OIDC start answers 302), and reads the whole answer.
func sendNoRedirect(t testing.TB, req *http.Request) *response {
	t.Helper()
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return &response{Method: req.Method, Path: req.URL.Path, Status: res.StatusCode, Header: res.Header, Body: body}
}

// headerNames are the names of h that should be alike for GET and HEAD: all but the
// framing and the per-request ones.
func headerNames(h http.Header) []string {
	var out []string
	for k := range h {
		switch k {
		case "Date", "Content-Length", "Transfer-Encoding":
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// perRequestHeaders differ between two requests by design (a fresh request id, a fresh
// sign-in state in the redirect and its binding cookie).
var perRequestHeaders = []string{"X-Request-Id", "Location", "Set-Cookie"}

// HEAD answers every GET operation of openapi.json like GET, without a body: same
// status, same headers, and the Content-Length of GET's body. The operations are read
// from the document, so a GET route added later is covered once it is documented.
func TestHeadAnswersEveryGetRoute(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t) // {provider} is configured: its start answers 302
	e := o.env
	a := e.newTenant(t, "Heady")
	e.exec(t, `select auth.set_platform_admin($1, true)`, a.Owner.Email)
	svc := e.createService(t, a.Owner, a.Org.ID, "Trim", 30, 1)
	b := e.book(t, a.Owner, a.Org.ID, svc.ID, slot(0), "head@example.com")
	var cat category
	path := "/v1/orgs/" + a.Org.ID + "/projects/" + a.Project.ID
	e.do(t, "POST", path+"/categories", a.Owner.Token, map[string]any{"kind": "income", "name": "Sales"}).
		want(t, http.StatusCreated).decode(t, &cat)
	var rec record
	e.do(t, "POST", path+"/records", a.Owner.Token, recordBody("income", "12.50", "EUR", cat.ID, "2030-01-02")).
		want(t, http.StatusCreated).decode(t, &rec)
	e.sweepIDs = map[string]string{"{org_id}": a.Org.ID, "{project_id}": a.Project.ID, "{service_id}": svc.ID,
		"{booking_id}": b.ID, "{record_id}": rec.ID, "{tenant_id}": a.Org.ID, "{provider}": oidcProvider}

	var gets int
	statuses := map[int]int{}
	for _, op := range sweepOps(t) {
		if op.method != http.MethodGet {
			continue
		}
		gets++
		p := e.fillPath(op.path)
		tok := ""
		if op.auth {
			tok = a.Owner.Token
		}
		get := sendNoRedirect(t, e.newRequest(t, http.MethodGet, p, tok, nil))
		e.check(t, get)
		head := sendNoRedirect(t, e.newRequest(t, http.MethodHead, p, tok, nil))
		what := "HEAD " + op.path
		statuses[head.Status]++
		if head.Status != get.Status {
			t.Errorf("%s: %d, GET %d", what, head.Status, get.Status)
		}
		if len(head.Body) != 0 {
			t.Errorf("%s: a body of %d bytes", what, len(head.Body))
		}
		if head.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", what)
		}
		if g, h := headerNames(get.Header), headerNames(head.Header); !slices.Equal(g, h) {
			t.Errorf("%s: headers %v, GET %v", what, h, g)
		}
		for k, v := range get.Header {
			if k == "Date" || k == "Content-Length" || k == "Transfer-Encoding" || slices.Contains(perRequestHeaders, k) {
				continue
			}
			if !slices.Equal(head.Header[k], v) {
				t.Errorf("%s: %s %q, GET %q", what, k, head.Header[k], v)
			}
		}
		if get.Status != http.StatusNoContent && get.Status != http.StatusNotModified {
			if cl := head.Header.Get("Content-Length"); cl != strconv.Itoa(len(get.Body)) {
				t.Errorf("%s: Content-Length %q, GET's body has %d bytes", what, cl, len(get.Body))
			}
		}
	}
	if gets < 30 {
		t.Errorf("only %d GET operations: is openapi.json read?", gets)
	}
	// The fixture reached the routes: most answered 2xx or 3xx, not 404.
	if ok := statuses[200] + statuses[302]; ok < gets*3/4 {
		t.Errorf("HEAD statuses %v over %d GET operations: too few 2xx/3xx", statuses, gets)
	}
	t.Logf("HEAD over %d GET operations: statuses %v", gets, statuses)

	// Unknown paths and other methods are unchanged: 404, and 405 with Allow naming HEAD.
	if r := sendNoRedirect(t, e.newRequest(t, http.MethodHead, "/nope", "", nil)); r.Status != http.StatusNotFound || len(r.Body) != 0 {
		t.Errorf("HEAD /nope: %d, %d bytes", r.Status, len(r.Body))
	}
	r := sendNoRedirect(t, e.newRequest(t, http.MethodHead, "/v1/auth/login", "", nil))
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
		t.Errorf("HEAD /v1/auth/login: %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}
	// The management listener too (no Content-Length check: every scrape changes the page).
	for _, p := range []string{"/metrics", "/healthz"} {
		req := e.newRequest(t, http.MethodHead, p, "", nil, e.onManagement())
		r := sendNoRedirect(t, req)
		if r.Status != http.StatusOK || len(r.Body) != 0 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") && p == "/metrics" {
			t.Errorf("HEAD %s on the management listener: %d, %d bytes, %q", p, r.Status, len(r.Body), r.Header.Get("Content-Type"))
		}
	}
}
