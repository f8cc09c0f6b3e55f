package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard"
	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/testdb"
	"github.com/rowguard/rowguard/internal/token"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// clearEnv empties every variable rowguard reads and any other ROWGUARD_* variable of
// the environment (but the tests' own), for the duration of the test.
func clearEnv(t *testing.T) {
	for _, v := range config.Variables {
		t.Setenv(v.Name, "")
	}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "ROWGUARD_") && !slices.Contains(config.TestOnlyVariables, name) {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func TestCommandLine(t *testing.T) {
	if code, out, _ := runArgs(t, "version"); code != 0 || !strings.HasPrefix(out, "rowguard "+rowguard.Version+"\ncommit ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, out, _ := runArgs(t, "help"); code != 0 || !strings.Contains(out, "ROWGUARD_ACCESS_TOKEN_TTL") {
		t.Errorf("help: %d %q", code, out)
	}
	for _, args := range [][]string{{}, {"bogus"}, {"migrate", "--to", "x"}, {"migrate", "--to", "-2"}, {"migrate", "extra"}, {"serve", "--port", "1"}} {
		if code, _, _ := runArgs(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	clearEnv(t)
	t.Setenv("DATABASE_URL", "postgres://rowguard_app@localhost/rowguard")
	code, _, stderr := runArgs(t, "serve")
	if code != 1 || !strings.Contains(stderr, "ROWGUARD_JWT_PRIVATE_KEY: required when DATABASE_URL is set") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestMigrateAndServeRefusesSuperuser(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
	if code, out, stderr := runArgs(t, "migrate", "--to", "1"); code != 0 || !strings.Contains(out, "at version 1") {
		t.Fatalf("migrate --to 1: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runArgs(t, "migrate"); code != 0 || !strings.Contains(out, "(latest)") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}

	setSigningKey(t)
	t.Setenv("ROWGUARD_ADDR", freeAddr(t)) // bound first, let go when the role check fails
	t.Setenv("ROWGUARD_MANAGEMENT_ADDR", "off")
	t.Setenv("DATABASE_URL", db.AdminURL)
	code, _, stderr := runArgs(t, "serve")
	if code != 1 || !strings.Contains(stderr, `refusing to serve as database role "postgres": it is a superuser`) {
		t.Fatalf("serve as superuser: exit %d, stderr %q", code, stderr)
	}
}

// setSigningKey puts a fresh Ed25519 key in ROWGUARD_JWT_PRIVATE_KEY.
func setSigningKey(t *testing.T) {
	t.Helper()
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROWGUARD_JWT_PRIVATE_KEY", string(pem))
}

func TestAdminGrantAndRevoke(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
	pool := db.AdminPool(t)
	if _, err := pool.Exec(t.Context(), `insert into auth.users (email, password_hash) values ('ops@example.com', 'x')`); err != nil {
		t.Fatal(err)
	}
	isAdmin := func() (admin bool) {
		t.Helper()
		if err := pool.QueryRow(t.Context(), `select is_platform_admin from auth.users where email = 'ops@example.com'`).Scan(&admin); err != nil {
			t.Fatal(err)
		}
		return admin
	}
	if code, out, stderr := runArgs(t, "admin", "grant", "OPS@example.com"); code != 0 || !strings.Contains(out, "is now a platform admin") || !isAdmin() {
		t.Fatalf("grant: exit %d %q %q", code, out, stderr)
	}
	if code, _, stderr := runArgs(t, "admin", "revoke", "ops@example.com"); code != 0 || isAdmin() {
		t.Fatalf("revoke: exit %d %q", code, stderr)
	}
	var actions []string
	if err := pool.QueryRow(t.Context(), `select array_agg(action order by id) from platform.admin_audit where actor = 'command line'`).Scan(&actions); err != nil {
		t.Fatal(err)
	}
	if strings.Join(actions, ",") != "admin.grant,admin.revoke" {
		t.Errorf("audit = %v", actions)
	}
	if code, _, stderr := runArgs(t, "admin", "grant", "nobody@example.com"); code != 1 || !strings.Contains(stderr, `no user has the email "nobody@example.com"`) {
		t.Errorf("unknown email: exit %d %q", code, stderr)
	}
	for _, args := range [][]string{{"admin"}, {"admin", "grant"}, {"admin", "promote", "ops@example.com"}, {"admin", "grant", "a", "b"}} {
		if code, _, _ := runArgs(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestAdminDisableAndEnable(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
	pool := db.AdminPool(t)
	var userID, sessionID string
	err := pool.QueryRow(t.Context(), `
		with u as (insert into auth.users (email, password_hash) values ('mallory@example.com', 'x') returning id)
		insert into auth.sessions (user_id) select id from u returning user_id::text, id::text`).Scan(&userID, &sessionID)
	if err != nil {
		t.Fatal(err)
	}
	state := func() (status string, revokedReason *string) {
		t.Helper()
		err := pool.QueryRow(t.Context(), `select u.status::text, s.revoked_reason from auth.users u join auth.sessions s on s.user_id = u.id where s.id = $1`,
			sessionID).Scan(&status, &revokedReason)
		if err != nil {
			t.Fatal(err)
		}
		return status, revokedReason
	}

	code, out, stderr := runArgs(t, "admin", "disable", "Mallory@example.com")
	if status, reason := state(); code != 0 || status != "disabled" || reason == nil || *reason != "disabled" {
		t.Fatalf("disable: exit %d %q %q; status %s, session revoked for %v", code, out, stderr, status, reason)
	}
	if !strings.Contains(out, "(user "+userID+") is disabled") || !strings.Contains(out, "1 live session(s) revoked") {
		t.Errorf("disable printed %q", out)
	}
	if code, out, stderr := runArgs(t, "admin", "enable", "mallory@example.com"); code != 0 || !strings.Contains(out, "is enabled again") || strings.Contains(out, "revoked") {
		t.Fatalf("enable: exit %d %q %q", code, out, stderr)
	}
	if status, reason := state(); status != "active" || reason == nil {
		t.Errorf("after enable: status %s, session revoked for %v (want active, and the session still revoked)", status, reason)
	}
	var details []string
	if err := pool.QueryRow(t.Context(), `select array_agg(action || ':' || (details->>'sessions_revoked') order by id) from platform.admin_audit where actor = 'command line'`).Scan(&details); err != nil {
		t.Fatal(err)
	}
	if strings.Join(details, ",") != "user.disable:1,user.enable:0" {
		t.Errorf("audit = %v", details)
	}
	if code, _, stderr := runArgs(t, "admin", "disable", "nobody@example.com"); code != 1 || !strings.Contains(stderr, `no user has the email "nobody@example.com"`) {
		t.Errorf("unknown email: exit %d %q", code, stderr)
	}
	if code, _, _ := runArgs(t, "admin", "suspend", "mallory@example.com"); code != 2 {
		t.Errorf("unknown action: exit %d, want 2", code)
	}
}

// rowguard purge-deleted deletes, with every row they hold, the organizations
// soft-deleted over 30 days ago, and no other; each purge is in platform.admin_audit.
func TestPurgeDeleted(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	t.Setenv("MIGRATION_DATABASE_URL", db.AdminURL)
	pool := db.AdminPool(t)
	// Three organizations of one founder: purgeable (deleted 31 days ago), restorable
	// (deleted 29 days ago) and live, each with a project.
	if _, err := pool.Exec(t.Context(), `
		insert into auth.users (id, email, password_hash) values ('0a000000-0000-4000-8000-000000000001', 'founder@purge.test', 'x');
		select set_config('app.user_id', '0a000000-0000-4000-8000-000000000001', true);
		insert into app.organizations (id, name, slug, deleted_at, deleted_by) values
		  ('0a000000-0000-4000-8000-0000000000a1', 'Old', 'purge-old', now() - interval '31 days', '0a000000-0000-4000-8000-000000000001'),
		  ('0a000000-0000-4000-8000-0000000000a2', 'Recent', 'purge-recent', now() - interval '29 days', '0a000000-0000-4000-8000-000000000001'),
		  ('0a000000-0000-4000-8000-0000000000a3', 'Live', 'purge-live', null, null);
		insert into app.projects (org_id, name) select id, 'p' from app.organizations where slug like 'purge-%';
		-- Two accounts pending deletion (DELETE /v1/auth/me): for 31 days (erased now) and
		-- for 29 (restorable still), both members of Live.
		insert into auth.users (id, email, password_hash, deleted_at) values
		  ('0a000000-0000-4000-8000-000000000002', 'gone@purge.test', 'x', now() - interval '31 days'),
		  ('0a000000-0000-4000-8000-000000000003', 'staying@purge.test', 'x', now() - interval '29 days');
		insert into app.memberships (org_id, user_id, role) values
		  ('0a000000-0000-4000-8000-0000000000a3', '0a000000-0000-4000-8000-000000000002', 'OWNER'),
		  ('0a000000-0000-4000-8000-0000000000a3', '0a000000-0000-4000-8000-000000000003', 'MEMBER');`); err != nil {
		t.Fatal(err)
	}
	var audited int
	code, out, stderr := runArgs(t, "purge-deleted")
	if code != 0 || !strings.Contains(out, `purged organization 0a000000-0000-4000-8000-0000000000a1 "Old"`) || !strings.Contains(out, "1 organization(s) purged") ||
		!strings.Contains(out, "erased account 0a000000-0000-4000-8000-000000000002") || !strings.Contains(out, "1 account(s) erased") {
		t.Fatalf("purge-deleted: exit %d\n%s%s", code, out, stderr)
	}
	// The account deleted 31 days ago is a tombstone without memberships; the other one
	// is untouched; the organization keeps its live OWNER.
	var accounts string
	if err := pool.QueryRow(t.Context(), `select string_agg(u.email || ':' || u.status || ':' || (u.password_hash is null) || ':' ||
	           (u.erased_at is not null) || ':' || (select count(*) from app.memberships m where m.user_id = u.id), ' ' order by u.id)
	      from auth.users u where u.id in ('0a000000-0000-4000-8000-000000000002', '0a000000-0000-4000-8000-000000000003')`).Scan(&accounts); err != nil {
		t.Fatal(err)
	}
	if want := "deleted-0a000000-0000-4000-8000-000000000002@deleted.invalid:disabled:true:true:0 staying@purge.test:active:false:false:1"; accounts != want {
		t.Errorf("accounts after the purge:\n got %s\nwant %s", accounts, want)
	}
	if err := pool.QueryRow(t.Context(), `select count(*) from platform.admin_audit
	                                       where action = 'account.purge' and details ->> 'user_id' = '0a000000-0000-4000-8000-000000000002'`).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("account purge audit entries: %d (%v)", audited, err)
	}
	var left []string
	if err := pool.QueryRow(t.Context(), `select array_agg(o.slug order by o.slug) from app.organizations o
	                                       join app.projects p on p.org_id = o.id where o.slug like 'purge-%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if strings.Join(left, ",") != "purge-live,purge-recent" {
		t.Errorf("left after the purge: %v", left)
	}
	if err := pool.QueryRow(t.Context(), `select count(*) from platform.admin_audit
	                                       where action = 'organization.purge' and org_id = '0a000000-0000-4000-8000-0000000000a1'`).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("purge audit entries: %d (%v)", audited, err)
	}
	// Nothing more to do: it says so, and exits 0.
	if code, out, stderr := runArgs(t, "purge-deleted"); code != 0 || !strings.Contains(out, "0 organization(s) purged") || !strings.Contains(out, "0 account(s) erased") {
		t.Errorf("second run: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, _ := runArgs(t, "purge-deleted", "extra"); code != 2 {
		t.Errorf("purge-deleted extra: exit %d, want 2", code)
	}
}
