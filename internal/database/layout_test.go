package database_test

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/testdb"
)

// The layout rules of the SQL, read from the files the binary embeds:
//
//	sql/migrations  tables, types, constraints, data; the only functions are those a
//	                table needs to exist (a default, a CHECK), and no trigger, policy or
//	                row-level-security switch
//	sql/kernel      every other function outside the api schema, and every trigger,
//	                each CREATE OR REPLACE
//	sql/api         the api schema
//
// so that "the code that decides who is asking" has one definition a reviewer can read.

var (
	sqlLineComment = regexp.MustCompile(`--[^\n]*`)
	createFunction = regexp.MustCompile(`(?i)\bcreate\s+(or\s+replace\s+)?function\s+([\w.]+)\s*\(`)
	createTrigger  = regexp.MustCompile(`(?i)\bcreate\s+(or\s+replace\s+)?(constraint\s+)?trigger\s+(\w+)`)
	rlsEnable      = regexp.MustCompile(`(?i)\benable\s+row\s+level\s+security`)
	rlsForce       = regexp.MustCompile(`(?i)\bforce\s+row\s+level\s+security`)
	rlsLift        = regexp.MustCompile(`(?i)\bno\s+force\s+row\s+level\s+security`)
	createPolicy   = regexp.MustCompile(`(?i)\bcreate\s+policy\b`)
)

type sqlFile struct {
	pkg, name, src string // src without -- comments
}

