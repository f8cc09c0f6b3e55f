package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
)

// The bad-input sweep is driven by api/openapi.json: every documented operation gets
// malformed path ids, query parameters that break their schema and, when it takes a
// body, malformed JSON, a huge body, the wrong media type, unknown fields, wrong
// types, over-long strings, NUL characters, SQL metacharacters and unicode edge cases.
// Every case is invalid by construction, so every answer must be a 4xx problem (never
// a 2xx, never a 5xx) and the database must not change at all. Routes added later are
// swept as soon as they are documented. The sweep is of the API port: an operation
// documented on the management listener only (/metrics) is not swept.

// sweepCase is one malformed request to an operation.
type sweepCase struct {
	name   string
	path   string // with the query string
	body   any    // as for env.newRequest; nil: none
	opts   []reqOption
	status int    // expected status; 0: any 4xx
	field  string // when the answer is a 422, errors[] must name it ("" : any)
}

// openAPIDoc is the part of the document the sweep reads.
type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]map[string]any `json:"schemas"`
		Parameters map[string]map[string]any `json:"parameters"`
	} `json:"components"`
}

type sweepOp struct {
	method, path string
	auth         bool
	query        []map[string]any // resolved query parameters
	body         map[string]any   // resolved request body schema, nil if none
}

// resolve follows a "$ref" into components.
func (d *openAPIDoc) resolve(v map[string]any) map[string]any {
	for i := 0; i < 8; i++ {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		switch name, _ := strings.CutPrefix(ref, "#/components/"); {
		case strings.HasPrefix(name, "schemas/"):
			v = d.Components.Schemas[strings.TrimPrefix(name, "schemas/")]
		case strings.HasPrefix(name, "parameters/"):
			v = d.Components.Parameters[strings.TrimPrefix(name, "parameters/")]
		default:
			return v
		}
	}
	return v
}

func sweepOps(t *testing.T) []sweepOp {
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	spec, err := apitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	onAPI := spec.OperationsOn(apitest.ListenerAPI)
	var ops []sweepOp
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !slices.Contains(onAPI, strings.ToUpper(method)+" "+path) {
				continue // "parameters", "servers", or not on the API port
			}
			var op struct {
				Parameters  []map[string]any `json:"parameters"`
				Security    *[]any           `json:"security"`
				RequestBody *struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			o := sweepOp{method: strings.ToUpper(method), path: path, auth: op.Security == nil}
			for _, p := range op.Parameters {
				if p = doc.resolve(p); p["in"] == "query" {
					o.query = append(o.query, p)
				}
			}
			if op.RequestBody != nil {
				o.body = doc.resolve(op.RequestBody.Content["application/json"].Schema)
				props, _ := o.body["properties"].(map[string]any)
				for name, ps := range props {
					props[name] = doc.resolve(ps.(map[string]any))
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].method+ops[i].path < ops[j].method+ops[j].path })
	return ops
}

// adversarial strings: SQL metacharacters and unicode edge cases.
var adversarial = []string{
	`'; drop table app.projects; --`, `" or 1=1 --`, `\x00\\'\"`, `$$; select pg_sleep(10); $$`,
	"\u202eevil\u200b\ufeff", "😀ﬃ\u0301", strings.Repeat("ß", 300),
}

// badQueryValues are values that break a query parameter's schema.
func badQueryValues(schema map[string]any) []string {
	var out []string
	typ, _ := schema["type"].(string)
	if typ == "integer" || typ == "number" {
		out = append(out, "abc", "1.5", "1e3", "%27%20OR%201%3D1", "99999999999999999999")
		if m, ok := schema["minimum"].(float64); ok {
			out = append(out, strconv.Itoa(int(m)-1))
		}
		if m, ok := schema["maximum"].(float64); ok {
			out = append(out, strconv.Itoa(int(m)+1))
		}
	}
	if typ == "string" {
		switch schema["format"] {
		case "uuid":
			out = append(out, "nope", "%27%3B%20drop%20table%20x%3B--", "00000000-0000-0000-0000-00000000000g", "%E2%80%AE")
		case "date-time":
			out = append(out, "yesterday", "2024-13-01T00:00:00Z", "%27%20OR%201%3D1")
		}
		if enum, ok := schema["enum"].([]any); ok {
			out = append(out, "BOGUS", "%27%20OR%201%3D1", "%00")
			_ = enum
		}
		if pat, ok := schema["pattern"].(string); ok {
			re := regexp.MustCompile(pat)
			for _, v := range adversarial {
				if !re.MatchString(v) {
					out = append(out, url.QueryEscape(v))
				}
			}
		}
		if m, ok := schema["maxLength"].(float64); ok {
			out = append(out, strings.Repeat("x", int(m)+1))
		}
		if m, ok := schema["minLength"].(float64); ok && m > 0 {
			out = append(out, "")
		}
	}
	return out
}

