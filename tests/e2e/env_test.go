package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
	"github.com/rowguard/rowguard/internal/password"
	"github.com/rowguard/rowguard/internal/testdb"
	"github.com/rowguard/rowguard/internal/token"
)

const (
	tokenIssuer   = "https://rowguard.test"
	tokenAudience = "rowguard-e2e"
	tokenTTL      = 15 * time.Minute
)

// env is one running server on its own fresh database.
type env struct {
	URL string
	// ManagementURL is the server's management listener (Server.Management): send a
	// request there with the option e.onManagement().
	ManagementURL string

	server *api.Server
	pool   *pgxpool.Pool // the server's own pool, as rowguard_app
	admin  *pgxpool.Pool // superuser: fixtures and after-the-fact checks only
	key    ed25519.PrivateKey
	tokens *token.Authority
	client *http.Client
	logs   *logCapture

	seq        atomic.Int64
	routes     []routeRE // of the API port
	mgmtRoutes []routeRE // of the management listener
	// sweepIDs maps path variables ({org_id}) to real ids for the bad-input sweep.
	sweepIDs map[string]string
	// mailbox reads the sign-up code mailed to an address, when the env delivers its
	// mail (newMailEnv); nil: readSignUpCode reads the outbox.
	mailbox func(t testing.TB, email string) string
}

type envConfig struct {
	maxConns int32
	options  func(*api.Options)
}

type envOption func(*envConfig)

// withMaxConns caps the server's pool.
func withMaxConns(n int32) envOption { return func(c *envConfig) { c.maxConns = n } }

// withOptions adjusts the server's Options before NewServer.
func withOptions(f func(*api.Options)) envOption { return func(c *envConfig) { c.options = f } }

// testHasher is argon2id with minimal costs: every fixture user is signed up
// over HTTP, and the default cost (19 MiB, ~35 ms) would dominate the
// package's wall time. The code path is the same.
var testHasher = func() *password.Hasher {
	h, err := password.New(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		panic(err)
	}
	return h
}()

// newEnv starts a server (real HTTP on loopback) over a fresh migrated
// database. The server logs in as rowguard_app, the unprivileged serving role.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range opts {
		o(&cfg)
	}
	db := testdb.New(t)

	pcfg, err := pgxpool.ParseConfig(db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxConns > 0 {
		pcfg.MaxConns = cfg.maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewAuthority(key, "", tokenIssuer, tokenAudience, tokenTTL, -1)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logCapture{}
	o := api.Options{
		Pool:      pool,
		Tokens:    tokens,
		Logger:    slog.New(logs),
		Version:   "e2e",
		Passwords: testHasher,
		// Minutes, not seconds: a loaded machine must not turn a slow request into a
		// 504, nor two refreshes of one test into a replay outside the grace window.
		// Tests about these limits set their own (faults_test.go) or move the clock in
		// the database (sessions_test.go).
		RequestTimeout: 2 * time.Minute,
		Sessions:       api.SessionOptions{RefreshReuseGrace: 10 * time.Minute},
		// Every test of the package signs in from 127.0.0.1: the email limits would
		// otherwise decide tests that are not about them (TestSignInRateLimits is).
		RateLimits: api.RateLimitOptions{
			SignInPerAddress:       api.RateLimit{Max: 100000, Window: time.Hour},
			SignUpPerAddress:       api.RateLimit{Max: 100000, Window: time.Hour},
			SignUpPerAccount:       api.RateLimit{Max: 100000, Window: time.Hour},
			EmailPerAccountAddress: api.RateLimit{Max: 100000, Window: time.Hour},
		},
	}
	if cfg.options != nil {
		cfg.options(&o)
	}
	srv := api.NewServer(o)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	hm := httptest.NewServer(srv.Management())
	t.Cleanup(hm.Close)

	e := &env{
		URL:           hs.URL,
		ManagementURL: hm.URL,

		server: srv,
		pool:   pool,
		admin:  db.AdminPool(t),
		key:    key,
		tokens: tokens,
		client: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 128},
			Timeout:   5 * time.Minute, // above the server's request timeout
		},
		logs: logs,
	}
	e.routes, e.mgmtRoutes = routeREs(srv.Routes()), routeREs(srv.ManagementRoutes())
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		// The server logs every 5xx and every unexpected database error at
		// Error level: none of the tests here expects one.
		for _, rec := range logs.errors() {
			if !logs.isExpected(rec) {
				t.Errorf("server logged an error: %s", rec)
			}
		}
	})
	return e
}