func embeddedSQL(t *testing.T) []sqlFile {
	t.Helper()
	var out []sqlFile
	for _, p := range []struct {
		pkg  string
		fsys fs.FS
	}{{"sql/migrations", rowguard.Migrations()}, {"sql/kernel", rowguard.KernelCode()}, {"sql/api", rowguard.APICode()}} {
		err := fs.WalkDir(p.fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") {
				return err
			}
			b, err := fs.ReadFile(p.fsys, path)
			if err != nil {
				return err
			}
			out = append(out, sqlFile{p.pkg, path, sqlLineComment.ReplaceAllString(string(b), "")})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 40 {
		t.Fatalf("found only %d SQL files: is the embed right?", len(out))
	}
	return out
}

func TestEachFunctionIsDefinedOnce(t *testing.T) {
	where := map[string][]string{}
	for _, f := range embeddedSQL(t) {
		for _, m := range createFunction.FindAllStringSubmatch(f.src, -1) {
			name := strings.ToLower(m[2])
			where[name] = append(where[name], f.pkg+"/"+f.name)
		}
	}
	if len(where) < 150 {
		t.Fatalf("found only %d functions: is the parser right?", len(where))
	}
	for name, in := range where {
		if len(in) > 1 && !(slices.Contains(schemaFunctions, name) && allMigrations(in)) {
			t.Errorf("%s is defined %d times: %v; define it once (sql/kernel, create or replace)", name, len(in), in)
		}
	}
}

// allMigrations: every file named is a migration. A schema function (schemaFunctions)
// changes like a table does: a later migration replaces it, and its down section puts
// the old one back (030 made app.is_iso_currency and app.tags_valid PL/pgSQL); it never
// appears in a code package.
func allMigrations(files []string) bool {
	for _, f := range files {
		if !strings.HasPrefix(f, "sql/migrations/") {
			return false
		}
	}
	return true
}

// schemaFunctions are the functions migrations keep: a column default, a CHECK or an
// index needs them before any code package is installed. TestMigrationsHoldTablesNotCode
// proves the list against the catalog. schemaFunctionSince names the migration that
// creates those added after the first.
var schemaFunctions = []string{"app.finance_tag_keys", "app.is_iso_currency", "app.tags_valid", "app.uuid_v7"}

var schemaFunctionSince = map[string]int32{"app.finance_tag_keys": 31}

func TestMigrationsHoldTablesNotCode(t *testing.T) {
	var kernelFunctions, kernelTriggers int
	for _, f := range embeddedSQL(t) {
		switch f.pkg {
		case "sql/migrations":
			for _, m := range createFunction.FindAllStringSubmatch(f.src, -1) {
				if !slices.Contains(schemaFunctions, strings.ToLower(m[2])) {
					t.Errorf("%s defines %s: a function no table needs is code, it belongs in sql/kernel", f.name, m[2])
				}
			}
			for _, m := range createTrigger.FindAllStringSubmatch(f.src, -1) {
				t.Errorf("%s creates trigger %s: triggers are code, they belong in sql/kernel", f.name, m[3])
			}
			// A data step may lift FORCE for one statement (the migrating role need not
			// be a superuser) and must put it back; switching RLS on is policies/' job.
			lifted := len(rlsLift.FindAllString(f.src, -1))
			forced := len(rlsForce.FindAllString(f.src, -1)) - lifted
			if rlsEnable.MatchString(f.src) || forced != lifted {
				t.Errorf("%s switches row level security on: ENABLE/FORCE live in policies/, beside the table's policies", f.name)
			}
			if createPolicy.MatchString(f.src) {
				t.Errorf("%s creates a policy: policies live in policies/", f.name)
			}
		case "sql/kernel":
			for _, m := range createFunction.FindAllStringSubmatch(f.src, -1) {
				kernelFunctions++
				if m[1] == "" {
					t.Errorf("sql/kernel/%s: %s is not CREATE OR REPLACE: the package must install over itself", f.name, m[2])
				}
			}
			for _, m := range createTrigger.FindAllStringSubmatch(f.src, -1) {
				kernelTriggers++
				if m[1] == "" {
					t.Errorf("sql/kernel/%s: trigger %s is not CREATE OR REPLACE", f.name, m[3])
				}
			}
		}
	}
	if kernelFunctions < 50 || kernelTriggers < 20 {
		t.Fatalf("sql/kernel: %d functions, %d triggers: is the parser right?", kernelFunctions, kernelTriggers)
	}

	// The catalog side: the functions a default, a CHECK or an index depends on are
	// exactly the ones the migrations keep, and the kernel's uninstall (before migrating
	// down) leaves those and nothing else.
	db := testdb.New(t)
	const needed = `select coalesce(string_agg(distinct n.nspname || '.' || p.proname, ' ' order by n.nspname || '.' || p.proname), '')
	                  from pg_depend d
	                  join pg_proc p on p.oid = d.refobjid and d.refclassid = 'pg_proc'::regclass
	                  join pg_namespace n on n.oid = p.pronamespace
	                 where n.nspname in ('app', 'auth', 'platform')
	                   and d.classid in ('pg_attrdef'::regclass, 'pg_constraint'::regclass, 'pg_class'::regclass)`
	if got, want := scalar[string](t, db.AdminURL, needed), strings.Join(schemaFunctions, " "); got != want {
		t.Errorf("functions tables depend on: %q, want %q (update schemaFunctions and keep them in their migration)", got, want)
	}
	below := latest(t) - 1
	if err := database.Migrate(context.Background(), db.AdminURL, below, nil); err != nil {
		t.Fatal(err)
	}
	const left = `select coalesce(string_agg(n.nspname || '.' || p.proname, ' ' order by n.nspname || '.' || p.proname), '')
	                from pg_proc p join pg_namespace n on n.oid = p.pronamespace
	               where n.nspname in ('app', 'auth', 'platform')`
	var kept []string
	for _, f := range schemaFunctions {
		if schemaFunctionSince[f] <= below {
			kept = append(kept, f)
		}
	}
	if got, want := scalar[string](t, db.AdminURL, left), strings.Join(kept, " "); got != want {
		t.Errorf("functions left at version %d (kernel uninstalled): %q, want %q", below, got, want)
	}
	if n := scalar[int](t, db.AdminURL, `select count(*)::int from pg_trigger where not tgisinternal`); n != 0 {
		t.Errorf("%d triggers left at version %d (kernel uninstalled)", n, below)
	}
}
