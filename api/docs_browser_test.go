package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// TestDocsRenderInBrowser renders /docs in Debian's chromium (installed
// when missing and running as root; otherwise the test fails with the apt
// line) and checks what a reader sees, for every operation of openapi.json:
// it is listed; opened, it shows its request body's schema (the property
// names) and every documented response, each with its schema (the
// Schema tab, the property names, or the type of a schema without
// properties); nowhere does a value render as "[object …]", and the
// browser logs nothing (a CSP refusal would be logged).
//
// One page load and one script (docsCheckJS) do it: the script resolves
// the $refs of all paths at once (Swagger UI otherwise resolves each
// operation as it opens, seconds apiece), then opens the operations ten at
// a time through Swagger UI's own layout action, as a click would, checks
// them and closes them again. (docExpansion "full" keeps all 91 open and
// resolves them one by one: over five minutes.)
//
// The planted subtest serves the same page with a renderer bug (a plugin
// rendering schemas as their JavaScript string) and requires the same
// check to fail on it.
func TestDocsRenderInBrowser(t *testing.T) {
	chromium := ensureChromium(t)
	f := newFixture(t)
	ts := httptest.NewServer(f.srv)
	defer ts.Close()
	doc := loadBrowserDoc(t)
	b := startBrowser(t, chromium)

	t.Run("every operation", func(t *testing.T) {
		start := time.Now()
		page, session := checkDocsPage(t, b, ts.URL+"/docs", doc.ops, 60*time.Second)
		if path := os.Getenv("ROWGUARD_DOCS_SCREENSHOT"); path != "" {
			// The page with one operation open, for README and reviews.
			b.screenshot(t, session, `(async () => {
			  ui.layoutActions.show(["operations", "organizations", "createOrganization"], true);
			  while (!document.querySelector("#operations-organizations-createOrganization tr.response"))
			    await new Promise((r) => setTimeout(r, 50));
			})()`, path)
		}
		for _, p := range page.Problems {
			t.Errorf("/docs: %s", p)
		}
		seen := map[string]bool{}
		slowest := docsResult{}
		for _, r := range page.Ops {
			if r.Ms > slowest.Ms {
				slowest = r
			}
			seen[r.ID] = true
			for _, p := range r.Problems {
				t.Errorf("/docs operation %q: %s", r.ID, p)
			}
		}
		for _, op := range doc.ops {
			if !seen[op.ID] {
				t.Errorf("/docs: operation %s not checked", op.ID)
			}
		}
		t.Logf("%d operations (%d with a request body, %d responses) checked in %v (resolving $refs %v; slowest operation %s %v)",
			len(doc.ops), doc.bodies, doc.responses, time.Since(start).Round(time.Millisecond),
			time.Duration(page.ResolveMs)*time.Millisecond, slowest.ID, time.Duration(slowest.Ms)*time.Millisecond)
	})

	t.Run("planted renderer bug", func(t *testing.T) {
		planted := httptest.NewServer(plantRendererBug(t, f.srv))
		defer planted.Close()
		// A few operations suffice: one with a request body, and one with
		// each kind of response (a JSON schema, a problem, a plain type).
		var ops []browserOp
		for _, id := range []string{"createOrganization", "listOrganizations", "docs"} {
			for _, op := range doc.ops {
				if op.ID == id {
					ops = append(ops, op)
				}
			}
		}
		if len(ops) != 3 {
			t.Fatalf("planted check: operations missing from openapi.json: %+v", ops)
		}
		page, _ := checkDocsPage(t, b, planted.URL+"/docs", ops, 3*time.Second)
		var body, schema, object int
		for _, r := range page.Ops {
			if len(r.Problems) == 0 {
				t.Errorf("planted renderer bug: operation %s passes the check", r.ID)
			}
			for _, p := range r.Problems {
				switch {
				case strings.Contains(p, "request body schema lacks"):
					body++
				case strings.Contains(p, "schema lacks") || strings.Contains(p, "schema does not say"):
					schema++
				case strings.Contains(p, "[object Object]"):
					object++
				default: // listing, resolution, response rows: the bug leaves them alone
					t.Errorf("planted renderer bug: unexpected problem %s: %s", r.ID, p)
				}
			}
		}
		if body == 0 || schema == 0 || object == 0 {
			t.Errorf("planted renderer bug: %d request body, %d response schema, %d [object] problems; want each > 0", body, schema, object)
		}
	})
}

