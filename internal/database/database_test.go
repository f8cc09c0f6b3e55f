package database_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func latest(t *testing.T) int32 {
	t.Helper()
	entries, err := fs.ReadDir(rowguard.Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	n := int32(0)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	return n
}

func scalar[T any](t *testing.T, url, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func exec(t *testing.T, url string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := testdb.New(t)
	var log strings.Builder
	if err := database.Migrate(context.Background(), db.AdminURL, database.Latest, &log); err != nil {
		t.Fatal(err)
	}
	if v := scalar[int32](t, db.AdminURL, "select version from public.schema_version"); v != latest(t) {
		t.Fatalf("version = %d, want %d", v, latest(t))
	}
	for _, want := range []string{"install code package sql/kernel", "install code package sql/api", "install code package policies", "(latest)"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if n := scalar[int](t, db.AdminURL, "select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'api'"); n == 0 {
		t.Fatal("no function in schema api after Migrate")
	}
	if n := scalar[int](t, db.AdminURL, "select count(*)::int from pg_policies where schemaname in ('auth', 'app')"); n == 0 {
		t.Fatal("no policy after Migrate")
	}
}

func TestMigrateDownAndUp(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	var log strings.Builder
	if err := database.Migrate(ctx, db.AdminURL, 0, &log); err != nil {
		t.Fatal(err)
	}
	if v := scalar[int32](t, db.AdminURL, "select version from public.schema_version"); v != 0 {
		t.Fatalf("version = %d after migrating to 0", v)
	}
	if n := scalar[int](t, db.AdminURL, "select count(*)::int from pg_namespace where nspname in ('auth', 'app', 'api')"); n != 0 {
		t.Fatalf("%d rowguard schemas left at version 0", n)
	}
	if !strings.Contains(log.String(), "code packages (sql/kernel, sql/api, policies) are installed only at the latest version") {
		t.Errorf("no note about code packages:\n%s", log.String())
	}
	if err := database.Migrate(ctx, db.AdminURL, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int](t, db.AdminURL, "select count(*)::int from pg_namespace where nspname in ('auth', 'app', 'api')"); n != 3 {
		t.Fatalf("%d of the 3 rowguard schemas after migrating up again", n)
	}
	if err := database.CheckServingRole(ctx, db.AppPool(t)); err != nil {
		t.Fatalf("app role after down and up: %v", err)
	}
}

func TestMigrateRejectsUnknownTarget(t *testing.T) {
	db := testdb.New(t)
	err := database.Migrate(context.Background(), db.AdminURL, latest(t)+1, nil)
	if err == nil || !strings.Contains(err.Error(), "outside 0..") {
		t.Fatalf("err = %v", err)
	}
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	db := testdb.New(t)
	exec(t, db.AdminURL, "update public.schema_version set version = 999")
	err := database.Migrate(context.Background(), db.AdminURL, database.Latest, nil)
	if err == nil || !strings.Contains(err.Error(), "version 999") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckServingRole(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()

	if err := database.CheckServingRole(ctx, db.AppPool(t)); err != nil {
		t.Fatalf("rowguard_app refused: %v", err)
	}

	// The superuser is refused.
	err := database.CheckServingRole(ctx, db.AdminPool(t))
	var unsafe *database.UnsafeRoleError
	if !errors.As(err, &unsafe) || !strings.Contains(err.Error(), "superuser") {
		t.Fatalf("superuser: err = %v, want an UnsafeRoleError about superuser", err)
	}

	suffix := strings.TrimPrefix(db.Name, "rowguard_test_")
	cases := []struct {
		name   string
		setup  []string
		reason string
	}{
		{"bypassrls", []string{"create role %s login bypassrls in role rowguard_api"}, "BYPASSRLS"},
		{"createrole", []string{"create role %s login createrole in role rowguard_api"}, "CREATEROLE"},
		{"owner_member", []string{"create role %s login in role rowguard_api, rowguard_owner"}, "member of rowguard_owner"},
		{"kernel_member", []string{"create role %s login in role rowguard_api, rowguard_kernel"}, "member of rowguard_kernel"},
		{"table_owner", []string{
			"create role %s login in role rowguard_api",
			"create table app.owned_by_%[1]s (id int)",
			"alter table app.owned_by_%[1]s owner to %[1]s",
		}, "it owns"},
		{"function_owner", []string{
			"create role %s login in role rowguard_api",
			"create function api.owned_by_%[1]s() returns int language sql as 'select 1'",
			"alter function api.owned_by_%[1]s() owner to %[1]s",
		}, "function api.owned_by_"},
		{"schema_owner", []string{
			"create role %s login in role rowguard_api",
			"alter schema auth owner to %s",
		}, "schema auth"},
		{"not_api_member", []string{"create role %s login"}, "rowguard_api"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := testdb.New(t) // the case may change ownership: a database of its own
			role := "rg_" + tc.name + "_" + suffix
			var sqls []string
			for _, s := range tc.setup {
				sqls = append(sqls, strings.NewReplacer("%[1]s", role, "%s", role).Replace(s))
			}
			sqls = append(sqls, "alter role "+role+" password 'test-only'")
			exec(t, db.AdminURL, sqls...)
			t.Cleanup(func() {
				exec(t, db.AdminURL, "reassign owned by "+role+" to current_user", "drop owned by "+role, "drop role "+role)
			})
			pool := (&testdb.DB{AppURL: roleURL(t, db.AdminURL, role, "test-only")}).AppPool(t)
			err := database.CheckServingRole(ctx, pool)
			if err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), role) {
				t.Fatalf("err = %v, want a refusal naming %s and %q", err, role, tc.reason)
			}
		})
	}
}

// roleURL is adminURL logging in as role instead.
func roleURL(t *testing.T, adminURL, role, password string) string {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme == "" {
		return adminURL + " user=" + role + " password=" + password
	}
	u.User = url.UserPassword(role, password)
	return u.String()
}

func TestBootstrapLoginRoleIsIdempotent(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	for range 2 {
		if err := database.BootstrapLoginRole(ctx, db.AdminURL, database.DevLoginRole); err != nil {
			t.Fatal(err)
		}
	}
	// An existing role is brought back to safe attributes.
	exec(t, db.AdminURL, "alter role rowguard_app bypassrls createrole", "revoke rowguard_api from rowguard_app")
	if err := database.BootstrapLoginRole(ctx, db.AdminURL, database.DevLoginRole); err != nil {
		t.Fatal(err)
	}
	if err := database.CheckServingRole(ctx, db.AppPool(t)); err != nil {
		t.Fatalf("after re-bootstrap: %v", err)
	}
}

func TestOpen(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	pool, err := database.Open(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var user, app string
	if err := pool.QueryRow(ctx, "select current_user, current_setting('application_name')").Scan(&user, &app); err != nil {
		t.Fatal(err)
	}
	if user != database.DevLoginRole || app != "rowguard" {
		t.Fatalf("current_user=%q application_name=%q", user, app)
	}

	_, err = database.Open(ctx, "postgres://someone:s3cret@/nope?host=/nonexistent&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v (want an error without the password)", err)
	}
}

func TestMigrationErrorNamesTheMigrationAndLine(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "select 1;\nselect nonsense from nowhere;")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("err = %v", err)
	}
	e := database.DescribeForTest("003_test.sql", "select 1;\nselect nonsense from nowhere;", pgErr)
	msg := e.Error()
	for _, want := range []string{"003_test.sql", "42P01", "line 2", "select nonsense from nowhere"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestDevDatabase(t *testing.T) {
	dir, err := os.MkdirTemp(pgcluster.ScratchDir(), "rowguard-devdb-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o711) // the postgres user must reach it when tests run as root
	ctx := context.Background()
	// The data directory may already exist, private (the signing key is written first).
	if err := os.Mkdir(dir+"/dev", 0o700); err != nil {
		t.Fatal(err)
	}
	url, cluster, err := database.DevDatabase(ctx, dir+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Stop() })
	pool, err := database.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := database.CheckServingRole(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// A second DevDatabase (another process, or a restart) reuses the running cluster.
	url2, again, err := database.DevDatabase(ctx, dir+"/dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	if url2 != url || again.Started() {
		t.Fatalf("second DevDatabase: url %q (want %q), started=%v", url2, url, again.Started())
	}
}
