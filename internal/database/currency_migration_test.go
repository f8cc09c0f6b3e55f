package database_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/testdb"
)

// Migration 023 (a currency is ISO 4217 everywhere): a service or plan priced in a code
// that is not ISO 4217 stops the migration, which changes nothing and names the rows;
// once they are fixed it applies, and its way down restores the shape-only checks.
func TestMigration023RefusesNonISOCurrencies(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	const before = 22
	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	exec(t, db.AdminURL,
		`insert into auth.users (id, email) values ('d1000000-0000-4000-8000-000000000001', 'owner@currency.test')`,
		`select set_config('app.user_id', 'd1000000-0000-4000-8000-000000000001', false)`,
		`insert into app.organizations (id, name, slug) values ('dddddddd-0000-4000-8000-000000000000', 'Currency', 'currency-test')`,
		`insert into app.services (org_id, id, name, duration_minutes, price, currency) values
		   ('dddddddd-0000-4000-8000-000000000000', 'dddddddd-0000-4000-8000-0000000000c1', 'Typo', 30, 10, 'XXQ'),
		   ('dddddddd-0000-4000-8000-000000000000', 'dddddddd-0000-4000-8000-0000000000c2', 'Kuna', 30, 10, 'HRK'),
		   ('dddddddd-0000-4000-8000-000000000000', 'dddddddd-0000-4000-8000-0000000000c3', 'Fine', 30, 10, 'EUR')`)

	err := database.Migrate(ctx, db.AdminURL, database.Latest, nil)
	var mErr *database.MigrationError
	if !errors.As(err, &mErr) || mErr.Name != "023_iso_currency_everywhere.sql" || mErr.Err.Code != "23514" {
		t.Fatalf("migrating with services in XXQ and HRK: %v, want 023 to refuse (23514)", err)
	}
	for _, want := range []string{"2 row(s)", "dddddddd-0000-4000-8000-0000000000c1", ": XXQ", ": HRK", "then migrate again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}
	t.Logf("the refusal:\n%v", err)
	if strings.Contains(err.Error(), "0000000000c3") {
		t.Errorf("the refusal names the EUR service:\n%v", err)
	}
	if v := scalar[int](t, db.AdminURL, `select max(version)::int from public.schema_version`); v != before {
		t.Fatalf("at version %d after the refusal, want %d (nothing applied)", v, before)
	}

	// The fix the hint describes, then the migration applies.
	exec(t, db.AdminURL, `update app.services set currency = 'EUR' where currency in ('XXQ', 'HRK')`)
	if err := database.Migrate(ctx, db.AdminURL, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tryExec(db.AdminURL, `update app.services set currency = 'XXQ' where name = 'Fine'`); err == nil {
		t.Fatal("a service was moved to XXQ after migration 023")
	}

	// Down: the shape-only checks are back (XXQ passes), and up again refuses again.
	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	exec(t, db.AdminURL, `update app.services set currency = 'XXQ' where name = 'Fine'`)
	if err := database.Migrate(ctx, db.AdminURL, database.Latest, nil); !errors.As(err, &mErr) {
		t.Fatalf("up again with a service in XXQ: %v, want a refusal", err)
	}
}

// tryExec runs one statement and returns its error.
func tryExec(url, sql string) (string, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, sql)
	return tag.String(), err
}
