package pgtap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/internal/testdb"
)

// A sign-in racing the disable of its user. auth.begin_request trusts that a disabled
// user has no live session; the trigger revokes the sessions that exist when the user
// is disabled, and auth.open_session locks the user row (FOR SHARE) so that a session
// cannot be born between the two. Here the disable holds its row lock while a sign-in
// runs: the sign-in must wait for it, then be refused. Without the lock it would
// succeed, with a live session for a disabled user.
func TestSignInWaitsForDisable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	db := testdb.New(t)
	admin := db.AdminPool(t)
	var userID string
	if err := admin.QueryRow(ctx, `insert into auth.users (email, password_hash) values ('racer@example.com', 'x') returning id::text`).Scan(&userID); err != nil {
		t.Fatal(err)
	}

	disabling, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer disabling.Rollback(context.WithoutCancel(ctx))
	if _, err := disabling.Exec(ctx, `update auth.users set status = 'disabled' where id = $1`, userID); err != nil {
		t.Fatal(err)
	}

	signIn := make(chan error, 1)
	go func() {
		conn, err := pgx.Connect(ctx, db.AppURL)
		if err != nil {
			signIn <- err
			return
		}
		defer conn.Close(context.WithoutCancel(ctx))
		// What api.create_session does once the password checked out: the request's
		// user, then the session, in one transaction.
		batch := &pgx.Batch{}
		batch.Queue(`select set_config('app.user_id', $1, true)`, userID)
		batch.Queue(`select session_id from auth.open_session($1, 'race', null, sha256('t'::bytea), '1 day', '1 hour')`, userID)
		signIn <- conn.SendBatch(ctx, batch).Close()
	}()

	// The sign-in must be blocked on the user row's lock before the disable commits.
	for waiting := false; !waiting; {
		select {
		case err := <-signIn:
			t.Fatalf("the sign-in finished while the disable was in flight (err %v): it did not wait for the user row", err)
		case <-time.After(20 * time.Millisecond):
		}
		if err := admin.QueryRow(ctx, `select exists (select from pg_stat_activity
		    where wait_event_type = 'Lock' and query like '%auth.open_session%')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if err := disabling.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	var pe *pgconn.PgError
	if err := <-signIn; !errors.As(err, &pe) || pe.Code != "RG403" {
		t.Fatalf("sign-in after the disable committed: %v, want RG403 (account disabled)", err)
	}
	var live int
	if err := admin.QueryRow(ctx, `select count(*) from auth.sessions where user_id = $1 and revoked_at is null`, userID).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Fatalf("a disabled user has %d live session(s)", live)
	}
}
