package policyreport

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite "+RoleMatrixSQLPath+" from expectations.go")

// The pgTAP role matrix proves exactly the Go expectation table: its SQL is generated.
func TestRoleMatrixSQLIsGenerated(t *testing.T) {
	path := filepath.Join("..", "..", RoleMatrixSQLPath)
	want := RoleMatrixSQL()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run go test ./internal/policyreport -run TestRoleMatrixSQLIsGenerated -update", RoleMatrixSQLPath)
	}
}

// The table is well formed: every command is one of the four, every actor named
// exists, no probe can break out of its dollar quotes, and no target is declared twice.
func TestExpectationTableIsWellFormed(t *testing.T) {
	names := map[string]bool{}
	for _, a := range Actors {
		names[a.Name] = true
	}
	seen := map[string]bool{}
	for _, e := range Expectations {
		key := e.Table + " " + e.Command + " " + e.Target
		if seen[key] {
			t.Errorf("declared twice: %s", key)
		}
		seen[key] = true
		if !slices.Contains(Commands, e.Command) {
			t.Errorf("%s: command %q", key, e.Command)
		}
		if strings.Contains(e.Probe, "$$") || strings.Contains(e.Probe, ";") {
			t.Errorf("%s: the probe must be one statement without $$: %s", key, e.Probe)
		}
		for _, a := range e.Allowed {
			if !names[a] {
				t.Errorf("%s: unknown actor %q", key, a)
			}
		}
	}
	if len(PermissionExpectations) != len(Actors) {
		t.Errorf("%d permission expectations for %d actors", len(PermissionExpectations), len(Actors))
	}
	for i, l := range PermissionExpectations {
		if l.Actor != Actors[i].Name {
			t.Errorf("permission expectation %d is for %s, actor %d is %s", i, l.Actor, i, Actors[i].Name)
		}
	}
}