type routeRE struct {
	api.Route
	re *regexp.Regexp
}

func routeREs(routes []api.Route) []routeRE {
	var out []routeRE
	for _, r := range routes {
		pat := regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(r.Path), `[^/]+`)
		out = append(out, routeRE{Route: r, re: regexp.MustCompile("^" + pat + "$")})
	}
	return out
}

// onManagement sends the request to the management listener instead of the API port.
func (e *env) onManagement() reqOption {
	u, err := url.Parse(e.ManagementURL)
	if err != nil {
		panic(err)
	}
	return func(r *http.Request) { r.URL.Host, r.Host = u.Host, u.Host }
}

// routeOf returns the route template serving method and path on the API port, or on
// the management listener when management is set ("" when no route has that path),
// and whether the method is registered for it.
func (e *env) routeOf(method, path string, management bool) (tmpl string, methodOK bool) {
	routes := e.routes
	if management {
		routes = e.mgmtRoutes
	}
	for _, r := range routes {
		if r.re.MatchString(path) {
			if r.Method == method {
				return r.Path, true
			}
			tmpl = r.Path
		}
	}
	return tmpl, false
}

// ----- logs ---------------------------------------------------------------

// logCapture is a slog.Handler keeping the server's Error-level records.
type logCapture struct {
	mu       sync.Mutex
	recs     []string
	expected []string // substrings of records a test provoked on purpose
}

func (l *logCapture) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelError }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{l, as}
}
func (l *logCapture) WithGroup(string) slog.Handler { return l }

func (l *logCapture) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs)
}

// expect declares that error records containing substr are provoked on purpose.
func (l *logCapture) expect(substr string) {
	l.mu.Lock()
	l.expected = append(l.expected, substr)
	l.mu.Unlock()
}

func (l *logCapture) isExpected(rec string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.expected {
		if strings.Contains(rec, s) {
			return true
		}
	}
	return false
}

type attrHandler struct {
	*logCapture
	attrs []slog.Attr
}

func (h *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.attrs...)
	return h.logCapture.Handle(ctx, r)
}
func (h *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{h.logCapture, append(slices.Clone(h.attrs), as...)}
}

// ----- requests -------------------------------------------------------------

// response is an HTTP answer, read in full.
type response struct {
	Method, Path string
	Route        string // the route template, "" for unrouted paths
	Management   bool   // answered by the management listener
	Status       int
	Header       http.Header
	Body         []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s → %d %s", r.Method, r.Path, r.Status, r.Body)
}

// decode unmarshals the body into v, failing t.
func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: decoding body: %v", r, err)
	}
}

// want fails t unless the status is status.
func (r *response) want(t testing.TB, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body: %s", r.Method, r.Path, r.Status, status, r.Body)
	}
	return r
}

// problem decodes the body as a problem document (already checked by do).
func (r *response) problem(t testing.TB) api.Problem {
	t.Helper()
	return apitest.DecodeProblem(t, r.Body)
}

type reqOption func(*http.Request)

// withHeader sets (or, with value "", deletes) a request header.
func withHeader(k, v string) reqOption {
	return func(r *http.Request) {
		if v == "" {
			r.Header.Del(k)
			return
		}
		r.Header.Set(k, v)
	}
}

// rawBody is a request body sent byte for byte.
type rawBody []byte

// newRequest builds a request. body: nil (none), rawBody, string (raw) or
// anything else (JSON-encoded); a body is sent as application/json unless an
// option says otherwise. tok: the bearer token, "" for none.
func (e *env) newRequest(t testing.TB, method, path, tok string, body any, opts ...reqOption) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for _, o := range opts {
		o(req)
	}
	return req
}