// plantRendererBug serves h with a broken docs.js: a Swagger UI plugin
// that renders every JSON schema as String(schema), "[object Object]".
func plantRendererBug(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/docs/docs.js", nil))
	js := rec.Body.String()
	const anchor = "validatorUrl: null,"
	if rec.Code != 200 || !strings.Contains(js, anchor) {
		t.Fatalf("GET /docs/docs.js: %d, no %q to plant the bug at", rec.Code, anchor)
	}
	js = strings.Replace(js, anchor, anchor+` plugins: [function (system) { return { wrapComponents: {
	  JSONSchema202012: function () { return function (props) {
	    return system.React.createElement("div", { className: "json-schema-2020-12" }, String(props.schema));
	  }; } } }; }],`, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/docs/docs.js" {
			h.ServeHTTP(w, r)
			return
		}
		for k, v := range rec.Header() {
			if k != "Etag" && k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		_, _ = io.WriteString(w, js)
	})
}

type docsPage struct {
	ResolveMs int          `json:"resolveMs"`
	Problems  []string     `json:"problems"` // of the page as a whole
	Ops       []docsResult `json:"ops"`
}

type docsResult struct {
	ID       string   `json:"id"`
	Ms       int      `json:"ms"`
	Problems []string `json:"problems"`
}

// checkDocsPage loads url and runs docsCheckJS over ops; operations that
// do not show what they should are waited for up to wait, later ones (the
// check is failing already) for 3 s. It returns the results and the tab's
// session.
func checkDocsPage(t *testing.T, b *browser, url string, ops []browserOp, wait time.Duration) (docsPage, string) {
	t.Helper()
	arg, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 10 // operations opened at once
	script := fmt.Sprintf("(%s)(%s, %d, %d, %d, %d)", docsCheckJS, arg, batch, (5 * time.Minute).Milliseconds(), wait.Milliseconds(), 3000)
	var page docsPage
	session := b.eval(t, url, script, &page)
	return page, session
}

