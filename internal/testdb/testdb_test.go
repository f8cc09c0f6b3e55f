package testdb

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewGivesMigratedDatabasesWithBothRoles(t *testing.T) {
	ctx := context.Background()
	a, b := New(t), New(t)
	if a.Name == b.Name {
		t.Fatalf("two databases named %s", a.Name)
	}
	var user, db string
	var super bool
	if err := a.AdminPool(t).QueryRow(ctx, "select current_user, current_database(), rolsuper from pg_roles where rolname = current_user").Scan(&user, &db, &super); err != nil {
		t.Fatal(err)
	}
	if !super || db != a.Name {
		t.Fatalf("admin: user %s (superuser %v) in %s", user, super, db)
	}
	if err := a.AppPool(t).QueryRow(ctx, "select current_user, current_database(), rolsuper from pg_roles where rolname = current_user").Scan(&user, &db, &super); err != nil {
		t.Fatal(err)
	}
	if user != AppRole || super || db != a.Name {
		t.Fatalf("app: user %s (superuser %v) in %s", user, super, db)
	}
	var n int
	if err := a.AdminPool(t).QueryRow(ctx, "select count(*) from pg_namespace where nspname in ('auth', 'app', 'api')").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rowguard schemas (%v)", n, err)
	}
	// Databases are independent.
	if _, err := a.AdminPool(t).Exec(ctx, "create table public.only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	if err := b.AdminPool(t).QueryRow(ctx, "select count(*) from pg_tables where tablename = 'only_in_a'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("table leaked between databases: %d (%v)", n, err)
	}
}

func TestNewIsSafeInParallel(t *testing.T) {
	for i := range 4 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			db := New(t)
			conn, err := pgx.Connect(context.Background(), db.AppURL)
			if err != nil {
				t.Fatal(err)
			}
			conn.Close(context.Background())
		})
	}
}

func TestDatabaseIsDroppedAfterTheTest(t *testing.T) {
	var name, adminURL string
	t.Run("inner", func(t *testing.T) {
		db := New(t)
		name, adminURL = db.Name, db.AdminURL
	})
	conn, err := pgx.Connect(context.Background(), withDB(adminURL, "postgres", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(context.Background(), "select exists(select from pg_database where datname = $1)", name).Scan(&exists); err != nil || exists {
		t.Fatalf("database %s still exists after its test (err %v)", name, err)
	}
}

func TestSweepOrphans(t *testing.T) {
	dir, err := os.MkdirTemp("", orphanPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// A pid that cannot be alive: beyond pid_max on Linux.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte("2147483646"), 0o644); err != nil {
		t.Fatal(err)
	}
	sweepOrphans(context.Background())
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("orphan %s not removed (stat: %v)", dir, err)
	}
}

func TestWithDB(t *testing.T) {
	for _, tc := range []struct{ base, db, user, pw, want string }{
		{"postgres://postgres@/postgres?host=/tmp/x&port=5432", "d1", "", "", "postgres://postgres@/d1?host=/tmp/x&port=5432"},
		{"postgres://admin:pw@db:5432/postgres?sslmode=disable", "d1", "rowguard_app", "secret", "postgres://rowguard_app:secret@db:5432/d1?sslmode=disable"},
		{"host=db user=admin", "d1", "", "", "host=db user=admin dbname='d1'"},
		{"host=db user=admin", "d1", "app", "p'w", `host=db user=admin dbname='d1' user='app' password='p\'w'`},
	} {
		if got := withDB(tc.base, tc.db, tc.user, tc.pw); got != tc.want {
			t.Errorf("withDB(%q) = %q, want %q", tc.base, got, tc.want)
		}
		if _, err := pgx.ParseConfig(withDB(tc.base, tc.db, tc.user, tc.pw)); err != nil {
			t.Errorf("withDB(%q): %v", tc.base, err)
		}
	}
}

func TestNewEmptyHasNoRowguardSchema(t *testing.T) {
	db := NewEmpty(t)
	var n int
	var versionTable *string
	err := db.AdminPool(t).QueryRow(context.Background(),
		"select (select count(*) from pg_namespace where nspname in ('auth', 'app', 'api', 'platform')), to_regclass('public.schema_version')::text").Scan(&n, &versionTable)
	if err != nil || n != 0 || versionTable != nil {
		t.Fatalf("an empty database has %d rowguard schemas and version table %v (err %v)", n, versionTable, err)
	}
}
