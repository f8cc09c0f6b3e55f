package database_test

import (
	"context"
	"testing"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/testdb"
)

// Migration 015 (sign-in codes as the API's HMAC): up drops the codes stored as a
// plain SHA-256 and leaves only the new functions, granted by policies/; down brings
// 008's functions back, working, and drops the HMAC codes they could not verify.
func TestMigration015SignInCodeHMAC(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	const before = 14
	signatures := `select string_agg(p.oid::regprocedure::text, ' ' order by p.oid::regprocedure::text)
	                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
	                where n.nspname = 'auth' and p.proname in ('request_sign_in_code', 'verify_sign_in_code')`

	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := scalar[string](t, db.AdminURL, signatures),
		"auth.request_sign_in_code(text,text,boolean) auth.verify_sign_in_code(text,text,boolean)"; got != want {
		t.Fatalf("at %d: %s, want 008's %s", before, got, want)
	}
	// 008's functions work again after the down: the code is stored as its SHA-256.
	exec(t, db.AdminURL, `select auth.request_sign_in_code('old@pgtap.test', '123456', true)`)
	if n := scalar[int](t, db.AdminURL, `select count(*)::int from auth.email_sign_in_codes
	                                      where email = 'old@pgtap.test' and code_hash = sha256('123456'::bytea)`); n != 1 {
		t.Fatalf("at %d, 008's request_sign_in_code stored %d SHA-256 code", before, n)
	}

	if err := database.Migrate(ctx, db.AdminURL, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := scalar[string](t, db.AdminURL, signatures),
		"auth.request_sign_in_code(text,bytea,text,boolean) auth.verify_sign_in_code(text,bytea,boolean)"; got != want {
		t.Fatalf("at the latest version: %s, want %s", got, want)
	}
	if n := scalar[int](t, db.AdminURL, `select count(*)::int from auth.email_sign_in_codes`); n != 0 {
		t.Fatalf("%d code stored under the old hash survived the migration", n)
	}
	if !scalar[bool](t, db.AdminURL, `select has_function_privilege('rowguard_api', 'auth.request_sign_in_code(text,bytea,text,boolean)', 'execute')
	                                     and has_function_privilege('rowguard_api', 'auth.verify_sign_in_code(text,bytea,boolean)', 'execute')`) {
		t.Fatal("the API role may not call the new functions")
	}

	// A code stored as an HMAC goes with the way down.
	exec(t, db.AdminURL, `select auth.request_sign_in_code('new@pgtap.test', sha256('any 32 bytes'::bytea), '654321', true)`)
	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int](t, db.AdminURL, `select count(*)::int from auth.email_sign_in_codes`); n != 0 {
		t.Fatalf("%d HMAC code survived the way down", n)
	}
}
