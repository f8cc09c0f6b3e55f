package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
	"github.com/rowguard/rowguard/internal/token"
)

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/healthz"})
	body := apitest.Validate(t, resp, "/healthz")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"version":"test-1"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for k, v := range map[string]string{
		"Content-Type":           "application/json",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestReadyzWithoutDatabase(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/readyz"})
	f.problem(resp, "/readyz", api.ProblemUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/nope",
		"/v1/orgs/",
		"/v1/orgs/not-a-uuid",
		"/v1/orgs/" + testOrg + "x",
		"/v1/orgs/1234",
		"/v1/orgs/" + testOrg + "/projects/42",
		"/v1/orgs/{" + testOrg + "}",
	} {
		resp := f.do(req{method: http.MethodGet, path: path, auth: true})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != api.ProblemContentType {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			continue
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		// Unmatched paths have no route template: check against a route
		// whose 404 is documented.
		f.problem(resp, "/v1/orgs/{org_id}", api.ProblemNotFound)
	}
}

func TestUppercaseUUIDPathMatches(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/v1/orgs/" + strings.ToUpper(testOrg), auth: true})
	// Routed (and authenticated): the missing database answers, not the router.
	f.problem(resp, "/v1/orgs/{org_id}", api.ProblemUnavailable)
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	// A 405's method is by definition undocumented for the path: check the
	// body against the path's documented default (problem) response.
	resp := f.do(req{method: http.MethodPut, path: "/v1/orgs", auth: true})
	resp.Request.Method = http.MethodGet
	f.problem(resp, "/v1/orgs", api.ProblemMethodNotAllowed)
	if got := resp.Header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Fatalf("Allow = %q", got)
	}
	resp = f.do(req{method: http.MethodPost, path: "/v1/orgs/" + testOrg + "/projects/" + testProject, auth: true})
	resp.Request.Method = http.MethodGet
	f.problem(resp, "/v1/orgs/{org_id}/projects/{project_id}", api.ProblemMethodNotAllowed)
	if got := resp.Header.Get("Allow"); got != "GET, HEAD, PATCH, DELETE" {
		t.Fatalf("Allow = %q", got)
	}
}

func TestRequestID(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/healthz", header: map[string]string{api.RequestIDHeader: "abc-123.x"}})
	if got := resp.Header.Get(api.RequestIDHeader); got != "abc-123.x" {
		t.Fatalf("sane id not echoed: %q", got)
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 129), `quote"`, "new\nline", "é"} {
		resp := f.do(req{method: http.MethodGet, path: "/nope", header: map[string]string{api.RequestIDHeader: bad}})
		got := resp.Header.Get(api.RequestIDHeader)
		if got == bad || len(got) != 36 {
			t.Errorf("insane id %q answered with %q", bad, got)
		}
		p := apitest.DecodeProblem(t, readAll(t, resp))
		if p.RequestID != got {
			t.Errorf("problem request_id %q, header %q", p.RequestID, got)
		}
	}
	a := f.do(req{method: http.MethodGet, path: "/healthz"}).Header.Get(api.RequestIDHeader)
	b := f.do(req{method: http.MethodGet, path: "/healthz"}).Header.Get(api.RequestIDHeader)
	if a == "" || a == b {
		t.Fatalf("generated ids %q, %q", a, b)
	}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuthMissing(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/v1/auth/me"})
	f.problem(resp, "/v1/auth/me", api.ProblemUnauthorized)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="rowguard"` {
		t.Fatalf("WWW-Authenticate = %q", got)
	}
}

func TestAuthInvalid(t *testing.T) {
	f := newFixture(t)
	otherKey, _ := token.GenerateKey()
	other, _ := token.NewAuthority(otherKey, "test", "https://rowguard.test", "rowguard", time.Hour, 0)
	forged, _, _ := other.Issue(testUser, testSession)
	notUUID, _, _ := f.tokens.Issue("alice", testSession)
	expired := expiredToken(t, f)

	for name, header := range map[string]string{
		"garbage":         "Bearer not.a.jwt",
		"basic":           "Basic dXNlcjpwYXNz",
		"empty bearer":    "Bearer ",
		"no space":        "Bearer" + f.token,
		"two tokens":      "Bearer " + f.token + " " + f.token,
		"other key":       "Bearer " + forged,
		"sub not a uuid":  "Bearer " + notUUID,
		"expired":         "Bearer " + expired,
		"tampered":        "Bearer " + tamper(f.token),
		"lowercase token": "Bearer " + strings.ToLower(f.token),
	} {
		resp := f.do(req{method: http.MethodGet, path: "/v1/auth/me", header: map[string]string{"Authorization": header}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d", name, resp.StatusCode)
			continue
		}
		p := f.problem(resp, "/v1/auth/me", api.ProblemUnauthorized)
		ch := resp.Header.Get("WWW-Authenticate")
		if !strings.HasPrefix(ch, `Bearer realm="rowguard", error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate = %q", name, ch)
		}
		if name == "expired" && !strings.Contains(p.Detail, "expired") {
			t.Errorf("detail %q does not say expired", p.Detail)
		}
	}
}

