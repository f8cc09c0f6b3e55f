package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
	// Grants: the invitation's token hash is written by the API but hidden from its
	// SELECT by a column-level grant.
	inv := tables["app.invitations"]
	var selectCols string
	for _, g := range inv.ColumnGrants["rowguard_api"] {
		if strings.HasPrefix(g, "SELECT (") {
			selectCols = g
		}
	}
	if len(inv.Grants["rowguard_api"]) != 0 || !strings.HasPrefix(selectCols, "SELECT (org_id, id, email") || strings.Contains(selectCols, "token_hash") {
		t.Errorf("app.invitations grants: %v, column grants: %v", inv.Grants, inv.ColumnGrants)
	}
	if g := tables["app.projects"].Grants["rowguard_api"]; !slices.Equal(g, []string{"DELETE", "SELECT"}) {
		t.Errorf("app.projects grants to rowguard_api: %v", g)
	}
	// Functions: every one the API role may execute, definers with their search_path.
	funcs := map[string]policyreport.Function{}
	for _, f := range rep.Functions {
		funcs[f.Signature] = f
	}
	if f, ok := funcs["app.my_project_ids(app.project_role)"]; !ok || f.Security != "DEFINER" || f.Owner != "rowguard_kernel" ||
		f.SearchPath == nil || *f.SearchPath != `""` || f.Volatility != "STABLE" || f.Language != "plpgsql" {
		t.Errorf("app.my_project_ids: %+v (search_path %v)", f, f.SearchPath)
	}
	if f, ok := funcs["app.current_org_id()"]; !ok || f.Security != "INVOKER" {
		t.Errorf("app.current_org_id: %+v", f)
	}
	if len(rep.Functions) < 50 {
		t.Errorf("only %d functions rowguard_api may execute", len(rep.Functions))
	}
	if rep.WhoCan != nil {
		t.Errorf("who-can without --who-can")
	}

	code, out, _ = runArgs(t, "policies", "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| `app.projects` | yes | yes | rowguard_api") ||
		!strings.Contains(out, "| projects_delete | DELETE | rowguard_api |") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
	code, out, _ = runArgs(t, "policies")
	if code != 0 || !strings.Contains(out, "app.projects  (RLS enabled: yes, forced: yes, ") ||
		!strings.Contains(out, "  app.invitations\n    rowguard_api: INSERT (org_id, email, role, token_hash, expires_at, invited_by); SELECT (org_id, id, email, role, expires_at,") ||
		!regexp.MustCompile(`DEFINER +rowguard_kernel +'' +STABLE +plpgsql +app\.my_project_ids\(app\.project_role\)\n`).MatchString(out) {
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
		// A definer function without a pinned search_path, executable by PUBLIC (the
		// PostgreSQL default for a new function), a table granted to PUBLIC, and a secret
		// column the API role may read.
		"create function app.canary_definer() returns int language sql security definer as 'select 1'",
		"grant select on app.canary to public",
		"grant select (token_hash) on app.invitations to rowguard_api",
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
		"function app.canary_definer(): SECURITY DEFINER without a pinned search_path",
		"function app.canary_definer(): EXECUTE is granted to PUBLIC",
		"table app.canary: SELECT is granted to PUBLIC",
		"app.invitations.token_hash: a secret column rowguard_api may read",
	} {
		if !strings.Contains(out, want) || !strings.Contains(stderr, want) {
			t.Errorf("report or error does not say %q\nstdout:\n%s\nstderr: %s", want, out, stderr)
		}
	}
}

