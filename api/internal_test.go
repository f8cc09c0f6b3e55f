package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/internal/token"
)

func newTestServer(t testing.TB, logs *bytes.Buffer) *Server {
	t.Helper()
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewAuthority(key, "k", "iss", "aud", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(Options{Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type %q: %s", ct, w.Body)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The SQLSTATE table of the contract, one row per code.
func TestMapPgError(t *testing.T) {
	const secret = "SECRET internal text from postgres"
	cases := []struct {
		name   string
		pe     pgconn.PgError
		kind   ProblemKind
		detail string // "" = must not contain the Postgres message
		fields []FieldError
		www    bool
	}{
		{"RG401", pgconn.PgError{Code: "RG401", Message: "the session is not valid"}, ProblemUnauthorized, "the session is not valid", nil, true},
		{"RG403", pgconn.PgError{Code: "RG403", Message: "your role does not allow changing this project"}, ProblemForbidden, "your role does not allow changing this project", nil, false},
		{"RG404", pgconn.PgError{Code: "RG404", Message: "project not found"}, ProblemNotFound, "project not found", nil, false},
		{"RG409 column", pgconn.PgError{Code: "RG409", Message: "this slug is already taken", ColumnName: "slug"}, ProblemConflict, "this slug is already taken", []FieldError{{"slug", "this slug is already taken"}}, false},
		{"RG422 column", pgconn.PgError{Code: "RG422", Message: "must not be blank", ColumnName: "name"}, ProblemValidation, "must not be blank", []FieldError{{"name", "must not be blank"}}, false},
		{"42501", pgconn.PgError{Code: "42501", Message: secret, TableName: "projects"}, ProblemForbidden, "", nil, false},
		{"23505", pgconn.PgError{Code: "23505", Message: secret, TableName: "projects", ConstraintName: "projects_org_id_name_key"}, ProblemConflict, "", []FieldError{{"name", "is already taken"}}, false},
		{"23505 unknown constraint", pgconn.PgError{Code: "23505", Message: secret, TableName: "t", ConstraintName: "weird"}, ProblemConflict, "", nil, false},
		{"23503", pgconn.PgError{Code: "23503", Message: secret, TableName: "projects", ConstraintName: "projects_created_by_fkey"}, ProblemValidation, "", []FieldError{{"created_by", "refers to a resource that does not exist"}}, false},
		{"23514", pgconn.PgError{Code: "23514", Message: secret, TableName: "organizations", ConstraintName: "organizations_slug_check"}, ProblemValidation, "", []FieldError{{"slug", "is not valid"}}, false},
		{"23514 currency", pgconn.PgError{Code: "23514", Message: secret, TableName: "exchange_rates", ConstraintName: "exchange_rates_to_currency_check"}, ProblemValidation, "", []FieldError{{"to_currency", "is not an ISO 4217 currency code"}}, false},
		{"23514 other table", pgconn.PgError{Code: "23514", Message: secret, TableName: "users", ConstraintName: "users_email_check"}, ProblemValidation, "", []FieldError{{"email", "is not valid"}}, false},
		{"22P02", pgconn.PgError{Code: "22P02", Message: secret}, ProblemValidation, "", []FieldError{{"body", "has an invalid format"}}, false},
		{"22001", pgconn.PgError{Code: "22001", Message: secret, ColumnName: "name"}, ProblemValidation, "", []FieldError{{"name", "is too long"}}, false},
		{"23502", pgconn.PgError{Code: "23502", Message: secret, ColumnName: "slug", TableName: "organizations"}, ProblemValidation, "", []FieldError{{"slug", "must not be null"}}, false},
		{"P0002", pgconn.PgError{Code: "P0002", Message: secret}, ProblemNotFound, "", nil, false},
		{"57014", pgconn.PgError{Code: "57014", Message: secret}, ProblemTimeout, "", nil, false},
		{"XX000", pgconn.PgError{Code: "XX000", Message: secret, Detail: secret, Where: secret}, ProblemInternal, "", nil, false},
		{"42P01", pgconn.PgError{Code: "42P01", Message: `relation "api.secret" does not exist`}, ProblemInternal, "", nil, false},
		{"RG999 undocumented", pgconn.PgError{Code: "RG999", Message: secret}, ProblemInternal, "", nil, false},
		{"RGxyz", pgconn.PgError{Code: "RGxyz", Message: secret}, ProblemInternal, "", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := newTestServer(t, &logs)
			r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			w := httptest.NewRecorder()
			pe := c.pe
			s.fail(w, r, fmt.Errorf("wrapped: %w", &pe))
			if w.Code != c.kind.Status {
				t.Fatalf("status %d, want %d", w.Code, c.kind.Status)
			}
			p := decodeProblem(t, w)
			if p.Type != c.kind.Type() {
				t.Fatalf("type %s, want %s", p.Type, c.kind.Type())
			}
			if c.detail != "" && p.Detail != c.detail {
				t.Errorf("detail %q, want %q", p.Detail, c.detail)
			}
			if strings.Contains(w.Body.String(), "SECRET") || strings.Contains(w.Body.String(), "api.secret") || strings.Contains(w.Body.String(), pe.Code) {
				t.Errorf("internal detail leaked: %s", w.Body)
			}
			if fmt.Sprint(p.Errors) != fmt.Sprint(c.fields) {
				t.Errorf("errors %v, want %v", p.Errors, c.fields)
			}
			if got := w.Header().Get("WWW-Authenticate"); (got != "") != c.www {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if c.kind == ProblemInternal && !strings.Contains(logs.String(), `"sqlstate":"`+pe.Code+`"`) {
				t.Errorf("internal error not logged: %s", logs.String())
			}
		})
	}
}

func TestMapOtherErrors(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	// A real connect failure: nothing listens on port 1 of the loopback.
	_, connErr := pgconn.Connect(context.Background(), "postgres://u@127.0.0.1:1/db?connect_timeout=2&sslmode=disable")
	var ce *pgconn.ConnectError
	if !errors.As(connErr, &ce) {
		t.Fatalf("expected a ConnectError, got %T %v", connErr, connErr)
	}
	cases := []struct {
		err  error
		kind ProblemKind
	}{
		{context.DeadlineExceeded, ProblemTimeout},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), ProblemTimeout},
		{errNoPool, ProblemUnavailable},
		{fmt.Errorf("acquire: %w", connErr), ProblemUnavailable},
		{errors.New("closed pool"), ProblemUnavailable},
		{errors.New("boom: SECRET"), ProblemInternal},
		{newError(ProblemConflict, "as is"), ProblemConflict},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest(http.MethodGet, "/", nil), c.err)
		p := decodeProblem(t, w)
		if p.Type != c.kind.Type() || w.Code != c.kind.Status {
			t.Errorf("%v: %d %s, want %s", c.err, w.Code, p.Type, c.kind.Slug)
		}
		if strings.Contains(w.Body.String(), "SECRET") {
			t.Errorf("%v leaked", c.err)
		}
	}
}

// A client that hung up gets no problem document, and the log says so.
func TestClientClosed(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	s.fail(w, r, fmt.Errorf("send batch: %w", context.Canceled))
	if w.Code != statusClientClosedRequest || w.Body.Len() != 0 {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "client closed request") {
		t.Fatal(logs.String())
	}
	// pgx may surface the cancellation as the server's query_canceled.
	w = httptest.NewRecorder()
	s.fail(w, r, &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"})
	if w.Code != statusClientClosedRequest || w.Body.Len() != 0 {
		t.Fatalf("57014 after hang-up: %d %q", w.Code, w.Body)
	}
}

func TestRecoverer(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	s.api.router.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("kaboom SECRET") })
	s.api.router.HandleFunc("/panic-after-write", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	})

	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/panic", nil))
	p := decodeProblem(t, w)
	if w.Code != 500 || p.Type != ProblemInternal.Type() || strings.Contains(w.Body.String(), "SECRET") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "kaboom SECRET") || !strings.Contains(logs.String(), "goroutine") {
		t.Fatalf("panic not logged with stack: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("access log did not record 500: %s", logs.String())
	}

	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/panic-after-write", nil))
	if w.Code != http.StatusAccepted || w.Body.Len() != 0 {
		t.Fatalf("headers already sent, got %d %q", w.Code, w.Body)
	}

	s.api.router.HandleFunc("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	func() {
		defer func() {
			if rec := recover(); rec != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler re-panicked", rec)
			}
		}()
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/abort", nil))
	}()
}

