package pgtap

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Permissive policies are OR'd, so a widening written in another file than the rest of
// a table's rules is easy to miss in review. policies/ therefore keeps every grant and
// every policy of one table in one file (00_rls_coverage.sql proves the catalog side:
// RLS forced, every policy commented). This test reads the package's files and fails
// when a table's rules are found in two of them.
func TestEachTablesRulesLiveInOneFile(t *testing.T) {
	files, err := filepath.Glob("../../policies/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found only %d policy files: is the path right?", len(files))
	}
	homes := map[string][]string{}
	for _, f := range files {
		if filepath.Base(f) == "install.sql" { // drops and schema grants only
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range tablesRuledIn(string(src)) {
			if !slices.Contains(homes[table], filepath.Base(f)) {
				homes[table] = append(homes[table], filepath.Base(f))
			}
		}
	}
	if len(homes) < 20 {
		t.Fatalf("found rules for only %d tables: is the parser right?", len(homes))
	}
	for table, in := range homes {
		if len(in) > 1 {
			t.Errorf("%s: its rules are in %v; keep every grant and policy of a table in one file", table, in)
		}
	}
}

var (
	sqlComment  = regexp.MustCompile(`--[^\n]*`)
	policyOn    = regexp.MustCompile(`^(?:create|comment on|drop|alter) policy \S+ on (\w+\.\w+)`)
	privilegeOn = regexp.MustCompile(`^(?:grant|revoke) .*? on (?:table )?(\w+\.\w+(?:\s*,\s*\w+\.\w+)*) (?:to|from) `)
	notATable   = regexp.MustCompile(`^(?:grant|revoke) [^;]*? on (?:function|functions|schema|all|sequence|routine|procedure) `)
	alterTable  = regexp.MustCompile(`^alter table (?:only )?(\w+\.\w+) `)
)

// tablesRuledIn lists the tables a policy file writes rules for: policies, their
// comments, privileges and ALTER TABLE (row level security).
func tablesRuledIn(src string) []string {
	var out []string
	for _, stmt := range strings.Split(sqlComment.ReplaceAllString(src, ""), ";") {
		stmt = strings.ToLower(strings.Join(strings.Fields(stmt), " "))
		if m := policyOn.FindStringSubmatch(stmt); m != nil {
			out = append(out, m[1])
		} else if m := alterTable.FindStringSubmatch(stmt); m != nil {
			out = append(out, m[1])
		} else if m := privilegeOn.FindStringSubmatch(stmt); m != nil && !notATable.MatchString(stmt) {
			for _, t := range strings.Split(m[1], ",") {
				out = append(out, strings.TrimSpace(t))
			}
		}
	}
	return out
}

func TestTablesRuledInReadsEveryKindOfRule(t *testing.T) {
	src := `-- a comment naming app.nothing;
create policy p on app.a for select to rowguard_api using (true);
comment on policy p on app.b is 'x; y';
grant select (id, name) on app.c to rowguard_api;
grant select, insert on app.d, auth.e to rowguard_kernel;
grant execute on function app.f(uuid) to rowguard_api;
alter table app.g force row level security;`
	got := tablesRuledIn(src)
	want := []string{"app.a", "app.b", "app.c", "app.d", "auth.e", "app.g"}
	if !slices.Equal(got, want) {
		t.Errorf("tablesRuledIn = %v, want %v", got, want)
	}
}