const docsCheckJS = `// Checks each operation of the /docs page as a reader sees it: listed,
// then opened (batch at a time, as a click would, through Swagger UI's own
// layout action), its request body and every response checked, then closed
// again, so the page never holds many opened operations. Operations that
// do not yet show what is expected are polled until they do or waitMs
// passes (failWaitMs once the check is failing anyway).
async (ops, batch, loadMs, waitMs, failWaitMs) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const objectText = /\[object [A-Za-z]+\]/;
  const start = performance.now();
  while (!(window.ui && document.querySelector(".opblock"))) {
    if (performance.now() - start > loadMs) return { problems: ["/docs lists no operation"], ops: [] };
    await sleep(25);
  }
  const titles = (el) => el ? [...el.querySelectorAll(".json-schema-2020-12__title")].map((t) => t.textContent.trim()) : [];
  const inspect = (op, el) => {
    const problems = [];
    if (!ui.specSelectors.specResolvedSubtree(["paths", op.path, op.method])) problems.push("not resolved");
    const m = el.textContent.match(objectText);
    if (m) problems.push("renders " + m[0]);
    if (op.body) {
      const rb = el.querySelector(".opblock-section-request-body");
      if (!rb) problems.push("no request body section");
      else {
        const shown = titles(rb);
        const missing = op.body.filter((n) => !shown.includes(n));
        if (missing.length) problems.push("request body schema lacks " + missing.join(", "));
      }
    }
    for (const r of op.responses) {
      const row = el.querySelector('tr.response[data-code="' + r.code + '"]');
      if (!row) { problems.push("response " + r.code + " not shown"); continue; }
      if (r.props === null && r.type === null) continue; // no content
      const tab = row.querySelector('.model-example button[data-name="model"]');
      if (!tab || tab.getAttribute("aria-selected") !== "true") { problems.push("response " + r.code + ": schema tab not shown"); continue; }
      const schema = row.querySelector(".model-example .json-schema-2020-12");
      if (!schema || schema.textContent.trim() === "") { problems.push("response " + r.code + ": schema empty"); continue; }
      if (r.props && r.props.length) {
        const shown = titles(schema.closest(".model-example"));
        const missing = r.props.filter((n) => !shown.includes(n));
        if (missing.length) problems.push("response " + r.code + " schema lacks " + missing.join(", "));
      } else if (r.type && !schema.textContent.includes(r.type)) {
        problems.push("response " + r.code + " schema does not say " + r.type);
      }
    }
    return problems;
  };
  // Resolving the $refs is what takes long, done once per operation
  // as it opens (seconds each); resolved once for all paths, as here, it
  // takes about as long as for three operations. The rendering is the same.
  const r0 = performance.now();
  ui.specActions.requestResolvedSubtree(["paths"]);
  while (!ui.specSelectors.specResolvedSubtree(["paths"])) {
    if (performance.now() - r0 > loadMs) return { problems: ["paths not resolved"], ops: [] };
    await sleep(25);
  }
  const resolveMs = Math.round(performance.now() - r0);
  const out = [];
  let wait = waitMs;
  for (let i = 0; i < ops.length; i += batch) {
    const group = [];
    for (const op of ops.slice(i, i + batch)) {
      const id = "operations-" + op.tag + "-" + op.id;
      if (!document.getElementById(id)) { out.push({ id: op.id, problems: ["not listed"] }); continue; }
      group.push({ op, id, key: ["operations", op.tag, op.id], problems: ["not checked"] });
    }
    for (const g of group) ui.layoutActions.show(g.key, true);
    const t0 = performance.now();
    for (;;) {
      await sleep(10);
      let failing = 0;
      for (const g of group) {
        const el = document.getElementById(g.id);
        g.problems = el ? inspect(g.op, el) : ["vanished"];
        if (g.problems.length) failing++;
      }
      if (failing === 0 || performance.now() - t0 > wait) break;
    }
    for (const g of group) ui.layoutActions.show(g.key, false);
    const ms = Math.round(performance.now() - t0);
    for (const g of group) {
      if (g.problems.length) wait = failWaitMs; // failing already: do not wait as long again
      out.push({ id: g.op.id, ms, problems: g.problems });
    }
  }
  const problems = [];
  const m = document.body.textContent.match(objectText);
  if (m) problems.push("page renders " + m[0]);
  return { resolveMs, problems, ops: out };
}`

type browserOp struct {
	ID        string          `json:"id"`
	Tag       string          `json:"tag"`
	Path      string          `json:"path"`
	Method    string          `json:"method"`
	Body      []string        `json:"body"` // property names of the JSON request body; nil: no body
	Responses []browserAnswer `json:"responses"`
}

// browserAnswer is one documented response as a reader should see it:
// the property names of its (first media type's) schema, or, for a schema
// without properties, its type; both nil: no content.
type browserAnswer struct {
	Code  string   `json:"code"`
	Props []string `json:"props"`
	Type  *string  `json:"type"`
}

type browserDoc struct {
	ops               []browserOp
	bodies, responses int
}

type docSchema struct {
	Ref        string                     `json:"$ref"`
	Type       any                        `json:"type"`
	Properties map[string]json.RawMessage `json:"properties"`
	AllOf      []docSchema                `json:"allOf"`
}

type docMedia struct {
	Schema docSchema `json:"schema"`
}

