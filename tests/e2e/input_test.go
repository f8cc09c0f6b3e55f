package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// badCase is one invalid request and the problem it must get.
type badCase struct {
	name   string
	body   any // as for env.newRequest
	opts   []reqOption
	kind   api.ProblemKind
	fields []string // errors[] must name exactly these (422 only)
}

// runBadInput sends each case and checks the answer is the expected 4xx
// problem naming the fields, and that the database did not change at all.
// The subtests run one after another: each compares the whole database.
func (e *env) runBadInput(t *testing.T, method, path, tok string, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.snapshot(t)
			r := e.do(t, method, path, tok, c.body, c.opts...)
			wantProblem(t, r, c.kind, c.fields...)
			e.unchanged(t, before, method+" "+path+" ("+c.name+")")
		})
	}
}

func invalid(name string, body any, fields ...string) badCase {
	return badCase{name: name, body: body, kind: api.ProblemValidation, fields: fields}
}

// bodyCases are the malformed bodies every JSON endpoint refuses, derived
// from a valid body: unknown member, repeated member, not JSON, not an
// object, trailing data, bad UTF-8, wrong media types and oversized bodies.
// key is a member of valid.
func bodyCases(valid map[string]any, key string) []badCase {
	enc := func(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }
	unknown := map[string]any{"is_admin": true}
	for k, v := range valid {
		unknown[k] = v
	}
	validJSON := enc(valid)
	dup := `{` + mustJSON(key) + `:` + mustJSON(valid[key]) + `,` + strings.TrimPrefix(validJSON, `{`)
	// Over the server's 1 MiB limit: once with a Content-Length, refused
	// before reading; once streamed (chunked), refused while decoding.
	huge := []byte(`{` + mustJSON(key) + `:"` + strings.Repeat("a", api.DefaultMaxBodyBytes) + `"}`)
	return []badCase{
		invalid("unknown field", unknown, "is_admin"),
		invalid("repeated field", rawBody(dup), key),
		invalid("empty body", "", "body"),
		invalid("not JSON", "email=a@example.com", "body"),
		invalid("truncated JSON", strings.TrimSuffix(validJSON, "}"), "body"),
		invalid("array", "["+validJSON+"]", "body"),
		invalid("null", "null", "body"),
		invalid("trailing data", validJSON+` {}`, "body"),
		invalid("deeply nested", rawBody(`{`+mustJSON(key)+`:`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`), "body"),
		invalid("invalid UTF-8", rawBody(append([]byte(`{"`+key+`":"`), 0xff, 0xfe, '"', '}')), "body"),
		{name: "text/plain", body: validJSON, opts: []reqOption{withHeader("Content-Type", "text/plain")}, kind: api.ProblemUnsupportedMediaType},
		{name: "no content type", body: validJSON, opts: []reqOption{withHeader("Content-Type", "")}, kind: api.ProblemUnsupportedMediaType},
		{name: "form", body: validJSON, opts: []reqOption{withHeader("Content-Type", "application/x-www-form-urlencoded")}, kind: api.ProblemUnsupportedMediaType},
		{name: "latin1", body: validJSON, opts: []reqOption{withHeader("Content-Type", "application/json; charset=iso-8859-1")}, kind: api.ProblemUnsupportedMediaType},
		{name: "too large", body: rawBody(huge), kind: api.ProblemPayloadTooLarge},
		{name: "too large streamed", body: io.MultiReader(bytes.NewReader(huge)), kind: api.ProblemPayloadTooLarge},
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// limitCases are the invalid page parameters of every list endpoint.
func limitCases() []struct{ query, field string } {
	return []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=-1", "limit"}, {"limit=abc", "limit"},
		{"limit=1.5", "limit"}, {"limit=", "limit"}, {"limit=99999999999999999999", "limit"},
		{"limit=%2B5", "limit"}, {"limit=1&limit=2", "limit"},
		{"cursor=abc", "cursor"}, {"cursor=", "cursor"}, {"cursor=1", "cursor"},
		{"cursor=00000000-0000-0000-0000-00000000000g", "cursor"},
		{"cursor=%27%3B%20drop%20table%20app.projects%3B--", "cursor"},
	}
}

// runLimitCases checks every invalid page parameter gets a 422 naming it.
func (e *env) runLimitCases(t *testing.T, path, tok string) {
	t.Helper()
	for _, c := range limitCases() {
		r := e.do(t, "GET", path+"?"+c.query, tok, nil)
		wantProblem(t, r, api.ProblemValidation, c.field)
	}
	// Both wrong: both named.
	r := e.do(t, "GET", path+"?limit=0&cursor=x", tok, nil)
	wantProblem(t, r, api.ProblemValidation, "cursor", "limit")
}
