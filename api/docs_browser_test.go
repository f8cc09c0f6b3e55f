package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// TestDocsRenderInBrowser renders /docs in Debian's chromium (installed
// when missing and running as root; otherwise the test fails with the apt
// line) and checks what a reader sees: every operation is listed, and each
// operation that takes a body, opened by its deep link, shows the body's
// schema (its property names) and every documented response status.
// Nowhere does a value render as "[object …]".
func TestDocsRenderInBrowser(t *testing.T) {
	chromium := ensureChromium(t)
	f := newFixture(t)
	ts := httptest.NewServer(f.srv)
	defer ts.Close()

	doc := loadBrowserDoc(t)
	list := dumpDOM(t, chromium, ts.URL+"/docs")
	checkNoObjectText(t, "/docs", list)
	for _, op := range doc.ops {
		if !strings.Contains(list, `id="operations-`+op.tag+`-`+op.id+`"`) {
			t.Errorf("/docs does not list operation %s", op.id)
		}
	}

	// One page per operation with a body (Swagger UI renders an opened
	// operation's request body and responses; opening all 89 at once takes
	// minutes). Three browsers at a time.
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for _, op := range doc.ops {
		if op.body == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			url := ts.URL + "/docs#/" + op.tag + "/" + op.id
			dom := dumpDOM(t, chromium, url)
			checkNoObjectText(t, url, dom)
			start := strings.Index(dom, `id="operations-`+op.tag+`-`+op.id+`"`)
			if start < 0 {
				t.Errorf("%s: operation not rendered", url)
				return
			}
			block := dom[start:]
			if end := strings.Index(block[1:], `class="opblock opblock-`); end >= 0 {
				block = block[:end+1]
			}
			rb := strings.Index(block, "opblock-section-request-body")
			if rb < 0 {
				t.Errorf("%s: no request body section", url)
				return
			}
			for _, name := range op.body {
				if !strings.Contains(block[rb:], `json-schema-2020-12__title">`+name+`</strong>`) {
					t.Errorf("%s: request body schema lacks property %q", url, name)
				}
			}
			for _, code := range op.statuses {
				if !strings.Contains(block, `class="response-col_status">`+code+`<`) {
					t.Errorf("%s: response %s not shown", url, code)
				}
			}
		}()
	}
	wg.Wait()
}

type browserOp struct {
	id, tag  string
	body     []string // property names of the JSON request body; nil: no body
	statuses []string
}

type browserDoc struct{ ops []browserOp }

// loadBrowserDoc reads the operations out of the embedded openapi.json.
func loadBrowserDoc(t *testing.T) browserDoc {
	t.Helper()
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &d); err != nil {
		t.Fatal(err)
	}
	var out browserDoc
	for _, methods := range d.Paths {
		for _, raw := range methods {
			var op struct {
				OperationID string   `json:"operationId"`
				Tags        []string `json:"tags"`
				RequestBody *struct {
					Content map[string]struct {
						Schema struct {
							Ref        string         `json:"$ref"`
							Properties map[string]any `json:"properties"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
				Responses map[string]any `json:"responses"`
			}
			if json.Unmarshal(raw, &op) != nil || op.OperationID == "" {
				continue // parameters and the like
			}
			b := browserOp{id: op.OperationID, tag: op.Tags[0]}
			if op.RequestBody != nil {
				s := op.RequestBody.Content["application/json"].Schema
				props := s.Properties
				if s.Ref != "" {
					props = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")].Properties
				}
				b.body = []string{}
				for name := range props {
					b.body = append(b.body, name)
				}
			}
			for code := range op.Responses {
				b.statuses = append(b.statuses, code)
			}
			out.ops = append(out.ops, b)
		}
	}
	if len(out.ops) < 50 {
		t.Fatalf("only %d operations in openapi.json", len(out.ops))
	}
	return out
}

var objectText = regexp.MustCompile(`\[object [A-Za-z]+\]`)

func checkNoObjectText(t *testing.T, url, dom string) {
	t.Helper()
	if m := objectText.FindAllStringIndex(dom, 3); m != nil {
		for _, at := range m {
			t.Errorf("%s renders %q: …%s…", url, dom[at[0]:at[1]], dom[max(0, at[0]-200):at[1]])
		}
	}
}

// dumpDOM loads url in headless chromium and returns the DOM once the page
// is idle (virtual time lets the renderer finish, however slow the machine).
// The page's CSP refuses every other origin; a refusal logged to the
// console fails the test, so the page also never tries.
func dumpDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=10000", "--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, tailString(stderr.String(), 2000))
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") {
			t.Errorf("%s: browser console: %s", url, line)
		}
	}
	return stdout.String()
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