// loadBrowserDoc reads the operations out of the embedded openapi.json.
func loadBrowserDoc(t *testing.T) browserDoc {
	t.Helper()
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas   map[string]docSchema       `json:"schemas"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &d); err != nil {
		t.Fatal(err)
	}
	// props collects the property names of s, through $ref and allOf
	// (Swagger UI shows allOf members' properties merged).
	var props func(s docSchema, names map[string]bool, depth int) (typ string)
	props = func(s docSchema, names map[string]bool, depth int) string {
		if depth > 10 {
			t.Fatalf("openapi.json: $ref/allOf nested too deep at %q", s.Ref)
		}
		if s.Ref != "" {
			ref, ok := d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
			if !ok {
				t.Fatalf("openapi.json: unresolved %s", s.Ref)
			}
			return props(ref, names, depth+1)
		}
		for n := range s.Properties {
			names[n] = true
		}
		typ, _ := s.Type.(string)
		for _, a := range s.AllOf {
			if at := props(a, names, depth+1); typ == "" {
				typ = at
			}
		}
		return typ
	}
	sorted := func(m map[string]bool) []string {
		out := []string{}
		for n := range m {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	var out browserDoc
	for path, methods := range d.Paths {
		for method, raw := range methods {
			var op struct {
				OperationID string   `json:"operationId"`
				Tags        []string `json:"tags"`
				RequestBody *struct {
					Content map[string]docMedia `json:"content"`
				} `json:"requestBody"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if json.Unmarshal(raw, &op) != nil || op.OperationID == "" {
				continue // parameters and the like
			}
			b := browserOp{ID: op.OperationID, Tag: op.Tags[0], Path: path, Method: method}
			if op.RequestBody != nil {
				names := map[string]bool{}
				props(op.RequestBody.Content["application/json"].Schema, names, 0)
				b.Body = sorted(names)
				out.bodies++
			}
			for code, raw := range op.Responses {
				var r struct {
					Ref     string          `json:"$ref"`
					Content json.RawMessage `json:"content"`
				}
				if err := json.Unmarshal(raw, &r); err != nil {
					t.Fatal(err)
				}
				if r.Ref != "" {
					ref, ok := d.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
					if !ok {
						t.Fatalf("openapi.json: unresolved %s", r.Ref)
					}
					if err := json.Unmarshal(ref, &r); err != nil {
						t.Fatal(err)
					}
				}
				a := browserAnswer{Code: code}
				if mt := firstKey(t, r.Content); mt != "" {
					var content map[string]docMedia
					if err := json.Unmarshal(r.Content, &content); err != nil {
						t.Fatal(err)
					}
					names := map[string]bool{}
					typ := props(content[mt].Schema, names, 0)
					if len(names) > 0 {
						a.Props = sorted(names)
					} else {
						if typ == "" {
							t.Fatalf("openapi.json: %s %s: response %s has neither properties nor a type", method, path, code)
						}
						a.Type = &typ
					}
				}
				b.Responses = append(b.Responses, a)
				out.responses++
			}
			sort.Slice(b.Responses, func(i, j int) bool { return b.Responses[i].Code < b.Responses[j].Code })
			out.ops = append(out.ops, b)
		}
	}
	if len(out.ops) < 50 {
		t.Fatalf("only %d operations in openapi.json", len(out.ops))
	}
	sort.Slice(out.ops, func(i, j int) bool { return out.ops[i].ID < out.ops[j].ID })
	return out
}

// firstKey is the first key of the JSON object raw (the media type Swagger
// UI shows first), "" when raw is empty.
func firstKey(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("openapi.json: content is not an object: %s", raw)
	}
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := tok.(string)
	return k
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// ensureChromium finds Debian's chromium, installing it with apt-get when it
// is missing and the test runs as root (under the lock pgcluster's
// PostgreSQL installs take, so concurrent test packages do not collide).
func ensureChromium(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const apt = "sudo apt-get install -y chromium"
	if os.Geteuid() != 0 {
		t.Fatalf("chromium is not installed; install it with: %s", apt)
	}
	lock, err := os.OpenFile("/tmp/rowguard-apt.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	for {
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != syscall.EINTR {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p // installed while we waited
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "chromium"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s\n(install it with: %s)", strings.Join(args, " "), err, tailString(string(out), 2000), apt)
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium still missing after apt-get install: %v", err)
	}
	fmt.Fprintln(os.Stderr, "installed chromium for TestDocsRenderInBrowser")
	return p
}