// wrongType is a JSON value none of schema's types accept.
func wrongType(schema map[string]any) any {
	var types []string
	switch t := schema["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	for _, v := range []any{12345, "a string", true, []any{1}, map[string]any{"a": 1}} {
		var kind string
		switch v.(type) {
		case int:
			kind = "number"
		case string:
			kind = "string"
		case bool:
			kind = "boolean"
		case []any:
			kind = "array"
		default:
			kind = "object"
		}
		if !slices.Contains(types, kind) && !(kind == "number" && slices.Contains(types, "integer")) {
			return v
		}
	}
	return nil
}

func (o sweepOp) cases(e *env, concrete string, maxBody int) []sweepCase {
	var cs []sweepCase
	// Path ids: anything but a canonical UUID is not a route. Path values (a currency, a
	// date) are checked like any other input: 422 naming the segment.
	if strings.Contains(o.path, "{") {
		for _, bad := range []string{"not-a-uuid", "1%27%20OR%20%271%27%3D%271", "%E2%80%AE", "%00", strings.Repeat("a", 3000),
			"00000000-0000-0000-0000-00000000000g", "%7Borg_id%7D", "%20"} {
			for _, seg := range regexp.MustCompile(`\{[a-z_]+\}`).FindAllString(o.path, -1) {
				p := strings.Replace(o.path, seg, bad, 1)
				p = e.fillPath(p)
				c := sweepCase{name: "path " + seg + "=" + bad, path: p, status: http.StatusNotFound}
				if _, isValue := sweepPathValues[seg]; isValue {
					c.status, c.field = http.StatusUnprocessableEntity, strings.Trim(seg, "{}")
					if valid := sweepPathValid[seg]; valid != nil && valid(bad) {
						c.status, c.field = http.StatusNotFound, "" // well-formed, names nothing
					}
				}
				cs = append(cs, c)
			}
		}
	}
	// Query parameters that break their schema.
	for _, q := range o.query {
		name := q["name"].(string)
		schema, _ := q["schema"].(map[string]any)
		for _, v := range badQueryValues(schema) {
			cs = append(cs, sweepCase{name: "query " + name + "=" + v, path: concrete + "?" + name + "=" + v,
				status: http.StatusUnprocessableEntity, field: name})
		}
	}
	if o.body == nil {
		return cs
	}
	// Bodies.
	add := func(name string, body any, status int, field string, opts ...reqOption) {
		cs = append(cs, sweepCase{name: "body " + name, path: concrete, body: body, status: status, field: field, opts: opts})
	}
	add("truncated JSON", `{"a":`, http.StatusUnprocessableEntity, "body")
	add("array", `[]`, http.StatusUnprocessableEntity, "body")
	add("null", `null`, http.StatusUnprocessableEntity, "body")
	add("empty", ``, http.StatusUnprocessableEntity, "body")
	add("two objects", `{} {}`, http.StatusUnprocessableEntity, "body")
	add("invalid UTF-8", rawBody("{\"x\":\"\xff\xfe\"}"), http.StatusUnprocessableEntity, "body")
	add("deeply nested", strings.Repeat("[", 100000), http.StatusUnprocessableEntity, "body")
	add("text/plain", `{}`, http.StatusUnsupportedMediaType, "", withHeader("Content-Type", "text/plain"))
	add("form", `a=b`, http.StatusUnsupportedMediaType, "", withHeader("Content-Type", "application/x-www-form-urlencoded"))
	add("huge", `{"x":"`+strings.Repeat("A", maxBody)+`"}`, http.StatusRequestEntityTooLarge, "")
	add("unknown field", map[string]any{"zz_unknown": adversarial[0]}, http.StatusUnprocessableEntity, "zz_unknown")
	props, _ := o.body["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps := props[n].(map[string]any)
		if v := wrongType(ps); v != nil {
			add(n+" wrong type", map[string]any{n: v}, http.StatusUnprocessableEntity, n)
		}
		add(n+" NUL", map[string]any{n: "a\u0000b"}, http.StatusUnprocessableEntity, n)
		if m, ok := ps["maxLength"].(float64); ok {
			add(n+" too long", map[string]any{n: strings.Repeat("x", int(m)+1)}, http.StatusUnprocessableEntity, n)
		}
		add(n+" repeated", `{"`+n+`":"a","`+n+`":"b"}`, http.StatusUnprocessableEntity, n)
		// Adversarial but well-typed values, next to an unknown field: decoded, still refused.
		for i, v := range adversarial {
			add(fmt.Sprintf("%s adversarial %d", n, i), map[string]any{n: v, "zz_unknown": 1}, http.StatusUnprocessableEntity, "zz_unknown")
		}
	}
	return cs
}

