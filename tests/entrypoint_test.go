// Package tests holds the test entry point (tests/run) and checks that CI and README
// agree on it.
package tests

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeTestCommand returns the test command of README's "The two commands": the
// second command of the section's first sh block (the first starts the API).
func readmeTestCommand(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## The two commands\n.*?```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no sh block under \"## The two commands\"")
	}
	var cmds []string
	for _, line := range strings.Split(string(m[1]), "\n") {
		if cmd, _, _ := strings.Cut(line, "#"); strings.TrimSpace(cmd) != "" {
			cmds = append(cmds, strings.Join(strings.Fields(cmd), " "))
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("README's \"The two commands\" block holds %d commands, want 2: %q", len(cmds), cmds)
	}
	return cmds[1]
}

// CI runs exactly the README's test command, and nothing else.
func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	want := readmeTestCommand(t)
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, line := range strings.Split(string(ci), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "set ") ||
			line == `cd "$(dirname "$0")/.."` {
			continue // shebang, comments, shell options, the move to the repository root
		}
		cmds = append(cmds, strings.Join(strings.Fields(line), " "))
	}
	if len(cmds) != 1 || cmds[0] != "exec "+want {
		t.Fatalf(".ci/run runs %q; want exactly %q (README's test command)", cmds, "exec "+want)
	}
}

// The README's test command is tests/run, an executable script in this directory.
func TestEntryPointIsTestsRun(t *testing.T) {
	if got := readmeTestCommand(t); got != "tests/run" {
		t.Fatalf("README's test command is %q, want tests/run", got)
	}
	fi, err := os.Stat("run")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&0o111 == 0 {
		t.Fatalf("tests/run is not executable (%s)", fi.Mode())
	}
	script, err := os.ReadFile("run")
	if err != nil {
		t.Fatal(err)
	}
	// Every gate README promises is in the script, before the tests.
	gates := []string{"gofmt -l .", "go vet ./...", "go mod tidy -diff", "policies", "go test -count=1 -timeout 30m"}
	at := 0
	for _, g := range gates {
		i := strings.Index(string(script[at:]), g)
		if i < 0 {
			t.Fatalf("tests/run lacks %q after the gates before it", g)
		}
		at += i
	}
}
