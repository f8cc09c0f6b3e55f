package api

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every handler reaches the database through exec.go: withConn's acquire timeout (503
// rather than a request hanging on a busy pool) and its one safe retry (a pooled
// connection that died with a restart), then the one batch reader. A sign-in path that
// called the pool itself would skip both; this test finds such a call.
func TestOnlyExecGoTouchesThePool(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	direct := regexp.MustCompile(`\.pool\.(Exec|Query|QueryRow|SendBatch|Begin|BeginTx|Acquire|CopyFrom)\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "exec.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if direct.MatchString(line) {
				t.Errorf("%s:%d calls the pool directly; go through sendBatch, withConn or call: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