// fillPath replaces the path variables with real ids of the sweep's tenant (others
// with a random UUID: nothing is found, the malformed part is still seen first).
// sweepPathValues are the path parameters that are values rather than ids, each with a
// valid one; any other parameter is an id.
var sweepPathValues = map[string]string{"{from_currency}": "EUR", "{to_currency}": "USD", "{date}": "2030-01-01"}

// sweepPathValid says, for a value parameter whose form admits some of the sweep's bad
// values (a tag may be "not-a-uuid"), which ones are well-formed: those answer 404.
var sweepPathValid = map[string]func(string) bool{}

func (e *env) fillPath(p string) string {
	for v, id := range e.sweepIDs {
		p = strings.ReplaceAll(p, v, id)
	}
	return fillOtherPathVars(p)
}

func TestBadInputSweep(t *testing.T) {
	t.Parallel()
	// Every route configured, so that each reaches its input checks (the webhook answers
	// 503 without a signing secret, before reading anything).
	e := newEnv(t, withOptions(func(o *api.Options) { o.Billing.WebhookSecret = "whsec_sweep" }))
	a := e.newTenant(t, "Sweep Acme")
	e.sweepIDs = map[string]string{"{org_id}": a.Org.ID, "{project_id}": a.Project.ID}

	before := e.snapshot(t)
	var sent, fourxx int
	statuses := map[int]int{}
	for _, op := range sweepOps(t) {
		tok := ""
		if op.auth {
			tok = a.Owner.Token
		}
		for _, c := range op.cases(e, e.fillPath(op.path), api.DefaultMaxBodyBytes) {
			r := e.do(t, op.method, c.path, tok, c.body, c.opts...)
			sent++
			statuses[r.Status]++
			what := op.method + " " + op.path + " [" + c.name + "]"
			switch {
			case r.Status < 400 || r.Status >= 500:
				t.Errorf("%s: %d, want a 4xx problem: %.300s", what, r.Status, r.Body)
				continue
			case c.status != 0 && r.Status != c.status && !(r.Status == http.StatusBadRequest && !op.auth):
				// (A public route may refuse unauthenticated input before reading it at
				// all: the webhook's 400 for a missing signature.)
				t.Errorf("%s: %d, want %d: %.300s", what, r.Status, c.status, r.Body)
			}
			fourxx++
			if r.Status == http.StatusUnprocessableEntity && c.field != "" {
				var named []string
				for _, fe := range r.problem(t).Errors {
					named = append(named, fe.Field)
				}
				if !slices.Contains(named, c.field) {
					t.Errorf("%s: errors[] names %v, want %q", what, named, c.field)
				}
			}
		}
	}
	e.unchanged(t, before, "the bad-input sweep")
	if sent < 300 {
		t.Errorf("only %d requests: is openapi.json read?", sent)
	}
	t.Logf("bad-input sweep: %d requests over %d operations, %d answered 4xx, 5xx: %d; statuses %v",
		sent, len(sweepOps(t)), fourxx, statuses[500]+statuses[502]+statuses[503]+statuses[504], statuses)
}