// do sends one request and checks the answer against everything every answer
// must satisfy (see check).
func (e *env) do(t testing.TB, method, path, tok string, body any, opts ...reqOption) *response {
	t.Helper()
	r, err := e.send(e.newRequest(t, method, path, tok, body, opts...))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	e.check(t, r)
	return r
}

// send performs req and reads the whole answer. Safe in any goroutine.
func (e *env) send(req *http.Request) (*response, error) {
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &response{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Header: resp.Header, Body: body}
	r.Management = "http://"+req.URL.Host == e.ManagementURL
	r.Route, _ = e.routeOf(req.Method, req.URL.Path, r.Management)
	return r, nil
}

// check fails t unless r is: documented in openapi.json for its route and
// status (status code listed explicitly, body valid against the schema,
// Content-Type as documented, X-Request-Id present), never a 500, and, for any
// error, a well-formed problem document that leaks nothing internal.
func (e *env) check(t testing.TB, r *response) {
	t.Helper()
	if r.Status == http.StatusInternalServerError {
		t.Errorf("%s: internal server error", r)
	}
	if r.Header.Get(api.RequestIDHeader) == "" {
		t.Errorf("%s: no %s header", r, api.RequestIDHeader)
	}
	tmpl, methodOK := e.routeOf(r.Method, r.Path, r.Management)
	if methodOK {
		ops := documentedStatuses(t)
		key := r.Method + " " + tmpl
		if _, ok := ops[key]; !ok {
			t.Errorf("%s: route %s is not documented", r, key)
		} else if !ops[key][strconv.Itoa(r.Status)] {
			t.Errorf("%s: status %d is not documented for %s (only via default)", r, r.Status, key)
		}
		resp := &http.Response{
			StatusCode: r.Status,
			Header:     r.Header,
			Body:       io.NopCloser(bytes.NewReader(r.Body)),
			Request:    &http.Request{Method: r.Method},
		}
		apitest.Validate(t, resp, tmpl)
	}
	if r.Status >= 400 {
		checkProblem(t, r)
	}
	checkCompactJSON(t, r)
}

// checkCompactJSON fails t unless a JSON answer (application/json or
// application/problem+json) is laid out as encoding/json writes it: compact, whether
// Go or Postgres built it (docs/endpoints.md, One JSON style). Every answer of the suite passes
// here; TestOneJSONStyle makes sure every documented route has answered.
func checkCompactJSON(t testing.TB, r *response) {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if (mt != "application/json" && mt != api.ProblemContentType) || len(r.Body) == 0 {
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, r.Body); err != nil {
		t.Errorf("%s: %s body is not JSON: %v: %.200s", r, mt, err, r.Body)
		return
	}
	if !bytes.Equal(compact.Bytes(), r.Body) {
		t.Errorf("%s: the JSON answer is not compact: %.300s", r, r.Body)
	}
}

var (
	docStatusOnce sync.Once
	docStatuses   map[string]map[string]bool
)

// documentedStatuses maps "METHOD /template" to the status codes openapi.json
// lists explicitly for it.
func documentedStatuses(t testing.TB) map[string]map[string]bool {
	docStatusOnce.Do(func() {
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
			panic(err)
		}
		docStatuses = map[string]map[string]bool{}
		for path, item := range doc.Paths {
			for method, raw := range item {
				var op struct {
					Responses map[string]json.RawMessage `json:"responses"`
				}
				if json.Unmarshal(raw, &op) != nil || op.Responses == nil {
					continue
				}
				set := map[string]bool{}
				for code := range op.Responses {
					set[code] = true
				}
				docStatuses[strings.ToUpper(method)+" "+path] = set
			}
		}
	})
	return docStatuses
}

// leakMarkers are fragments of SQL, PostgreSQL errors and schema names that
// must never reach a client.
var leakMarkers = []string{
	"sqlstate", "pgx", "pgconn", "postgres", "pg_", "plpgsql", "select ", "insert ", "delete from",
	"update app", "update auth", "violates", "constraint", "relation ", "null value", "duplicate key",
	"syntax error", "invalid input", "policy", "row-level", "row level", "rowguard_", "app.", "auth.",
	"api.", "error:", "panic", "goroutine", ".go:", "context deadline", "hint:",
}