// tamper changes one character in the middle of the signature (its last
// characters often encode only zero bits of S, so editing those may be a
// no-op).
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 20
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// expiredToken signs, with the fixture's key, a token that expired an
// hour ago.
func expiredToken(t *testing.T, f *fixture) string {
	t.Helper()
	past := time.Now().Add(-2 * time.Hour)
	tok, err := jwt.NewBuilder().Issuer("https://rowguard.test").Audience([]string{"rowguard"}).
		Subject(testUser).Claim(token.SessionIDClaim, testSession).IssuedAt(past).NotBefore(past).
		Expiration(past.Add(time.Hour)).JwtID("j").Build()
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(f.key)
	if err != nil {
		t.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "test")
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, token.Type)
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A valid token gets through authentication: with no database the request
// then fails with 503, which proves the auth layer let it pass.
func TestAuthValidReachesDatabase(t *testing.T) {
	f := newFixture(t)
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER "} {
		resp := f.do(req{method: http.MethodGet, path: "/v1/auth/me",
			header: map[string]string{"Authorization": scheme + f.token}})
		f.problem(resp, "/v1/auth/me", api.ProblemUnavailable)
	}
	// The access log names the user.
	var seen bool
	for _, l := range f.logs.lines(t) {
		if l["msg"] == "request" && l["route"] == "/v1/auth/me" && l["user_id"] == testUser {
			seen = true
		}
	}
	if !seen {
		t.Fatal("no access log line with user_id")
	}
}

func TestAccessLog(t *testing.T) {
	f := newFixture(t)
	resp := f.do(req{method: http.MethodGet, path: "/v1/orgs/" + testOrg + "/projects/" + testProject,
		header: map[string]string{api.RequestIDHeader: "trace-1"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var line map[string]any
	for _, l := range f.logs.lines(t) {
		if l["msg"] == "request" {
			line = l
		}
	}
	want := map[string]any{
		"level": "INFO", "method": "GET", "route": "/v1/orgs/{org_id}/projects/{project_id}",
		"path": "/v1/orgs/" + testOrg + "/projects/" + testProject, "status": float64(401),
		"request_id": "trace-1", "remote_ip": "192.0.2.1",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("no duration_ms: %v", line)
	}
	if _, ok := line["user_id"]; ok {
		t.Errorf("user_id logged for an unauthenticated request: %v", line)
	}
}

// Behind a trusted proxy the access log names the forwarded client and the proxy; a
// peer that is not trusted is logged as itself, whatever it forwards.
func TestAccessLogBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name, trusted, remoteIP, proxyIP string
	}{
		{"trusted", "192.0.2.0/24", "203.0.113.9", "192.0.2.1"},
		{"not trusted", "10.0.0.0/8", "192.0.2.1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *api.Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tc.trusted)} })
			f.do(req{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}})
			var line map[string]any
			for _, l := range f.logs.lines(t) {
				if l["msg"] == "request" {
					line = l
				}
			}
			proxyIP, _ := line["proxy_ip"].(string)
			if line["remote_ip"] != tc.remoteIP || proxyIP != tc.proxyIP {
				t.Errorf("remote_ip %v, proxy_ip %q; want %s, %q (line %v)", line["remote_ip"], proxyIP, tc.remoteIP, tc.proxyIP, line)
			}
		})
	}
}

