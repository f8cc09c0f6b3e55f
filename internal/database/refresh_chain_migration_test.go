package database_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/database"
	"github.com/rowguard/rowguard/internal/testdb"
)

// Migration 019 (one live refresh token per session): a session forked by the old grace
// window keeps its newest live token; the others count as rotated, so presenting one
// revokes the session. The way down drops the sealed successors and the index.
func TestMigration019OneLiveRefreshToken(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	const before = 18
	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	exec(t, db.AdminURL, `
	  with u as (insert into auth.users (email) values ('forked@pgtap.test') returning id),
	       s as (insert into auth.sessions (user_id) select id from u returning id)
	  insert into auth.refresh_tokens (token_hash, session_id, created_at)
	  select sha256(convert_to(n::text, 'UTF8')), s.id, now() - make_interval(mins => 10 - n)
	    from s, generate_series(1, 3) n`)

	if err := database.Migrate(ctx, db.AdminURL, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
	got := scalar[string](t, db.AdminURL, `select coalesce(string_agg(encode(token_hash, 'hex'), ','), '') from auth.refresh_tokens where rotated_at is null`)
	if want := scalar[string](t, db.AdminURL, `select encode(sha256('3'::bytea), 'hex')`); got != want {
		t.Fatalf("live tokens after the migration: %q, want only the newest %q", got, want)
	}
	conn, err := pgx.Connect(ctx, db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `insert into auth.refresh_tokens (token_hash, session_id)
	                          select sha256('4'::bytea), session_id from auth.refresh_tokens limit 1`)
	conn.Close(ctx)
	if err == nil {
		t.Fatal("a second live token of one session was accepted")
	}

	if err := database.Migrate(ctx, db.AdminURL, before, nil); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int](t, db.AdminURL, `select count(*)::int from information_schema.columns
	                                      where table_schema = 'auth' and table_name = 'refresh_tokens' and column_name like 'successor%'`); n != 0 {
		t.Fatalf("%d successor columns survived the way down", n)
	}
	if err := database.Migrate(ctx, db.AdminURL, database.Latest, nil); err != nil {
		t.Fatal(err)
	}
}