// Planting each new violation alone fails the report: none hides behind another.
func TestPoliciesEachNewViolationFails(t *testing.T) {
	for _, c := range []struct{ plant, want string }{
		{"create function app.canary() returns int language sql security definer as 'select 1'; revoke execute on function app.canary() from public",
			"function app.canary(): SECURITY DEFINER without a pinned search_path"},
		{"grant select on app.projects to public", "table app.projects: SELECT is granted to PUBLIC"},
		{"grant usage on schema app to public", "schema app: USAGE is granted to PUBLIC"},
		{"grant select (session_id, token_hash) on auth.refresh_tokens to rowguard_api", "auth.refresh_tokens.token_hash: a secret column rowguard_api may read"},
	} {
		t.Run(c.want, func(t *testing.T) {
			db := testdb.New(t)
			clearEnv(t)
			t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
			conn := connect(t, db.AdminURL)
			if _, err := conn.Exec(context.Background(), c.plant); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := runArgs(t, "policies", "--format", "json")
			var rep policyreport.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("json: %v\n%s", err, out)
			}
			if code != 1 || !slices.Contains(rep.Violations, c.want) || len(rep.Violations) != 1 {
				t.Errorf("exit %d, violations %q, want exactly %q\n%s", code, rep.Violations, c.want, stderr)
			}
		})
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// who-can in every format; a role that cannot plant the fixtures is told why.
func TestPoliciesWhoCan(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)

	code, out, stderr := runArgs(t, "policies", "who-can", "--format", "json")
	if code != 0 {
		t.Fatalf("policies who-can: exit %d\n%s%s", code, out, stderr)
	}
	var w policyreport.WhoCan
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(w.Mismatches) != 0 {
		t.Errorf("mismatches: %v", w.Mismatches)
	}
	// "Who can read financial records?"
	var cells []policyreport.Cell
	for _, tb := range w.Tables {
		for _, c := range tb.Commands {
			if tb.Table == "app.financial_records" && c.Command == "SELECT" {
				cells = c.Allowed
			}
		}
	}
	var got []string
	for _, c := range cells {
		got = append(got, c.Label+" "+strings.Join(c.Conditions, "; "))
	}
	want := []string{"org OWNER ", "org ADMIN ", "project OWNER ", "project ADMIN ", "project ANALYST live rows only", "project VIEWER live rows only", "project VIEWER with finance MANAGE ",
		"project VIEWER with analytics NONE live rows only"}
	if !slices.Equal(got, want) {
		t.Errorf("who reads app.financial_records: %q, want %q", got, want)
	}

	code, out, _ = runArgs(t, "policies", "who-can")
	if code != 0 || !strings.Contains(out, "app.financial_records\n  SELECT  org OWNER\n          org ADMIN\n") ||
		!strings.Contains(out, "          project VIEWER: live rows only\n") ||
		!strings.Contains(out, "  DELETE  project ADMIN: only expired keys\n") ||
		!regexp.MustCompile(`project ANALYST +ANALYST +READ +MANAGE`).MatchString(out) ||
		!regexp.MustCompile(`project ANALYST with finance NONE +ANALYST +NONE +MANAGE`).MatchString(out) {
		t.Errorf("text: exit %d\n%s", code, out)
	}
	code, out, _ = runArgs(t, "policies", "who-can", "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| `app.financial_records` | SELECT | org OWNER<br>org ADMIN<br>project OWNER<br>project ADMIN<br>project ANALYST: live rows only<br>project VIEWER: live rows only<br>project VIEWER with finance MANAGE<br>project VIEWER with analytics NONE: live rows only |") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
	// --who-can adds the section to the whole report.
	code, out, _ = runArgs(t, "policies", "--who-can", "--format", "json")
	var rep policyreport.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.WhoCan == nil || len(rep.WhoCan.Tables) != len(w.Tables) {
		t.Errorf("--who-can: exit %d, %v", code, err)
	}

	// A table nobody declared an expectation for: who-can cannot say who may use it.
	conn := connect(t, db.AdminURL)
	if _, err := conn.Exec(context.Background(), "create table app.uncovered (id int)"); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runArgs(t, "policies", "who-can")
	if code != 1 || !strings.Contains(stderr, "app.uncovered DELETE: no declared expectation") {
		t.Errorf("undeclared table: exit %d\n%s", code, stderr)
	}

	t.Setenv("MIGRATION_DATABASE_URL", db.AppURL)
	code, _, stderr = runArgs(t, "policies", "who-can")
	if code != 1 || !strings.Contains(stderr, "needs a superuser connection") {
		t.Errorf("as %s: exit %d\n%s", testdb.AppRole, code, stderr)
	}
}

