package main

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// The revocation figure is only honest if the copy without the check is
// auth.begin_request minus the session read and nothing else: the same owner, security
// and settings (but enable_seqscan, which serves only the session read, so that its
// cost counts as the check's), the same refusals for membership and suspension, the
// same request context left behind. Only a dead session tells them apart.
func TestUncheckedCopyMatchesBeginRequest(t *testing.T) {
	ctx := t.Context()
	db := testdb.New(t)
	admin := db.AdminPool(t)
	drop, err := installProbe(ctx, db.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)

	var sameShape bool
	if err := admin.QueryRow(ctx, `
		select a.prosecdef = b.prosecdef and a.proowner = b.proowner
		   and array_remove(a.proconfig, 'enable_seqscan=off') = b.proconfig
		   and a.provolatile = b.provolatile and a.prolang = b.prolang
		  from pg_proc a, pg_proc b
		 where a.oid = 'auth.begin_request(uuid, uuid, uuid)'::regprocedure
		   and b.oid = 'rowguard_load.begin_request_unchecked(uuid, uuid, uuid)'::regprocedure`).Scan(&sameShape); err != nil {
		t.Fatal(err)
	}
	if !sameShape {
		t.Error("the copy differs from auth.begin_request in owner, SECURITY DEFINER, settings, volatility or language")
	}

	// Alice owns orgs A, S (suspended) and D (soft-deleted); org B is a stranger's.
	var alice, aliceSession, bob, orgA, orgB, orgS, orgD string
	err = admin.QueryRow(ctx, `
		with u as (insert into auth.users (email, password_hash) values ('alice@load.test', 'x'), ('bob@load.test', 'x') returning id, email),
		     s as (insert into auth.sessions (user_id) select id from u where email = 'alice@load.test' returning id, user_id)
		select (select id from u where email = 'alice@load.test')::text, (select id from s)::text,
		       (select id from u where email = 'bob@load.test')::text`).Scan(&alice, &aliceSession, &bob)
	if err != nil {
		t.Fatal(err)
	}
	newOrg := func(founder, slug string) (id string) {
		t.Helper()
		tx, err := admin.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `select set_config('app.user_id', $1, true)`, founder); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, `insert into app.organizations (name, slug) values ($1, $1) returning id::text`, slug).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return id
	}
	orgA, orgB, orgS, orgD = newOrg(alice, "load-a"), newOrg(bob, "load-b"), newOrg(alice, "load-s"), newOrg(alice, "load-d")
	if _, err := admin.Exec(ctx, `update app.subscriptions set suspended_at = now(), suspended_reason = 'test' where org_id = $1`, orgS); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `update app.organizations set deleted_at = now(), deleted_by = $2 where id = $1`, orgD, alice); err != nil {
		t.Fatal(err)
	}

	app := db.AppPool(t)
	// begin runs one of the two as the API role and reports the SQLSTATE (or "") and
	// the request context it leaves.
	begin := func(fn, org string) (code, context string) {
		t.Helper()
		var orgArg any
		if org != "" {
			orgArg = org
		}
		batch := &pgx.Batch{}
		batch.Queue(`select `+fn+`($1, $2, $3)`, alice, aliceSession, orgArg)
		batch.Queue(`select concat_ws('|', current_setting('app.user_id'), current_setting('app.session_id'), current_setting('app.org_id'))`)
		br := app.SendBatch(ctx, batch)
		_, err := br.Exec()
		if err == nil {
			err = br.QueryRow().Scan(&context)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code, ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return "", context
	}
	const real, copy = "auth.begin_request", "rowguard_load.begin_request_unchecked"
	for _, org := range []string{orgA, "", orgB, orgS, orgD} {
		rc, rctx := begin(real, org)
		cc, cctx := begin(copy, org)
		if rc != cc || rctx != cctx {
			t.Errorf("org %q: begin_request → %q %q, the copy → %q %q", org, rc, rctx, cc, cctx)
		}
	}
	if code, _ := begin(real, orgB); code != "RG404" {
		t.Errorf("a stranger's org: %q, want RG404 (the comparison above needs a refusal to compare)", code)
	}
	if code, _ := begin(real, orgS); code != "RGS03" {
		t.Errorf("a suspended org: %q, want RGS03", code)
	}
	if code, _ := begin(real, orgD); code != "RG404" {
		t.Errorf("a deleted org: %q, want RG404", code)
	}

	// The one difference: a dead session.
	if _, err := admin.Exec(ctx, `update auth.sessions set revoked_at = now() where id = $1`, aliceSession); err != nil {
		t.Fatal(err)
	}
	if code, _ := begin(real, orgA); code != "RG401" {
		t.Errorf("revoked session: begin_request → %q, want RG401", code)
	}
	if code, _ := begin(copy, orgA); code != "" {
		t.Errorf("revoked session: the copy → %q, want success (it skips exactly that check)", code)
	}

	// The timing procedure runs as the API role and reports two positive figures.
	if _, err := admin.Exec(ctx, `update auth.sessions set revoked_at = null where id = $1`, aliceSession); err != nil {
		t.Fatal(err)
	}
	for _, checked := range []bool{true, false} {
		var us float64
		if err := app.QueryRow(ctx, `call rowguard_load.time_block($1, $2, $3, 20, $4, 5)`, alice, aliceSession, orgA, checked).Scan(&us); err != nil {
			t.Fatal(err)
		}
		if us <= 0 {
			t.Errorf("time_block(checked %v): %v µs", checked, us)
		}
	}
	// A revoked session makes the checked block fail: it does run the check.
	if _, err := admin.Exec(ctx, `update auth.sessions set revoked_at = now() where id = $1`, aliceSession); err != nil {
		t.Fatal(err)
	}
	var us float64
	if err := app.QueryRow(ctx, `call rowguard_load.time_block($1, $2, $3, 20, true, 1)`, alice, aliceSession, orgA).Scan(&us); err == nil {
		t.Error("time_block with the check passed on a revoked session")
	}

	drop()
	var left bool
	if err := admin.QueryRow(context.WithoutCancel(ctx), `select exists (select from pg_namespace where nspname = 'rowguard_load')`).Scan(&left); err != nil || left {
		t.Errorf("the scratch schema outlives the run (%v)", err)
	}
}
