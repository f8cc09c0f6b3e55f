package policyreport_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/policyreport"
	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// who-can equals the declared expectation table in every cell: each probe's actors are
// exactly the declared ones, and each actor's levels are the declared levels.
func TestWhoCanEqualsTheExpectationTable(t *testing.T) {
	db := testdb.New(t)
	conn := connect(t, db.AdminURL)
	w, err := policyreport.Probe(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range w.Mismatches {
		t.Errorf("mismatch: %s", m)
	}
	got := map[string][]string{}
	for _, tb := range w.Tables {
		for _, c := range tb.Commands {
			for _, tr := range c.Targets {
				got[tb.Table+" "+c.Command+" "+tr.Target] = tr.Allowed
			}
		}
	}
	if len(got) != len(policyreport.Expectations) {
		t.Errorf("%d cells probed, %d declared", len(got), len(policyreport.Expectations))
	}
	for _, e := range policyreport.Expectations {
		key := e.Table + " " + e.Command + " " + e.Target
		want := e.Allowed
		if want == nil {
			want = []string{}
		}
		// Allowed lists follow Actors' order in the result; compare as sets.
		g := slices.Clone(got[key])
		w := slices.Clone(want)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s: Postgres allowed %v, declared %v", key, g, w)
		}
	}
	if !slices.Equal(w.Levels, policyreport.PermissionExpectations) {
		t.Errorf("levels %v, declared %v", w.Levels, policyreport.PermissionExpectations)
	}

	// The probes left nothing behind.
	var n int
	if err := conn.QueryRow(t.Context(), "select count(*) from auth.users").Scan(&n); err != nil || n != 0 {
		t.Errorf("after who-can: %d users (%v), want 0", n, err)
	}
}