// diff names exactly what a widened policy changed, with exit 3; no change is exit 0;
// a violation on the new side is exit 1.
func TestPoliciesDiff(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
	dir := t.TempDir()
	report := func(name string) string {
		t.Helper()
		code, out, stderr := runArgs(t, "policies", "--who-can", "--format", "json")
		if code != 0 {
			t.Fatalf("policies --who-can: exit %d\n%s", code, stderr)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	before := report("before.json")

	// A freshly migrated database grants exactly what the built-in policies/access.json
	// of this binary declares.
	code, out, stderr := runArgs(t, "policies", "diff", "--against", db.AdminURL)
	if code != 0 || !strings.Contains(out, "No access change from policies/access.json (built in) to database ") {
		t.Errorf("diff --against, built-in access.json: exit %d\n%s%s", code, out, stderr)
	}

	code, out, stderr = runArgs(t, "policies", "diff", before, before)
	if code != 0 || !strings.Contains(out, "No access change") {
		t.Errorf("diff of a report with itself: exit %d\n%s%s", code, out, stderr)
	}

	// Widen: finance READ (project ANALYST and VIEWER, and a VIEWER with analytics NONE) now
	// reads soft-deleted records.
	conn := connect(t, db.AdminURL)
	if _, err := conn.Exec(context.Background(), `alter policy financial_records_select on app.financial_records
		using (org_id = (select app.current_org_id())
		       and project_id = any ((select app.my_domain_project_ids('finance', 'READ'))::uuid[]))`); err != nil {
		t.Fatal(err)
	}
	// Who-can now disagrees with the expectation table: the report says so (exit 1) ...
	code, _, stderr = runArgs(t, "policies", "--who-can", "--format", "json")
	if code != 1 || !strings.Contains(stderr, "app.financial_records SELECT soft-deleted rec_a2 as viewer: Postgres allowed it, the expectation table says refused") {
		t.Errorf("widened policy: exit %d\n%s", code, stderr)
	}
	// ... and diff names the change, and nothing else, with exit 3.
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
	code, out, stderr = runArgs(t, "policies", "diff", "--format", "json", "--against", db.AdminURL, before)
	if code != 3 || !strings.Contains(stderr, "the access model changed (4 changes)") {
		t.Fatalf("diff --against: exit %d\n%s%s", code, out, stderr)
	}
	var d policyreport.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, c := range d.Changes {
		words = append(words, c.Kind+": "+c.Words)
	}
	wantWords := []string{
		"policy: policy financial_records_select on app.financial_records: USING changed",
		"who-can: project ANALYST: SELECT on app.financial_records: soft-deleted rec_a2: now allowed",
		"who-can: project VIEWER: SELECT on app.financial_records: soft-deleted rec_a2: now allowed",
		"who-can: project VIEWER with analytics NONE: SELECT on app.financial_records: soft-deleted rec_a2: now allowed",
	}
	if !slices.Equal(words, wantWords) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(words, "\n"), strings.Join(wantWords, "\n"))
	}
	if c := d.Changes[0]; c.Old == nil || c.New == nil || !strings.Contains(*c.Old, "deleted_at IS NULL") || strings.Contains(*c.New, "deleted_at") {
		t.Errorf("USING diff: %v → %v", c.Old, c.New)
	}

	// Two files: the same, in text.
	after := filepath.Join(dir, "after.json")
	_, out, _ = runArgs(t, "policies", "--who-can", "--format", "json")
	if err := os.WriteFile(after, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runArgs(t, "policies", "diff", before, after)
	if code != 3 || !strings.Contains(out, "- project VIEWER: SELECT on app.financial_records: soft-deleted rec_a2: now allowed\n") ||
		!strings.Contains(out, "AS my_domain_project_ids)::uuid[])) AND ((deleted_at IS NULL) OR (project_id = ANY") ||
		!strings.Contains(out, "\n    + ((org_id = ( SELECT app.current_org_id() AS current_org_id)) AND (project_id = ANY (( SELECT app.my_domain_project_ids('finance'::app.permission_domain, 'READ'::app.domain_level) AS my_domain_project_ids)::uuid[])))\n") {
		t.Errorf("diff before after: exit %d\n%s", code, out)
	}
	code, out, _ = runArgs(t, "policies", "diff", "--format", "markdown", before, after)
	if code != 3 || !strings.Contains(out, "- **who-can**: project ANALYST: SELECT on app.financial_records: soft-deleted rec_a2: now allowed") {
		t.Errorf("markdown diff: exit %d\n%s", code, out)
	}

	// Grants gained and lost, and a violation on the new side: exit 1.
	if _, err := conn.Exec(context.Background(), "revoke delete on app.projects from rowguard_api; grant select on app.services to public"); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runArgs(t, "policies", "diff", "--against", db.AdminURL, after)
	if code != 1 || !strings.Contains(out, "- grant lost: rowguard_api DELETE on app.projects\n") ||
		!strings.Contains(out, "- grant gained: PUBLIC SELECT on app.services\n") || !strings.Contains(stderr, "table app.services: SELECT is granted to PUBLIC") {
		t.Errorf("diff with a violation: exit %d\n%s%s", code, out, stderr)
	}

	// Bad command lines.
	for _, args := range [][]string{{"policies", "diff", before}, {"policies", "diff", before, after, after}, {"policies", "diff", "--against", db.AdminURL, before, after}, {"policies", "diff", "--format", "yaml", before, after}} {
		if code, _, _ := runArgs(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := runArgs(t, "policies", "diff", before, filepath.Join(dir, "missing.json")); code != 1 || !strings.Contains(stderr, "missing.json") {
		t.Errorf("missing file: exit %d %s", code, stderr)
	}
}