// checkProblem fails t unless r is an RFC 9457 problem with every field this
// API promises and no internal text.
func checkProblem(t testing.TB, r *response) {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != api.ProblemContentType {
		t.Errorf("%s: Content-Type %q, want %s", r, r.Header.Get("Content-Type"), api.ProblemContentType)
		return
	}
	p := apitest.DecodeProblem(t, r.Body)
	var kind *api.ProblemKind
	for _, k := range api.ProblemKinds() {
		if k.Type() == p.Type {
			kind = &k
		}
	}
	switch {
	case kind == nil:
		t.Errorf("%s: unknown problem type %q", r, p.Type)
	case kind.Status != p.Status || kind.Title != p.Title:
		t.Errorf("%s: type %s has status %d and title %q", r, p.Type, kind.Status, kind.Title)
	}
	if p.Status != r.Status {
		t.Errorf("%s: problem status %d", r, p.Status)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("%s: empty title or detail", r)
	}
	if inst, err := url.PathUnescape(p.Instance); err != nil || inst != r.Path || strings.ContainsFunc(p.Instance, unicode.IsControl) {
		t.Errorf("%s: instance %q, want the request path (percent-encoded)", r, p.Instance)
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get(api.RequestIDHeader) {
		t.Errorf("%s: request_id %q, header %q", r, p.RequestID, r.Header.Get(api.RequestIDHeader))
	}
	if r.Status == http.StatusUnprocessableEntity && len(p.Errors) == 0 {
		t.Errorf("%s: a validation problem must list errors[]", r)
	}
	for _, fe := range p.Errors {
		if fe.Field == "" || fe.Message == "" {
			t.Errorf("%s: errors[] entry %+v", r, fe)
		}
	}
	// Everything but instance (the caller's own path) and request_id.
	text := strings.ToLower(p.Type + "\n" + p.Title + "\n" + p.Detail)
	for _, fe := range p.Errors {
		text += "\n" + strings.ToLower(fe.Field+" "+fe.Message)
	}
	for _, m := range leakMarkers {
		if strings.Contains(text, m) {
			t.Errorf("%s: problem leaks internal text (%q)", r, m)
		}
	}
}

// wantProblem fails t unless r has status and problem type kind and, when
// fields are given, errors[] names exactly those fields (in any order).
func wantProblem(t testing.TB, r *response, kind api.ProblemKind, fields ...string) api.Problem {
	t.Helper()
	r.want(t, kind.Status)
	p := r.problem(t)
	if p.Type != kind.Type() {
		t.Errorf("%s: problem type %s, want %s", r, p.Type, kind.Type())
	}
	if len(fields) > 0 {
		var got []string
		for _, fe := range p.Errors {
			got = append(got, fe.Field)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(fields))
		if !slices.Equal(got, want) {
			t.Errorf("%s: errors[] fields %v, want %v", r, got, want)
		}
	}
	return p
}

// wantUnauthorized checks a 401 for a protected route: a problem and an RFC
// 6750 challenge.
func wantUnauthorized(t testing.TB, r *response) {
	t.Helper()
	wantProblem(t, r, api.ProblemUnauthorized)
	if c := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, `Bearer realm="rowguard"`) {
		t.Errorf("%s: WWW-Authenticate %q", r, c)
	}
}

// sameProblem fails t unless a and b are the same answer but for request_id
// (and instance, when the paths differ): nothing tells them apart.
func sameProblem(t testing.TB, a, b *response) {
	t.Helper()
	if a.Status != b.Status {
		t.Fatalf("statuses differ: %s vs %s", a, b)
	}
	pa, pb := a.problem(t), b.problem(t)
	pa.RequestID, pb.RequestID = "", ""
	pa.Instance, pb.Instance = "", ""
	ja, _ := json.Marshal(pa)
	jb, _ := json.Marshal(pb)
	if !bytes.Equal(ja, jb) {
		t.Errorf("answers differ:\n%s\n%s", ja, jb)
	}
	for _, h := range []string{"Content-Type", "WWW-Authenticate", "Cache-Control"} {
		if a.Header.Get(h) != b.Header.Get(h) {
			t.Errorf("header %s differs: %q vs %q", h, a.Header.Get(h), b.Header.Get(h))
		}
	}
}

