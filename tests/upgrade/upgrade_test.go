// Package upgrade proves that upgrading a database installed at the previous release
// gives the same catalog as migrating an empty database with the current tree.
//
// TestUpgradeGivesTheCatalogOfAFreshInstall installs the previous release into one
// empty database exactly as that release did (its own sql/migrations, then its code
// packages in its order, all read from git history with git archive), seeds it with
// that release's rows (tests/pgtap/testdata/activity.sql at that commit), and then
// runs the current database.Migrate on it, as `rowguard migrate` would after a
// deploy. A second empty database gets only the current database.Migrate. The two
// must agree on:
//   - the newest migration in the version table;
//   - `rowguard policies --format json` (policyreport.Load, which that command
//     prints): every exposed table, its RLS switches, every policy and the
//     table × command × role matrix, and the violations;
//   - pg_dump --schema-only, compared object by object so that pg_dump's order
//     (dependencies, OIDs) and the order of grants do not matter (normaliseDump).
//
// A difference fails the test with a unified diff of the first differing parts. It
// catches what an upgrade leaves behind or misses: a function a newer tree no longer
// defines but an old migration created, a policy, grant or owner that the code
// packages do not bring to what a fresh install has, a migration whose data step
// fails on real rows. Not compared: rows, cluster-wide roles, database-level grants.
//
// The test can fail: TestUpgradeSeesWhatAnOldReleaseLeavesBehind plants a function
// in a copy of the release's last migration and must see exactly it;
// TestComparisonSeesAPlantedDifference plants a function, a changed policy and a
// grant in one of two current databases and must see each, after showing that grants
// merely reordered (which pg_dump prints in another order) do not count.
//
// The previous release is pinned in PREVIOUS_RELEASE (a full commit hash, with how
// that release installed itself; the file describes its format). To bump it after a
// release: set the commit to the release's full hash (git rev-parse <tag>), copy the
// order of code packages from internal/database/migrate.go at that commit (git show
// <hash>:internal/database/migrate.go, codePackages: sql/kernel comes before sql/api
// once it exists), and keep seed lines naming files that exist at that commit and
// load on its schema. Then run go test ./tests/upgrade. The commit must be in the
// clone: CI clones with full history; a shallow clone fails with a message naming
// the commit, never a skip.
package upgrade

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// maxShown is how many differing parts a failure prints in full.
const maxShown = 8

func TestUpgradeGivesTheCatalogOfAFreshInstall(t *testing.T) {
	rel, files := previousRelease(t)
	diffs := upgradeAndCompare(t, rel, files)
	report(t, diffs)
}

// TestUpgradeSeesWhatAnOldReleaseLeavesBehind runs the same upgrade from a copy of
// the previous release whose last migration also creates a function the current tree
// does not know (what a release leaves behind when a newer tree stops defining a
// function): the comparison must report it, and nothing else.
func TestUpgradeSeesWhatAnOldReleaseLeavesBehind(t *testing.T) {
	rel, files := previousRelease(t)
	planted := fstest.MapFS{}
	for name, f := range files {
		planted[name] = f
	}
	migrations, err := fs.Glob(files, rel.Migrations+"/*.sql")
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no migrations in %s at %s (%v)", rel.Migrations, rel.Commit, err)
	}
	last := migrations[len(migrations)-1]
	const plant = "create function app.left_behind_by_the_old_release() returns int language sql as 'select 1';\n"
	planted[last] = &fstest.MapFile{Data: append([]byte(plant), files[last].Data...), Mode: 0o644}
	rel.Seed = nil // the seed is not what this test is about: save its time

	diffs := upgradeAndCompare(t, rel, planted)
	const want = "pg_dump: FUNCTION app.left_behind_by_the_old_release()"
	var function *difference
	for i, d := range diffs {
		if d.What == want {
			function = &diffs[i]
		}
		if !strings.Contains(d.What, "left_behind_by_the_old_release") {
			t.Errorf("a difference that is not the planted function: %s\n%s", d.What, d.Diff)
		}
	}
	if function == nil {
		report(t, diffs)
		t.Fatalf("planted a function in %s: the comparison does not report %q", last, want)
	}
	if !strings.Contains(function.Diff, "--- upgraded from") || !strings.Contains(function.Diff, "+++ migrated from empty (absent)") {
		t.Errorf("the diff does not say which side has the function:\n%s", function.Diff)
	}
	t.Logf("%s\n%s", function.What, function.Diff)
}

