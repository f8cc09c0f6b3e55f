package api

// Fuzz targets for everything that parses client input before (or instead of)
// PostgreSQL: the JSON body decoder, query parameters, the Authorization header, the
// router's path matching, X-Forwarded-For behind trusted proxies, and the SQLSTATE →
// problem mapping. Their seed corpora (the f.Add calls and testdata/fuzz/) run with
// every `go test`; explore with e.g.
//
//	go test ./api -run '^$' -fuzz FuzzDecodeBody -fuzztime 1m

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// wantClientProblem fails unless err is an *apiError answering with a 4xx.
func wantClientProblem(t *testing.T, err error, what string) *apiError {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: %T %v, want an *apiError", what, err, err)
	}
	if ae.kind.Status < 400 || ae.kind.Status >= 500 {
		t.Fatalf("%s: %d, want a 4xx", what, ae.kind.Status)
	}
	for _, fe := range ae.errors {
		if fe.Field == "" || fe.Message == "" {
			t.Fatalf("%s: errors[] entry %+v", what, fe)
		}
	}
	return ae
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"Apollo","description":"x"}`, `{"name":"Apollo","description":null}`, `{"name":null}`,
		`{}`, `[]`, `null`, `"str"`, `{"name":1}`, `{"name":"a","name":"b"}`, `{"name":"a"} {}`,
		`{"name":"a","extra":true}`, `{"name":"\u0000"}`, "{\"name\":\"\xff\"}", `{"name":"   "}`,
		`{"name":` + strings.Repeat(`[`, 1000), `{"name":"a"`, ``, `{"name":"😀","description":"ﬃ\u202e"}`,
		`{"name":"'; drop table app.projects; --"}`, `{"name":"a","description":{"nested":[1,2,3]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var name string
		var description *string
		err := decodeBody(r, str("name", true, &name, checkName), nullableStr("description", &description, checkDescription))
		if err != nil {
			wantClientProblem(t, err, "decodeBody")
			return
		}
		// Accepted: the values are what the database may store.
		if checkName(name) != "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			t.Fatalf("accepted name %q", name)
		}
		if description != nil && (checkDescription(*description) != "" || strings.ContainsRune(*description, 0)) {
			t.Fatalf("accepted description %q", *description)
		}
	})
}

func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{`{"name":"x"}`, `{"description":null}`, `{}`, `{"name":null}`, `{"slug":"x"}`, `{"name":"x","description":"y"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPatch, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		patch, err := decodePatch(r, func(p map[string]any) []bodyField {
			return []bodyField{patchString("name", false, p, checkName), patchString("description", true, p, checkDescription)}
		})
		if err != nil {
			wantClientProblem(t, err, "decodePatch")
			return
		}
		// The patch handed to SQL is a non-empty object of known keys only.
		m, perr := parseObject(patch)
		if perr != nil || len(m.order) == 0 {
			t.Fatalf("patch %s: %v", patch, perr)
		}
		for _, k := range m.order {
			if k != "name" && k != "description" {
				t.Fatalf("patch %s holds %q", patch, k)
			}
		}
	})
}

func FuzzQueryParams(f *testing.F) {
	for _, s := range []string{
		"", "limit=20", "limit=0", "limit=101", "limit=-1", "limit=1e3", "limit=%00", "limit=1&limit=2",
		"cursor=01a20816-1b77-7a34-94aa-60148c9116fe", "cursor=nope", "cursor=%27%3B--",
		"table=projects&action=update&actor=01a20816-1b77-7a34-94aa-60148c9116fe", "since=2024-01-01T00:00:00Z",
		"until=2024-13-01T00:00:00Z", "row_id=%00", "action=TRUNCATE", "table=app.projects;drop",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = rawQuery
		limit, cursor, err := pageParams(r)
		if err != nil {
			wantClientProblem(t, err, "pageParams")
		} else {
			if limit < 1 || limit > MaxPageLimit {
				t.Fatalf("limit %d accepted", limit)
			}
			if cursor != nil && !isUUID(cursor.(string)) {
				t.Fatalf("cursor %v accepted", cursor)
			}
		}
		filters, errs := auditFilterParams(r)
		if len(errs) > 0 {
			wantClientProblem(t, validationError(errs...), "auditFilterParams")
			return
		}
		if s, ok := filters.table.(string); ok && !tableNameRE.MatchString(s) {
			t.Fatalf("table %q accepted", s)
		}
		if s, ok := filters.actor.(string); ok && !isUUID(s) {
			t.Fatalf("actor %q accepted", s)
		}
		if s, ok := filters.rowID.(string); ok && (strings.ContainsRune(s, 0) || !utf8.ValidString(s) || len(s) > MaxAuditRowIDLength) {
			t.Fatalf("row_id %q accepted", s)
		}
	})
}

func FuzzBearerHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Basic Zm9vOmJhcg==", "Bearer", "Bearer  ", "Bearer a b", "Bearer\ta", "Bearer a\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", header)
		tok, problem := bearerToken(r)
		if (tok == "") == (problem == "") {
			t.Fatalf("%q: token %q and problem %q", header, tok, problem)
		}
		if tok != "" && strings.ContainsAny(tok, " \t") {
			t.Fatalf("%q: token %q has blanks", header, tok)
		}
	})
}

// FuzzClientAddr feeds arbitrary peers and X-Forwarded-For lines to the client-address
// walk: it never panics, answers the peer or an address the header holds (normalized),
// and whatever a client sent, the address a trusted proxy appends for it wins.
func FuzzClientAddr(f *testing.F) {
	for _, s := range [][3]string{
		{"10.0.0.5:1234", "203.0.113.9", ""}, {"10.0.0.5:1234", "1.2.3.4, 203.0.113.9", "10.0.0.7"},
		{"198.51.100.7:1", "10.0.0.1", ""}, {"[::1]:80", "[2001:db8::1]:443, ::ffff:10.0.0.7", ""},
		{"10.0.0.5:1234", "unknown, bogus", "fe80::1%eth0"}, {"@", "203.0.113.9", ""},
		{"10.0.0.5:1234", " , ,,", "[::1"}, {"10.0.0.5:1234", "10.0.0.9, 127.0.0.1", "10.0.0.8"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	proxies := newTrustedProxies([]netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"),
	})
	f.Fuzz(func(t *testing.T, peer, line1, line2 string) {
		lines := []string{line1, line2}
		got := proxies.clientAddr(peer, lines)
		p, ok := parsePeer(peer)
		if got.IsValid() != ok {
			t.Fatalf("peer %q parses %v, answer %v", peer, ok, got)
		}
		if !ok {
			return
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("answer %v is not normalized", got)
		}
		if !proxies.trusts(p) && got != p {
			t.Fatalf("untrusted peer %v: answer %v", p, got)
		}
		if got != p {
			found := false
			for _, l := range lines {
				for _, e := range strings.Split(l, ",") {
					if a, ok := parseHop(strings.TrimSpace(e)); ok && a == got {
						found = true
					}
				}
			}
			if !found {
				t.Fatalf("answer %v is neither the peer nor in %q", got, lines)
			}
		}
		// A trusted proxy appends the client it saw: that client wins, whatever the
		// client itself wrote into the header.
		if proxies.trusts(p) {
			client := netip.MustParseAddr("203.0.113.77")
			if a := proxies.clientAddr(peer, append(lines, client.String())); a != client {
				t.Fatalf("with %v appended by the proxy: %v", client, a)
			}
			if a := proxies.clientAddr(peer, []string{line1, line2 + ", " + client.String() + ", 10.0.0.7"}); a != client {
				t.Fatalf("with %v appended through two proxies: %v", client, a)
			}
		}
	})
}

// FuzzRouter sends arbitrary paths and methods through the whole handler, and through
// the management handler (no database): every answer is a problem or a documented
// success, never a 500 and never a panic.
func FuzzRouter(f *testing.F) {
	for _, s := range []string{
		"/v1/orgs/01a20816-1b77-7a34-94aa-60148c9116fe/projects", "/v1/orgs/x", "/v1/orgs/%2e%2e/projects",
		"/v1/orgs/01A20816-1B77-7A34-94AA-60148C9116FE", "//v1//orgs", "/metrics", "/v1/orgs/01a20816-1b77-7a34-94aa-60148c9116fe/audit?table=x",
		"/v1/orgs/{org_id}", "/v1/orgs/%00", "/v1/auth/me?cursor=%ff",
	} {
		f.Add("GET", s)
	}
	f.Add("PATCH", "/v1/orgs/01a20816-1b77-7a34-94aa-60148c9116fe")
	f.Add("BREW", "/healthz")
	var logs bytes.Buffer
	srv := newTestServer(f, &logs)
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return // net/http would refuse the request line before any handler
		}
		for _, h := range []http.Handler{srv, srv.Management()} {
			r := &http.Request{Method: method, URL: u, RequestURI: target, Header: http.Header{}, Body: http.NoBody, Host: "x"}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch {
			case w.Code == http.StatusInternalServerError:
				t.Fatalf("%s %q: 500 %s", method, target, w.Body)
			case w.Code >= 400 && w.Header().Get("Content-Type") != ProblemContentType:
				t.Fatalf("%s %q: %d without a problem: %s", method, target, w.Code, w.Body)
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < '!' || c > '~' || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}

// FuzzMapPgError: whatever a database error says, the answer is a documented problem
// whose detail repeats only the messages of RGnnn codes (written for clients).
func FuzzMapPgError(f *testing.F) {
	for _, c := range [][5]string{
		{"RG404", "project not found", "", "", ""}, {"RG422", "bad", "name", "", ""}, {"RG999", "x", "", "", ""},
		{"RG4", "x", "", "", ""}, {"RG40x", "x", "", "", ""}, {"42501", "new row violates", "", "", "projects"},
		{"23505", "dup", "", "projects_org_id_name_key", "projects"}, {"23503", "fk", "", "projects_created_by_fkey", "projects"},
		{"23514", "check", "", "organizations_slug_check", "organizations"}, {"22P02", "invalid input", "", "", ""},
		{"57014", "canceling statement due to statement timeout", "", "", ""}, {"40001", "serialization", "", "", ""},
		{"XX000", "internal", "", "", ""}, {"", "", "", "", ""},
	} {
		f.Add(c[0], c[1], c[2], c[3], c[4])
	}
	var logs bytes.Buffer
	srv := newTestServer(f, &logs)
	f.Fuzz(func(t *testing.T, code, message, column, constraint, table string) {
		logs.Reset()
		pe := &pgconn.PgError{Code: code, Message: message, ColumnName: column, ConstraintName: constraint, TableName: table}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		e := srv.mapError(r, pe)
		known := false
		for _, k := range ProblemKinds() {
			known = known || k == e.kind
		}
		if !known {
			t.Fatalf("%s: unknown kind %+v", code, e.kind)
		}
		if e.kind == ProblemInternal && slices.Contains([]string{"23505", "23503", "23514", "23502", "42501", "22P02", "22001", "57014", "P0002"}, code) {
			t.Fatalf("%s: a client or timeout error answered 500", code)
		}
		if !strings.HasPrefix(code, "RG") {
			// Only RGnnn messages are written for clients: any other answer is the
			// same whatever the database said.
			quiet := *pe
			quiet.Message = "SECRET"
			if e2 := srv.mapError(r, &quiet); e2.detail != e.detail || e2.kind != e.kind {
				t.Fatalf("%s: the answer depends on the database message: %q vs %q", code, e.detail, e2.detail)
			}
		}
		w := httptest.NewRecorder()
		writeProblem(w, r, e)
		if w.Code != e.kind.Status || w.Header().Get("Content-Type") != ProblemContentType {
			t.Fatalf("%s: wrote %d %q", code, w.Code, w.Header().Get("Content-Type"))
		}
		_, _ = io.Copy(io.Discard, w.Body)
	})
}
