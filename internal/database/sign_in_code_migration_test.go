package database_test

import (
	"context"
	"testing"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/testdb"
)

// Migration 015 (sign-in codes as the API's HMAC): up drops the codes stored as a
// plain SHA-256 (they can no longer verify) and the old signatures, and the kernel then
// installs only the new functions, granted by policies/; down drops the HMAC codes the
// older functions could not verify. Below the latest version no kernel function exists
// at all: the kernel is a code package installed at the latest version only.
func TestMigration015SignInCodeHMAC(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	const before = 14
	signatures := `select coalesce(string_agg(p.oid::regprocedure::text, ' ' order by p.oid::regprocedure::text), '')
	                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
	                where n.nspname = 'auth' and p.proname in ('request_sign_in_code', 'verify_sign_in_code')`

	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	if got := scalar[string](t, db.AdminURL, signatures); got != "" {
		t.Fatalf("at %d the kernel is not installed, yet found %s", before, got)
	}
	// A code stored by 008's function: the SHA-256 of the code.
	exec(t, db.AdminURL, `insert into auth.email_sign_in_codes (email, code_hash, expires_at)
	                      values ('old@pgtap.test', sha256('123456'::bytea), now() + interval '10 minutes')`)

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

	// A code stored as an HMAC goes with the way down, and so does the kernel.
	exec(t, db.AdminURL, `select auth.request_sign_in_code('new@pgtap.test', sha256('any 32 bytes'::bytea), '654321', true)`)
	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int](t, db.AdminURL, `select count(*)::int from auth.email_sign_in_codes`); n != 0 {
		t.Fatalf("%d HMAC code survived the way down", n)
	}
	if got := scalar[string](t, db.AdminURL, signatures); got != "" {
		t.Fatalf("after the way down to %d the kernel is still there: %s", before, got)
	}
}