// ----- tokens ---------------------------------------------------------------

// signToken signs claims as an access token with key under kid, the way a
// forger holding that key would. typ is the JOSE typ header.
func signToken(t testing.TB, key ed25519.PrivateKey, kid, typ string, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	k, err := jwk.FromRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, k, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// claimsFor are valid claims for a user's session, issued now.
func claimsFor(u user) map[string]any {
	now := time.Now().Truncate(time.Second)
	return map[string]any{
		jwt.IssuerKey:        tokenIssuer,
		jwt.AudienceKey:      []string{tokenAudience},
		jwt.SubjectKey:       u.ID,
		token.SessionIDClaim: u.SessionID,
		jwt.IssuedAtKey:      now,
		jwt.NotBeforeKey:     now,
		jwt.ExpirationKey:    now.Add(tokenTTL),
		jwt.JwtIDKey:         fmt.Sprintf("jti-%d", now.UnixNano()),
	}
}

// with returns a copy of claims with the given changes (a nil value deletes).
func with(claims map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// unsignedToken is an "alg":"none" JWT naming the server's kid.
func unsignedToken(kid string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]any{"alg": "none", "typ": token.Type, "kid": kid})
	c := map[string]any{}
	for k, v := range claims {
		if tm, ok := v.(time.Time); ok {
			v = tm.Unix()
		}
		c[k] = v
	}
	payload, _ := json.Marshal(c)
	return enc.EncodeToString(hdr) + "." + enc.EncodeToString(payload) + "."
}

// ----- database, seen from outside -------------------------------------------

// snapshot is a digest of every row of every table (sessions without their
// last_used_at, which a read may touch).
type snapshot map[string]string

var snapshotQueries = map[string]string{
	"auth.users":              `select id, email, password_hash, status, created_at, updated_at from auth.users`,
	"auth.sessions":           `select id, user_id, user_agent, ip, created_at, revoked_at from auth.sessions`,
	"app.organizations":       `select * from app.organizations`,
	"app.memberships":         `select * from app.memberships`,
	"app.projects":            `select * from app.projects`,
	"app.services":            `select * from app.services`,
	"app.bookings":            `select * from app.bookings`,
	"app.subscriptions":       `select * from app.subscriptions`,
	"app.checkout":            `select * from app.checkout_sessions`,
	"app.project_members":     `select * from app.project_members`,
	"app.invitations":         `select * from app.invitations`,
	"app.invitation_projects": `select * from app.invitation_projects`,
	"app.audit_log":           `select * from app.audit_log`,
	// Sign-in secrets (the outbox without the columns its sender updates).
	"auth.email_outbox":          `select id, recipient, template, created_at from auth.email_outbox`,
	"auth.email_sign_in_codes":   `select * from auth.email_sign_in_codes`,
	"auth.pending_sign_ups":      `select * from auth.pending_sign_ups`,
	"auth.password_reset_tokens": `select * from auth.password_reset_tokens`,
	"auth.oidc_login_states":     `select * from auth.oidc_login_states`,
	"auth.identities":            `select * from auth.identities`,
	"auth.refresh_tokens":        `select * from auth.refresh_tokens`,
}

func (e *env) snapshot(t testing.TB) snapshot {
	t.Helper()
	s := snapshot{}
	for table, q := range snapshotQueries {
		var digest string
		err := e.admin.QueryRow(context.Background(),
			`select count(*) || ' rows, md5 ' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '-') from (`+q+`) x`).Scan(&digest)
		if err != nil {
			t.Fatal(err)
		}
		s[table] = digest
	}
	return s
}

// unchanged fails t when any table differs from before.
func (e *env) unchanged(t testing.TB, before snapshot, what string) {
	t.Helper()
	after := e.snapshot(t)
	for table, d := range before {
		if after[table] != d {
			t.Errorf("%s wrote to %s: before %s, after %s", what, table, d, after[table])
		}
	}
}

// count runs a count(*) query as superuser.
func (e *env) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.admin.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// exec runs a statement as superuser (fixtures the API cannot build yet).
func (e *env) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := e.admin.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}