func TestTimeoutMiddleware(t *testing.T) {
	var dl time.Time
	h := timeout(3 * time.Second)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var ok bool
		if dl, ok = r.Context().Deadline(); !ok {
			t.Fatal("no deadline")
		}
	}))
	// The deadline is 3 s after the request arrived, however long the call takes.
	before := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	after := time.Now()
	if dl.Before(before.Add(3*time.Second)) || dl.After(after.Add(3*time.Second)) {
		t.Fatalf("deadline %s after the call began, want 3s", dl.Sub(before))
	}
}

// The request timeout reaches handlers: a handler that waits on its
// context past the limit ends with a 504 problem.
func TestRequestTimeoutAnswers504(t *testing.T) {
	var logs bytes.Buffer
	key, _ := token.GenerateKey()
	tokens, _ := token.NewAuthority(key, "k", "iss", "aud", time.Minute, 0)
	s := NewServer(Options{Tokens: tokens, RequestTimeout: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	s.api.router.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		s.fail(w, r, r.Context().Err())
	})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/slow", nil))
	if p := decodeProblem(t, w); w.Code != http.StatusGatewayTimeout || p.Type != ProblemTimeout.Type() {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestWriteJSONBytes(t *testing.T) {
	r := httptest.NewRequest(http.MethodDelete, "/v1/orgs/x", nil)
	w := httptest.NewRecorder()
	writeJSONBytes(w, r, http.StatusNoContent, nil)
	if w.Code != 204 || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
		t.Fatalf("204: %d %q %q", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	w = httptest.NewRecorder()
	writeJSONBytes(w, r, http.StatusOK, []byte(`{"id":"x","n":1.50}`))
	if w.Code != 200 || w.Body.String() != `{"id":"x","n":1.50}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("bytes changed: %d %q", w.Code, w.Body)
	}
	for _, body := range [][]byte{nil, []byte("null")} {
		w = httptest.NewRecorder()
		writeJSONBytes(w, r, http.StatusOK, body)
		if w.Code != 404 {
			t.Fatalf("null body: %d", w.Code)
		}
	}
}

func TestBearerChallenge(t *testing.T) {
	if got := bearerChallenge("", ""); got != `Bearer realm="rowguard"` {
		t.Fatal(got)
	}
	got := bearerChallenge("invalid_token", "bad \"token\"\\\n é")
	if got != `Bearer realm="rowguard", error="invalid_token", error_description="bad token "` {
		t.Fatal(got)
	}
}

func TestCheckEmail(t *testing.T) {
	for _, ok := range []string{"a@example.com", "first.last+tag@sub.example.co.uk", "x_y-z@e-xample.io", "o'brien@example.ie"} {
		if msg := checkEmail(ok); msg != "" {
			t.Errorf("%q refused: %s", ok, msg)
		}
	}
	for _, bad := range []string{"", "a", "a@", "@example.com", "a@example", "a@example.", "a@.example.com", "a b@example.com",
		"a@exa mple.com", "<a@example.com>", "A <a@example.com>", "a@b@example.com", "a@example.com\n", `"a b"@example.com`, "a..b@example.com"} {
		if checkEmail(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
