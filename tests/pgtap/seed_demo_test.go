package pgtap

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/testdb"
	"github.com/rowguard/rowguard/internal/token"
)

// seedDemo fills db as a reviewer's development database would be: the real
// `rowguard seed-demo`, built from this checkout (so whatever seed-demo writes today is
// what the suite must tolerate), run as `serve` would run against db.
func seedDemo(t *testing.T, db *testdb.DB) {
	t.Helper()
	bin := rowguardBinary(t)
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "seed-demo", "--password", "pgtap seeded database")
	cmd.Env = append(environWithout("DATABASE_URL", "MIGRATION_DATABASE_URL", "ROWGUARD_"),
		"DATABASE_URL="+db.AppURL, "ROWGUARD_JWT_PRIVATE_KEY="+string(pem),
		// The cheapest argon2id the configuration allows: the hashes are never attacked.
		"ROWGUARD_PASSWORD_MEMORY_KIB=8192", "ROWGUARD_PASSWORD_ITERATIONS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rowguard seed-demo: %v\n%s", err, out)
	}
}

// loadActivity adds testdata/activity.sql: months of logins, logouts, invitations,
// deletions and mail beside the demo (see the file).
func loadActivity(t *testing.T, db *testdb.DB) {
	t.Helper()
	sql, err := os.ReadFile("testdata/activity.sql")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Without arguments pgx sends the file as one simple-protocol query: its own
	// begin … commit makes it all or nothing.
	if _, err := conn.Exec(ctx, string(sql)); err != nil {
		t.Fatalf("testdata/activity.sql: %v", err)
	}
}

var buildOnce struct {
	sync.Once
	bin string
	err error
	out []byte
}

// rowguardBinary builds ./cmd/rowguard once per test process.
func rowguardBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rowguard-pgtap-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "rowguard")
		// go test puts its own toolchain first on PATH (Go 1.19+).
		cmd := exec.Command("go", "build", "-o", buildOnce.bin, "../../cmd/rowguard")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build ./cmd/rowguard: %v\n%s", buildOnce.err, buildOnce.out)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(buildOnce.bin)) })
	return buildOnce.bin
}

// environWithout is os.Environ() without the variables named or prefixed (a trailing _).
func environWithout(names ...string) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		for _, n := range names {
			if name == n || strings.HasSuffix(n, "_") && strings.HasPrefix(name, n) {
				return true
			}
		}
		return false
	})
}

// tableSnapshot is every table of a database: its row count and an MD5 of its rows in
// text form, sorted, so any insert, update or delete shows.
type tableSnapshot map[string]tableState

type tableState struct {
	rows int64
	md5  string
}

func snapshotTables(t *testing.T, db *testdb.DB) tableSnapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		select format('%I.%I', n.nspname, c.relname)
		  from pg_class c join pg_namespace n on n.oid = c.relnamespace
		 where c.relkind in ('r', 'p') and not c.relispartition
		   and n.nspname not in ('pg_catalog', 'information_schema')
		   and n.nspname !~ '^pg_(toast|temp_)'
		 order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("snapshot: only %d tables (%v): is this a migrated database?", len(tables), tables)
	}
	snap := tableSnapshot{}
	for _, table := range tables {
		// The superuser reads every row (row-level security does not apply to it).
		var s tableState
		err := conn.QueryRow(ctx, `select count(*), md5(coalesce(string_agg(r::text, e'\n' order by r::text), '')) from `+table+` r`).
			Scan(&s.rows, &s.md5)
		if err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		snap[table] = s
	}
	return snap
}

// diff names every table that differs between s (before) and after.
func (s tableSnapshot) diff(after tableSnapshot) []string {
	var out []string
	for table, was := range s {
		now, ok := after[table]
		switch {
		case !ok:
			out = append(out, table+": dropped")
		case now.rows != was.rows:
			out = append(out, fmt.Sprintf("%s: %d rows before, %d after", table, was.rows, now.rows))
		case now.md5 != was.md5:
			out = append(out, fmt.Sprintf("%s: %d rows before and after, but their content changed", table, was.rows))
		}
	}
	for table := range after {
		if _, ok := s[table]; !ok {
			out = append(out, table+": created")
		}
	}
	slices.Sort(out)
	return out
}
