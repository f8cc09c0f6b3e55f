// Package pgtap runs the pgTAP suite in this folder with pg_prove, so `go test ./...`
// covers the SQL kernel too. The .sql files need nothing from Go: a reviewer runs them
// with plain `pg_prove -d <db> *.sql` against any deployment (docs/security-review.md).
// So the suite runs twice here: on an empty migrated database, and on one
// full of other tenants' rows (seed-demo, then testdata/activity.sql), and each time
// every table must be exactly as it was before (no side effects).
package pgtap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowguard/rowguard/internal/pgcluster"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestPgTAP(t *testing.T) {
	ctx := t.Context()
	install, err := pgcluster.EnsureInstall(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	pgProve, err := install.EnsurePgTAP(ctx, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}

	files, err := filepath.Glob("*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("expected the pgTAP suite here, found only %v", files)
	}

	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		runSuite(t, pgProve, testdb.New(t), files)
	})
	t.Run("seeded", func(t *testing.T) {
		t.Parallel()
		db := testdb.New(t)
		seedDemo(t, db)
		loadActivity(t, db)
		runSuite(t, pgProve, db, files)
	})
}

// runSuite runs every file with pg_prove on db, each as a parallel subtest of t, and
// once they have all finished checks that no table of db changed.
func runSuite(t *testing.T, pgProve string, db *testdb.DB, files []string) {
	before := snapshotTables(t, db)
	// Cleanup runs once t's parallel subtests (the files) are done, before db is dropped.
	t.Cleanup(func() {
		for _, diff := range before.diff(snapshotTables(t, db)) {
			t.Errorf("the suite left a side effect: %s", diff)
		}
	})

	// The files roll back everything they do, so they can share one database.
	// pg_prove hands its connection to psql; libpq's environment is the unambiguous way.
	conn, err := pgconn.ParseConfig(db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"PGHOST="+conn.Host, "PGPORT="+strconv.Itoa(int(conn.Port)), "PGUSER="+conn.User,
		"PGPASSWORD="+conn.Password, "PGDATABASE="+conn.Database,
		"PGOPTIONS=--client-min-messages=warning")
	for _, file := range files {
		t.Run(strings.TrimSuffix(file, ".sql"), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, pgProve, "--verbose", "--failures", file)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Result: PASS") {
				t.Fatalf("pg_prove %s failed (%v):\n%s", file, err, out)
			}
		})
	}
}

// testWriter sends progress (apt-get, initdb) to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
