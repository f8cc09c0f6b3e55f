package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/policyreport"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestPoliciesReport(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)

	// The migrated database follows every rule: exit 0, in every format.
	code, out, stderr := runArgs(t, "policies", "--format", "json")
	if code != 0 {
		t.Fatalf("policies --format json: exit %d\n%s%s", code, out, stderr)
	}
	var rep policyreport.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	tables := map[string]policyreport.Table{}
	for _, tb := range rep.Tables {
		tables[tb.Name] = tb
	}
	projects, ok := tables["app.projects"]
	if !ok || !projects.RLSEnabled || !projects.RLSForced || len(projects.Policies) < 4 {
		t.Fatalf("app.projects: %+v", projects)
	}
	for _, p := range projects.Policies {
		if len(p.Roles) != 1 || p.Comment == nil || p.Using == nil && p.WithCheck == nil {
			t.Errorf("app.projects policy %+v", p)
		}
		if p.Name == "projects_update" && (p.Command != "UPDATE" || p.Using == nil || p.WithCheck == nil || !strings.Contains(*p.Using, "org_id")) {
			t.Errorf("projects_update read back as %+v", p)
		}
	}
	for _, cmd := range policyreport.Commands {
		if !slices.Contains(projects.Matrix[cmd], "rowguard_api") {
			t.Errorf("matrix app.projects × %s = %v", cmd, projects.Matrix[cmd])
		}
	}
	if m := tables["app.audit_log"].Matrix; !slices.Equal(m["SELECT"], []string{"rowguard_api"}) ||
		!slices.Equal(m["INSERT"], []string{"rowguard_kernel"}) || m["UPDATE"] != nil || m["DELETE"] != nil {
		t.Errorf("matrix of the append-only audit log: %v", m)
	}
	for _, name := range []string{"auth.users", "auth.sessions", "app.organizations", "app.memberships"} {
		if _, ok := tables[name]; !ok {
			t.Errorf("%s missing from the report", name)
		}
	}
	if len(rep.Violations) != 0 {
		t.Errorf("violations on a clean database: %v", rep.Violations)
	}

	code, out, _ = runArgs(t, "policies", "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| `app.projects` | yes | yes | rowguard_api") ||
		!strings.Contains(out, "| projects_delete | DELETE | rowguard_api |") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
	code, out, _ = runArgs(t, "policies")
	if code != 0 || !strings.Contains(out, "app.projects  (RLS enabled: yes, forced: yes, ") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	if code, _, _ := runArgs(t, "policies", "--format", "yaml"); code != 2 {
		t.Errorf("--format yaml: exit %d, want 2", code)
	}

	// Planted violations: a table whose RLS is not forced, one without RLS that the API
	// role can read, and a policy without a comment. Each is named; the exit status is 1.
	conn, err := pgx.Connect(context.Background(), db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{
		"create table app.canary (org_id uuid not null)",
		"alter table app.canary enable row level security",
		"create policy canary_select on app.canary for select to rowguard_api using (true)",
		"create table public.stray (id int)",
		"grant select on public.stray to rowguard_api",
	} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	code, out, stderr = runArgs(t, "policies", "--format", "markdown")
	if code != 1 {
		t.Fatalf("planted violations: exit %d, want 1\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"app.canary: row-level security is not forced",
		"app.canary: policy canary_select has no COMMENT ON POLICY",
		"public.stray: row-level security is not enabled",
	} {
		if !strings.Contains(out, want) || !strings.Contains(stderr, want) {
			t.Errorf("report or error does not say %q\nstdout:\n%s\nstderr: %s", want, out, stderr)
		}
	}
}