// postOrg sends a body to POST /v1/orgs with a valid token.
func (f *fixture) post(path, contentType, body string) *http.Response {
	return f.do(req{method: http.MethodPost, path: path, body: body, auth: true,
		header: map[string]string{"Content-Type": contentType}})
}

func TestStrictJSON(t *testing.T) {
	f := newFixture(t)
	const route = "/v1/orgs"
	cases := []struct {
		name, body string
		fields     []string
	}{
		{"empty body", "", []string{"body"}},
		{"blank body", "  \n ", []string{"body"}},
		{"not json", "name=acme", []string{"body"}},
		{"truncated", `{"name": "acme"`, []string{"body"}},
		{"array", `[{"name": "acme"}]`, []string{"body"}},
		{"string", `"acme"`, []string{"body"}},
		{"null", `null`, []string{"body"}},
		{"trailing object", `{"name": "acme"} {}`, []string{"body"}},
		{"trailing garbage", `{"name": "acme"}x`, []string{"body"}},
		{"unknown field", `{"name": "acme", "owner": "me"}`, []string{"owner"}},
		{"missing required", `{"slug": "acme"}`, []string{"name"}},
		{"wrong type", `{"name": 42}`, []string{"name"}},
		{"wrong type object", `{"name": {"x": 1}}`, []string{"name"}},
		{"null required", `{"name": null}`, []string{"name"}},
		{"wrong type optional", `{"name": "acme", "slug": true}`, []string{"slug"}},
		{"duplicate key", `{"name": "a", "name": "b"}`, []string{"name"}},
		{"NUL in string", `{"name": "a\u0000b"}`, []string{"name"}},
		{"blank name", `{"name": "   "}`, []string{"name"}},
		{"bad slug", `{"name": "Acme", "slug": "-Acme-"}`, []string{"slug"}},
		{"several problems", `{"name": 1, "slug": "UP", "x": 0}`, []string{"name", "slug", "x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			p := f.problem(f.post(route, "application/json", c.body), route, api.ProblemValidation)
			if got := fields(p); !slices.Equal(got, c.fields) {
				t.Fatalf("fields %v, want %v (%+v)", got, c.fields, p)
			}
			for _, e := range p.Errors {
				if e.Message == "" {
					t.Errorf("empty message for %s", e.Field)
				}
			}
		})
	}

	t.Run("invalid UTF-8", func(t *testing.T) {
		f := f.with(t)
		p := f.problem(f.post(route, "application/json", "{\"name\": \"a\xffb\"}"), route, api.ProblemValidation)
		if !slices.Equal(fields(p), []string{"body"}) {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("valid body passes", func(t *testing.T) {
		f := f.with(t)
		for _, body := range []string{`{"name": "Acme"}`, `{"name": "Acme", "slug": null}`, ` {"slug": "acme-1", "name": "Acme"} ` + "\n"} {
			f.problem(f.post(route, "application/json", body), route, api.ProblemUnavailable)
		}
	})
}

func TestContentType(t *testing.T) {
	f := newFixture(t)
	const route = "/v1/orgs"
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1",
		"application/json; foo=bar", "application/jsonx", "multipart/form-data; boundary=x"} {
		p := f.problem(f.post(route, ct, `{"name": "Acme"}`), route, api.ProblemUnsupportedMediaType)
		if !strings.Contains(p.Detail, "application/json") {
			t.Errorf("%q: detail %q", ct, p.Detail)
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8"} {
		f.problem(f.post(route, ct, `{"name": "Acme"}`), route, api.ProblemUnavailable)
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFixture(t, func(o *api.Options) { o.MaxBodyBytes = 64 })
	big := `{"name": "` + strings.Repeat("a", 100) + `"}`

	// Declared length over the limit: refused before reading.
	resp := f.post("/v1/orgs", "application/json", big)
	f.problem(resp, "/v1/orgs", api.ProblemPayloadTooLarge)

	// Unknown length (chunked): refused while reading.
	hr := httptest.NewRequest(http.MethodPost, "/v1/orgs", io.MultiReader(strings.NewReader(big)))
	hr.ContentLength = -1
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+f.token)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, hr)
	resp = w.Result()
	resp.Request = hr
	f.problem(resp, "/v1/orgs", api.ProblemPayloadTooLarge)

	// Under the limit: fine.
	f.problem(f.post("/v1/orgs", "application/json", `{"name": "Acme"}`), "/v1/orgs", api.ProblemUnavailable)
}

func TestPatchBodies(t *testing.T) {
	f := newFixture(t)
	org := "/v1/orgs/" + testOrg
	proj := org + "/projects/" + testProject
	patch := func(path, body string) *http.Response {
		return f.do(req{method: http.MethodPatch, path: path, body: body, auth: true})
	}
	for _, c := range []struct {
		path, route, body string
		fields            []string
	}{
		{org, "/v1/orgs/{org_id}", `{}`, []string{"body"}},
		{org, "/v1/orgs/{org_id}", `{"role": "OWNER"}`, []string{"role"}},
		{org, "/v1/orgs/{org_id}", `{"slug": null}`, []string{"slug"}},
		{org, "/v1/orgs/{org_id}", `{"name": ""}`, []string{"name"}},
		{org, "/v1/orgs/{org_id}", `{"id": "` + testOrg + `"}`, []string{"id"}},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{}`, []string{"body"}},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{"name": null}`, []string{"name"}},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{"org_id": "` + testOrg + `"}`, []string{"org_id"}},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{"description": 5}`, []string{"description"}},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{"description": "` + strings.Repeat("d", 4001) + `"}`, []string{"description"}},
	} {
		p := f.problem(patch(c.path, c.body), c.route, api.ProblemValidation)
		if !slices.Equal(fields(p), c.fields) {
			t.Errorf("PATCH %s %s: fields %v, want %v", c.route, c.body, fields(p), c.fields)
		}
	}
	// Accepted shapes reach the database.
	for _, c := range []struct{ path, route, body string }{
		{org, "/v1/orgs/{org_id}", `{"name": "New"}`},
		{org, "/v1/orgs/{org_id}", `{"slug": "new-slug", "name": "New"}`},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{"description": null}`},
		{proj, "/v1/orgs/{org_id}/projects/{project_id}", `{"name": "P", "description": "d"}`},
	} {
		f.problem(patch(c.path, c.body), c.route, api.ProblemUnavailable)
	}
}

