package apitest

import (
	"slices"
	"strings"
	"testing"
)

func spec(t *testing.T) *Spec {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const user = `{"id":"0190c6f5-1c2e-7d3a-9b4f-0123456789ab","email":"ada@example.com","status":"active",` +
	`"created_at":"2026-01-02T03:04:05.123456+00:00","updated_at":"2026-01-02T03:04:05+00:00"}`

func TestValidateBody(t *testing.T) {
	s := spec(t)
	ok := []struct {
		method, route string
		status        int
		ct, body      string
	}{
		{"GET", "/v1/auth/me", 200, "application/json", `{"user":` + user + `,"memberships":[]}`},
		{"DELETE", "/v1/orgs/{org_id}", 204, "", ``},
		{"GET", "/v1/orgs/{org_id}", 404, "application/problem+json",
			`{"type":"https://rowguard.dev/problems/not-found","title":"Not found","status":404,"detail":"d","instance":"/v1/orgs/x","request_id":"r"}`},
		// An undocumented status falls back to default.
		{"GET", "/v1/orgs/{org_id}", 405, "application/problem+json",
			`{"type":"https://rowguard.dev/problems/method-not-allowed","title":"Method not allowed","status":405,"detail":"d","instance":"/v1/orgs/x","request_id":"r"}`},
		{"GET", "/docs", 200, "text/html; charset=utf-8", `<!doctype html>`},
	}
	for _, c := range ok {
		if err := s.ValidateBody(c.method, c.route, c.status, c.ct, []byte(c.body)); err != nil {
			t.Errorf("%s %s %d: %v", c.method, c.route, c.status, err)
		}
	}

	bad := []struct {
		method, route string
		status        int
		ct, body      string
		want          string
	}{
		{"GET", "/v1/auth/me", 200, "application/json", `{"user":` + user + `}`, "memberships"},
		{"GET", "/v1/auth/me", 200, "application/json", `{"user":` + strings.Replace(user, `"active"`, `"gone"`, 1) + `,"memberships":[]}`, "status"},
		{"GET", "/v1/auth/me", 200, "application/json", `{"user":` + user + `,"memberships":[],"extra":1}`, "extra"},
		{"GET", "/v1/auth/me", 200, "text/plain", `{}`, "not documented"},
		{"GET", "/v1/auth/me", 200, "application/json", `not json`, "not JSON"},
		{"DELETE", "/v1/orgs/{org_id}", 204, "", `{}`, "without a body"},
		{"GET", "/v1/nope", 200, "application/json", `{}`, "not documented"},
		{"GET", "/v1/orgs/{org_id}", 404, "application/problem+json",
			`{"type":"https://rowguard.dev/problems/forbidden","title":"Forbidden","status":403,"detail":"d","instance":"/","request_id":"r"}`, "type"},
	}
	for _, c := range bad {
		err := s.ValidateBody(c.method, c.route, c.status, c.ct, []byte(c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s %d %s: error %v, want one mentioning %q", c.method, c.route, c.status, c.body, err, c.want)
		}
	}
}

func TestOperations(t *testing.T) {
	ops := spec(t).Operations()
	for _, want := range []string{"POST /v1/auth/login", "PATCH /v1/orgs/{org_id}/projects/{project_id}", "GET /healthz"} {
		found := false
		for _, op := range ops {
			found = found || op == want
		}
		if !found {
			t.Errorf("%s not in %v", want, ops)
		}
	}
}

// The document says which listener serves what: /metrics only the management
// listener, /healthz and /readyz both, everything else the API port only.
func TestOperationsOn(t *testing.T) {
	s := spec(t)
	mgmt := s.OperationsOn(ListenerManagement)
	if strings.Join(mgmt, ", ") != "GET /healthz, GET /metrics, GET /readyz" {
		t.Errorf("management listener: %v", mgmt)
	}
	onAPI := s.OperationsOn(ListenerAPI)
	if len(onAPI) != len(s.Operations())-1 || slices.Contains(onAPI, "GET /metrics") || !slices.Contains(onAPI, "GET /healthz") {
		t.Errorf("API port: %d of %d operations, %v", len(onAPI), len(s.Operations()), onAPI)
	}
}