// previousRelease reads PREVIOUS_RELEASE and the release's files from git history.
func previousRelease(t *testing.T) (*release, fstest.MapFS) {
	t.Helper()
	rel, err := readRelease(releaseFile)
	if err != nil {
		t.Fatal(err)
	}
	if rel.VersionTable != database.VersionTable {
		t.Fatalf("the previous release keeps its migrations in %s, this tree in %s: database.Migrate would not see them",
			rel.VersionTable, database.VersionTable)
	}
	files, err := rel.extract(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rel, files
}

// upgradeAndCompare installs rel (from files) into an empty database and upgrades it
// with the current database.Migrate, migrates a second empty database, and returns
// where their catalogs differ.
func upgradeAndCompare(t *testing.T, rel *release, files fs.FS) []difference {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	upgraded, fresh := testdb.NewEmpty(t), testdb.NewEmpty(t)
	start := time.Now()
	if err := rel.install(ctx, upgraded.AdminURL, files); err != nil {
		t.Fatalf("installing the previous release: %v", err)
	}
	t.Logf("previous release %.12s installed in %v (seeds: %v)", rel.Commit, time.Since(start).Round(time.Millisecond), rel.Seed)
	if n := count(t, upgraded.AdminURL, "select count(*) from auth.users"); n == 0 && len(rel.Seed) > 0 {
		t.Fatalf("the seed %v left auth.users empty: the upgrade would meet no rows", rel.Seed)
	}

	start = time.Now()
	if err := database.Migrate(ctx, upgraded.AdminURL, database.Latest, nil); err != nil {
		t.Fatalf("upgrading the previous release with the current tree: %v", err)
	}
	t.Logf("upgraded in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := database.Migrate(ctx, fresh.AdminURL, database.Latest, nil); err != nil {
		t.Fatalf("migrating an empty database: %v", err)
	}
	t.Logf("empty database migrated in %v", time.Since(start).Round(time.Millisecond))

	a, err := loadCatalog(ctx, upgraded.AdminURL, database.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadCatalog(ctx, fresh.AdminURL, database.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Dump) < 100 || len(b.Tables) < 10 {
		t.Fatalf("the fresh install has %d dumped objects and %d reported tables: the catalog was not read", len(b.Dump), len(b.Tables))
	}
	t.Logf("compared %d pg_dump objects and %d tables of the policy report", len(b.Dump), len(b.Tables))
	return compareCatalogs(a, b, "upgraded from "+rel.Commit[:12], "migrated from empty")
}

// TestComparisonSeesAPlantedDifference proves the comparison can fail: two databases
// of the current tree agree, even after one re-grants privileges in another order
// (only the order changes); then an extra function, a changed policy, and a grant
// each show up, named, in the differences.
func TestComparisonSeesAPlantedDifference(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	x, y := testdb.New(t), testdb.New(t)

	// Reordered grants: revoke what rowguard_api holds on a table whose ACL lists it
	// before another grantee, and grant it again: the ACL then lists the same items in
	// another order (pg_dump writes its GRANTs in that order).
	var table, privileges, aclBefore string
	err := query(ctx, y.AdminURL, `
select c.oid::regclass::text, c.relacl::text,
       (select string_agg(a.privilege_type, ', ') from pg_catalog.aclexplode(c.relacl) a
         where a.grantee = 'rowguard_api'::regrole)
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where n.nspname in ('app', 'auth', 'platform') and c.relkind = 'r'
   and cardinality(c.relacl) >= 3 and c.relacl[2]::text like 'rowguard_api=%'
   and not exists (select from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attacl is not null)
 order by 1 limit 1`, nil, &table, &aclBefore, &privileges)
	if err != nil {
		t.Fatalf("find a table whose ACL lists rowguard_api before another role: %v", err)
	}
	execSQL(t, y.AdminURL,
		"revoke all on "+table+" from rowguard_api",
		"grant "+privileges+" on "+table+" to rowguard_api")
	var aclAfter string
	if err := query(ctx, y.AdminURL, "select relacl::text from pg_catalog.pg_class where oid = $1::regclass", []any{table}, &aclAfter); err != nil {
		t.Fatal(err)
	}
	if aclAfter == aclBefore {
		t.Fatalf("re-granting did not reorder the ACL of %s: %s", table, aclAfter)
	}
	t.Logf("ACL of %s reordered: %s -> %s", table, aclBefore, aclAfter)

	cx, err := loadCatalog(ctx, x.AdminURL, database.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	cy, err := loadCatalog(ctx, y.AdminURL, database.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := compareCatalogs(cx, cy, "x", "y"); len(diffs) > 0 {
		report(t, diffs)
		t.Fatalf("two current databases differ after grants were only reordered on %s", table)
	}
	if cx.Raw == cy.Raw {
		t.Fatalf("pg_dump wrote the same script after the ACL of %s was reordered: the test does not show that order is ignored", table)
	}

	// The plants.
	var policy, policyTable string
	if err := query(ctx, y.AdminURL, `
select polname, polrelid::regclass::text from pg_policy
 where polrelid = 'app.organizations'::regclass order by polname limit 1`, nil, &policy, &policyTable); err != nil {
		t.Fatal(err)
	}
	execSQL(t, y.AdminURL,
		"create function app.planted_by_the_upgrade_test() returns int language sql as 'select 1'",
		"alter policy "+pgx.Identifier{policy}.Sanitize()+" on "+policyTable+" using (false)",
		"grant select on auth.users to public")
	cy, err = loadCatalog(ctx, y.AdminURL, database.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	diffs := compareCatalogs(cx, cy, "x", "y")
	found := map[string]bool{}
	for _, d := range diffs {
		t.Logf("%s\n%s", d.What, d.Diff)
		found[d.What] = true
	}
	for _, want := range []string{
		"pg_dump: FUNCTION app.planted_by_the_upgrade_test()",
		"pg_dump: POLICY app.organizations " + policy,
		"pg_dump: ACL auth.TABLE users",
		"policies: app.organizations",
	} {
		if !found[want] {
			t.Errorf("the comparison does not report %q; it reports %d parts: %v", want, len(diffs), keys(found))
		}
	}
	for _, d := range diffs {
		if d.What == "pg_dump: POLICY app.organizations "+policy && !regexp.MustCompile(`(?m)^\+CREATE POLICY .* USING \(false\);$`).MatchString(d.Diff) {
			t.Errorf("the diff of the changed policy does not show the new USING (false):\n%s", d.Diff)
		}
	}
}

// report fails t with the differences, the first maxShown in full.
func report(t *testing.T, diffs []difference) {
	t.Helper()
	if len(diffs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d part(s) of the catalog differ:\n", len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(&b, "  %s\n", d.What)
	}
	for i, d := range diffs {
		if i == maxShown {
			fmt.Fprintf(&b, "\n(%d more not shown)\n", len(diffs)-maxShown)
			break
		}
		fmt.Fprintf(&b, "\n=== %s\n%s", d.What, d.Diff)
	}
	t.Error(b.String())
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// query scans the one row sql returns (given args) into dest.
func query(ctx context.Context, url, sql string, args []any, dest ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}

func count(t *testing.T, url, sql string) int64 {
	t.Helper()
	var n int64
	if err := query(t.Context(), url, sql, nil, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func execSQL(t *testing.T, url string, sqls ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	for _, sql := range sqls {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}