func TestListParams(t *testing.T) {
	f := newFixture(t)
	for _, route := range []string{"/v1/orgs", "/v1/orgs/{org_id}/members", "/v1/orgs/{org_id}/projects"} {
		path := strings.ReplaceAll(route, "{org_id}", testOrg)
		for q, want := range map[string][]string{
			"limit=0":                 {"limit"},
			"limit=101":               {"limit"},
			"limit=-1":                {"limit"},
			"limit=abc":               {"limit"},
			"limit=%2B5":              {"limit"},
			"limit=1e2":               {"limit"},
			"limit=":                  {"limit"},
			"limit=1&limit=2":         {"limit"},
			"cursor=xyz":              {"cursor"},
			"cursor=" + testOrg + "0": {"cursor"},
			"limit=0&cursor=1":        {"limit", "cursor"},
		} {
			resp := f.do(req{method: http.MethodGet, path: path + "?" + q, auth: true})
			p := f.problem(resp, route, api.ProblemValidation)
			if !slices.Equal(fields(p), want) {
				t.Errorf("%s?%s: fields %v, want %v", route, q, fields(p), want)
			}
		}
		for _, q := range []string{"", "limit=1", "limit=100", "limit=50&cursor=" + testProject, "cursor=" + strings.ToUpper(testProject), "unrelated=1"} {
			resp := f.do(req{method: http.MethodGet, path: path + "?" + q, auth: true})
			f.problem(resp, route, api.ProblemUnavailable)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	f := newFixture(t)
	const route = "/v1/auth/register"
	reg := func(body string) *http.Response {
		return f.do(req{method: http.MethodPost, path: route, body: body})
	}
	for body, want := range map[string][]string{
		`{}`:                         {"email", "password"},
		`{"email": "a@example.com"}`: {"password"},
		`{"email": "not-an-email", "password": "longenough"}`:                                 {"email"},
		`{"email": "Alice <a@example.com>", "password": "longenough"}`:                        {"email"},
		`{"email": "a@localhost", "password": "longenough"}`:                                  {"email"},
		`{"email": " a@example.com", "password": "longenough"}`:                               {"email"},
		`{"email": "a@@example.com", "password": "longenough"}`:                               {"email"},
		`{"email": "a@example.com", "password": "short12"}`:                                   {"password"},
		`{"email": "a@example.com", "password": "` + strings.Repeat("p", 257) + `"}`:          {"password"},
		`{"email": "a@example.com", "password": "longenough", "organization_name": ""}`:       {"organization_name"},
		`{"email": "a@example.com", "password": "longenough", "organization_name": 1}`:        {"organization_name"},
		`{"email": "a@example.com", "password": "longenough", "role": "OWNER"}`:               {"role"},
		`{"email": "` + strings.Repeat("a", 250) + `@example.com", "password": "longenough"}`: {"email"},
	} {
		p := f.problem(reg(body), route, api.ProblemValidation)
		if !slices.Equal(fields(p), want) {
			t.Errorf("%s: fields %v, want %v", body, fields(p), want)
		}
	}
	// Length counts characters, not bytes: 8 two-byte runes pass, 7 do not.
	f.problem(reg(`{"email": "a@example.com", "password": "éééééééé"}`), route, api.ProblemUnavailable)
	p := f.problem(reg(`{"email": "a@example.com", "password": "ééééééé"}`), route, api.ProblemValidation)
	if !slices.Equal(fields(p), []string{"password"}) {
		t.Fatalf("%+v", p)
	}
	f.problem(reg(`{"email": "a.b+tag@sub.example.com", "password": "`+strings.Repeat("p", 256)+`", "organization_name": null}`), route, api.ProblemUnavailable)
}

func TestLoginValidation(t *testing.T) {
	f := newFixture(t)
	const route = "/v1/auth/login"
	for body, want := range map[string][]string{
		`{}`:                            {"email", "password"},
		`{"email": "a@example.com"}`:    {"password"},
		`{"email": 1, "password": "x"}`: {"email"},
		`{"email": "a@example.com", "password": "x", "remember": true}`: {"remember"},
	} {
		resp := f.do(req{method: http.MethodPost, path: route, body: body})
		p := f.problem(resp, route, api.ProblemValidation)
		if !slices.Equal(fields(p), want) {
			t.Errorf("%s: fields %v, want %v", body, fields(p), want)
		}
	}
	// Login does not judge the email's syntax: any string is looked up.
	resp := f.do(req{method: http.MethodPost, path: route, body: `{"email": "whoever", "password": "x"}`})
	f.problem(resp, route, api.ProblemUnavailable)
}

// Problem documents carry exactly the documented members.
func TestProblemShape(t *testing.T) {
	f := newFixture(t)
	resp := f.post("/v1/orgs", "application/json", `{"nme": "typo"}`)
	body := apitest.Validate(t, resp, "/v1/orgs")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"detail", "errors", "instance", "request_id", "status", "title", "type"}) {
		t.Fatalf("keys %v", keys)
	}
	if m["type"] != "https://rowguard.dev/problems/validation-failed" || m["status"] != float64(422) || m["instance"] != "/v1/orgs" {
		t.Fatalf("%v", m)
	}
}
