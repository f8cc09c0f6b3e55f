package api_test

import (
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/syncbuf"
	"github.com/rowguard/rowguard/internal/token"
)

const (
	testUser    = "0190c6f5-1c2e-7d3a-9b4f-0123456789ab"
	testSession = "7a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8"
	testOrg     = "0190c6f5-1c2e-7d3a-9b4f-00000000000a"
	testProject = "0190c6f5-1c2e-7d3a-9b4f-00000000000b"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct{ syncbuf.Buffer }

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

type fixture struct {
	t      *testing.T
	srv    *api.Server
	tokens *token.Authority
	key    ed25519.PrivateKey
	logs   *syncBuffer
	token  string
}

// newFixture builds a Server with no database: everything the HTTP layer
// decides on its own is testable, and database routes answer 503.
func newFixture(t *testing.T, tune ...func(*api.Options)) *fixture {
	t.Helper()
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewAuthority(key, "test", "https://rowguard.test", "rowguard", time.Hour, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts := api.Options{
		Tokens:    tokens,
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:   "test-1",
		Passwords: hasher,
	}
	for _, f := range tune {
		f(&opts)
	}
	tok, _, err := tokens.Issue(testUser, testSession)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: api.NewServer(opts), tokens: tokens, key: key, logs: logs, token: tok}
}

// with returns f reporting to t (for subtests).
func (f *fixture) with(t *testing.T) *fixture {
	c := *f
	c.t = t
	return &c
}

type req struct {
	method, path string
	body         string
	header       map[string]string
	auth         bool
	management   bool // to the management handler instead of the API's
}

func (f *fixture) do(r req) *http.Response {
	f.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.auth {
		hr.Header.Set("Authorization", "Bearer "+f.token)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	if r.management {
		f.srv.Management().ServeHTTP(w, hr)
	} else {
		f.srv.ServeHTTP(w, hr)
	}
	resp := w.Result()
	resp.Request = hr
	return resp
}

// problem asserts resp is a problem of kind, valid against openapi.json
// for route, and returns it.
func (f *fixture) problem(resp *http.Response, route string, kind api.ProblemKind) api.Problem {
	f.t.Helper()
	body := apitest.Validate(f.t, resp, route)
	if resp.StatusCode != kind.Status {
		f.t.Fatalf("status %d, want %d: %s", resp.StatusCode, kind.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != api.ProblemContentType {
		f.t.Fatalf("Content-Type %q", ct)
	}
	p := apitest.DecodeProblem(f.t, body)
	if p.Type != kind.Type() || p.Title != kind.Title || p.Status != kind.Status {
		f.t.Fatalf("problem %+v, want kind %+v", p, kind)
	}
	if p.Instance != resp.Request.URL.EscapedPath() {
		f.t.Fatalf("instance %q, want %q", p.Instance, resp.Request.URL.EscapedPath())
	}
	if p.RequestID == "" || p.RequestID != resp.Header.Get(api.RequestIDHeader) {
		f.t.Fatalf("request_id %q vs header %q", p.RequestID, resp.Header.Get(api.RequestIDHeader))
	}
	if p.Detail == "" {
		f.t.Fatal("empty detail")
	}
	return p
}

// fields returns the field names of a problem's errors.
func fields(p api.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}
