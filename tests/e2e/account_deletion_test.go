package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/token"
)

// deletionAnswer is the 202 of DELETE /v1/auth/me.
type deletionAnswer struct {
	DeletedAt  time.Time `json:"deleted_at"`
	PurgeAfter time.Time `json:"purge_after"`
}

// deleteAccount deletes u's account (a fresh proof first) and returns the answer.
func (e *env) deleteAccount(t testing.TB, u user) deletionAnswer {
	t.Helper()
	e.reauthenticate(t, u)
	var out deletionAnswer
	e.do(t, http.MethodDelete, "/v1/auth/me", u.Token, nil).want(t, http.StatusAccepted).decode(t, &out)
	if d := out.PurgeAfter.Sub(out.DeletedAt); d != 30*24*time.Hour {
		t.Fatalf("purge_after is %s after deleted_at, want 30 days", d)
	}
	return out
}

// restoreAccount posts email and password to POST /v1/auth/restore.
func (e *env) restoreAccount(t testing.TB, email, password string) *response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/auth/restore", "", map[string]any{"email": email, "password": password})
}

// purgeAccounts does what `rowguard purge-deleted` does to accounts deleted over 30 days
// ago (cmd/rowguard's TestPurgeDeleted runs the command itself) and returns how many it
// erased.
func (e *env) purgeAccounts(t testing.TB) int {
	t.Helper()
	return e.count(t, `select count(*)::int from auth.purge_deleted_accounts()`)
}

func wantDeletionPending(t testing.TB, r *response) {
	t.Helper()
	p := wantProblem(t, r, api.ProblemAccountDeletionPending)
	if !strings.Contains(p.Detail, "POST /v1/auth/restore") {
		t.Errorf("the pending-deletion problem does not say how to restore: %q", p.Detail)
	}
}

// DELETE /v1/auth/me and POST /v1/auth/restore, attacks first: another account's token,
// a stale proof, tokens replayed after the deletion, another account restoring it,
// someone else taking the address while it is pending.
func TestAccountDeletionAttacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.newTenant(t, "Deletion victims")
	victim := tn.Member
	// The attacker has a password of their own (the fixtures share one).
	attackerEmail := e.newEmail("deletion-attacker")
	e.startSignUp(t, attackerEmail, "the attacker's own password", "")
	var signedUp authResponse
	e.verifySignUp(t, attackerEmail, e.readSignUpCode(t, attackerEmail)).want(t, http.StatusCreated).decode(t, &signedUp)
	attacker := e.userOf(t, signedUp, "the attacker's own password")

	// Proofs: the victim's is 5 minutes and 1 second old; another session of the victim
	// and the attacker have fresh ones; the ADMIN never gave one.
	e.reauthenticate(t, victim)
	e.exec(t, `update auth.sessions set reauthenticated_at = now() - interval '5 minutes 1 second' where id = $1`, victim.SessionID)
	other := e.login(t, victim)
	e.reauthenticate(t, other)
	e.reauthenticate(t, attacker)
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodDelete, "/v1/auth/me", tn.Admin.Token, nil), api.ProblemReauthenticationRequired)
	// Stale; and the proof of another session of the same user does not count for this one.
	wantProblem(t, e.do(t, http.MethodDelete, "/v1/auth/me", victim.Token, nil), api.ProblemReauthenticationRequired)
	// A token naming the victim with the attacker's freshly proven session: 401.
	forged := signToken(t, e.key, e.tokens.KeyID(), token.Type, with(claimsFor(attacker), "sub", victim.ID))
	wantUnauthorized(t, e.do(t, http.MethodDelete, "/v1/auth/me", forged, nil))
	e.unchanged(t, before, "refused account deletions")

	// The attacker's own token deletes the attacker, never anyone else.
	e.do(t, http.MethodDelete, "/v1/auth/me", attacker.Token, nil).want(t, http.StatusAccepted)
	if n := e.count(t, `select count(*) from auth.users where id = $1 and deleted_at is null and email = $2`, victim.ID, victim.Email); n != 1 {
		t.Errorf("the victim's account changed")
	}
	e.do(t, http.MethodGet, "/v1/auth/me", victim.Token, nil).want(t, http.StatusOK)

	// Replays after the deletion: the access token, the refresh token, the password.
	wantUnauthorized(t, e.do(t, http.MethodGet, "/v1/auth/me", attacker.Token, nil))
	wantUnauthorized(t, e.do(t, http.MethodDelete, "/v1/auth/me", attacker.Token, nil))
	wantProblem(t, e.refresh(t, attacker.RefreshToken), api.ProblemUnauthorized)
	wantDeletionPending(t, e.postLogin(t, attacker.Email, attacker.Password))
	// A wrong password learns nothing about the account.
	wantProblem(t, e.postLogin(t, attacker.Email, "not the password at all"), api.ProblemInvalidCredentials)

	// The victim deletes their account; the victim's old tokens reach nothing, not even
	// the organization's data.
	e.reauthenticate(t, other)
	e.do(t, http.MethodDelete, "/v1/auth/me", other.Token, nil).want(t, http.StatusAccepted)
	for _, tok := range []string{victim.Token, other.Token} {
		wantUnauthorized(t, e.do(t, http.MethodGet, "/v1/orgs/"+tn.Org.ID+"/projects", tok, nil))
		wantUnauthorized(t, e.do(t, http.MethodGet, "/v1/orgs/"+tn.Org.ID+"/members", tok, nil))
	}
	for _, rt := range []string{victim.RefreshToken, other.RefreshToken} {
		wantProblem(t, e.refresh(t, rt), api.ProblemUnauthorized)
	}

	// Nobody else restores it: another password, a guess, a token of the organization's OWNER.
	before = e.snapshot(t)
	wantProblem(t, e.restoreAccount(t, victim.Email, attacker.Password), api.ProblemInvalidCredentials)
	wantProblem(t, e.restoreAccount(t, victim.Email, "a guess of the password"), api.ProblemInvalidCredentials)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/auth/restore", tn.Owner.Token, map[string]any{"email": victim.Email, "password": attacker.Password}),
		api.ProblemInvalidCredentials)
	e.unchanged(t, before, "refused restores")
	if n := e.count(t, `select count(*) from auth.users where id = $1 and deleted_at is not null`, victim.ID); n != 1 {
		t.Errorf("the victim's deletion was cancelled")
	}

	// While pending, the address stays the account's: a sign-up with it creates nothing
	// and its owner hears of it.
	mails := e.outboxRows(t, victim.Email)
	e.startSignUp(t, victim.Email, "squatter horse battery", "").want(t, http.StatusAccepted)
	if n := e.count(t, `select count(*) from auth.pending_sign_ups where email = lower($1)`, victim.Email); n != 0 {
		t.Errorf("a sign-up for a pending account's address is waiting for its code")
	}
	if n := e.count(t, `select count(*) from auth.email_outbox where lower(recipient) = lower($1) and template = 'sign_up_exists'`, victim.Email); n != 1 ||
		e.outboxRows(t, victim.Email) != mails+1 {
		t.Errorf("the owner of the address was not told of the sign-up (%d)", n)
	}

	// Bad input: 422 naming the field, before any work.
	e.runBadInput(t, http.MethodPost, "/v1/auth/restore", "", []badCase{
		{name: "no email", body: map[string]any{"password": "x"}, kind: api.ProblemValidation, fields: []string{"email"}},
		{name: "no password", body: map[string]any{"email": victim.Email}, kind: api.ProblemValidation, fields: []string{"password"}},
		{name: "email not a string", body: map[string]any{"email": 1, "password": "x"}, kind: api.ProblemValidation, fields: []string{"email"}},
	})
}

func TestAccountDeletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Leaving")
	second := e.newTenant(t, "Leaving too")
	leaver := pt.PAdmin
	e.addMember(t, second.Org.ID, leaver, "OWNER")
	cat := e.createCategory(t, pt, "income", "Sales")
	var rec record
	e.do(t, http.MethodPost, pt.financePath("/records"), leaver.Token, recordBody("income", "5.00", "EUR", cat.ID, "2030-01-01")).
		want(t, http.StatusCreated).decode(t, &rec)

	// The last OWNER of organizations: 409 naming each one; nothing changes.
	solo := pt.Owner
	e.reauthenticate(t, solo)
	before := e.snapshot(t)
	p := wantProblem(t, e.do(t, http.MethodDelete, "/v1/auth/me", solo.Token, nil), api.ProblemConflict)
	if !strings.Contains(p.Detail, pt.Org.Name) || !strings.Contains(p.Detail, pt.Org.ID) {
		t.Errorf("409 detail %q does not name the organization", p.Detail)
	}
	e.unchanged(t, before, "a last OWNER's deletion")

	// An OWNER beside another OWNER (second's founder) and a member elsewhere: pending
	// deletion. Sessions end at once; nothing is erased yet.
	e.deleteAccount(t, leaver)
	for q, want := range map[string]int{
		`select count(*) from app.memberships where user_id = $1`:                                                                    2,
		`select count(*) from auth.sessions where user_id = $1 and (revoked_at is null or user_agent is not null or ip is not null)`: 0,
		`select count(*) from auth.users where id = $1 and deleted_at is not null and erased_at is null and status = 'active'
		   and password_hash is not null and email = '` + leaver.Email + `'`: 1,
		`select count(*) from auth.email_outbox where recipient = '` + leaver.Email + `' and template = 'account_deletion_scheduled'
		   and $1::uuid is not null`: 1,
	} {
		if n := e.count(t, q, leaver.ID); n != want {
			t.Errorf("pending: %s: %d, want %d", q, n, want)
		}
	}

	// The organization where they were an OWNER (not the last) keeps working; their
	// OWNER membership no longer counts: the other OWNER cannot leave them alone with it.
	e.createProject(t, second.Owner, second.Org.ID, "Still here", "")
	wantProblem(t, e.do(t, http.MethodDelete, "/v1/orgs/"+second.Org.ID+"/members/"+second.Owner.ID, second.Owner.Token, nil), api.ProblemConflict)
	wantProblem(t, e.do(t, http.MethodPatch, "/v1/orgs/"+second.Org.ID+"/members/"+second.Owner.ID, second.Owner.Token,
		map[string]any{"role": "ADMIN"}), api.ProblemConflict)
	// Nor can that OWNER delete their own account now: they are the last live OWNER.
	e.reauthenticate(t, second.Owner)
	p = wantProblem(t, e.do(t, http.MethodDelete, "/v1/auth/me", second.Owner.Token, nil), api.ProblemConflict)
	if !strings.Contains(p.Detail, second.Org.ID) {
		t.Errorf("409 detail %q does not name %s", p.Detail, second.Org.Name)
	}

	// Restored with the password within 30 days: signed in, every membership as it was.
	var restored authResponse
	e.restoreAccount(t, leaver.Email, leaver.Password).want(t, http.StatusOK).decode(t, &restored)
	if restored.User.ID != leaver.ID || restored.RefreshToken == "" {
		t.Fatalf("restore answered %+v", restored)
	}
	e.do(t, http.MethodGet, "/v1/orgs/"+second.Org.ID+"/projects", restored.AccessToken, nil).want(t, http.StatusOK)
	e.do(t, http.MethodGet, pt.financePath("/records/"+rec.ID), restored.AccessToken, nil).want(t, http.StatusOK)
	if n := e.count(t, `select count(*) from auth.email_outbox where recipient = $1 and template = 'account_restored'`, leaver.Email); n != 1 {
		t.Errorf("account_restored emails: %d", n)
	}
	// A live account is not restored again (409); logging in works as before.
	wantProblem(t, e.restoreAccount(t, leaver.Email, leaver.Password), api.ProblemConflict)
	leaver = e.login(t, leaver)

	// Deleted again, and 30 days pass: no restore any more; the purge erases it.
	e.deleteAccount(t, leaver)
	e.exec(t, `update auth.users set deleted_at = now() - interval '30 days 1 minute' where id = $1`, leaver.ID)
	wantProblem(t, e.restoreAccount(t, leaver.Email, leaver.Password), api.ProblemInvalidCredentials)
	auditBefore := e.count(t, `select count(*) from app.audit_log where actor_user_id = $1`, leaver.ID)
	if n := e.purgeAccounts(t); n != 1 {
		t.Fatalf("the purge erased %d accounts, want 1", n)
	}
	for q, want := range map[string]int{
		`select count(*) from app.memberships where user_id = $1`:                                                                    0,
		`select count(*) from app.project_members where user_id = $1`:                                                                0,
		`select count(*) from auth.sessions where user_id = $1 and (revoked_at is null or user_agent is not null or ip is not null)`: 0,
		`select count(*) from auth.identities where user_id = $1`:                                                                    0,
		`select count(*) from auth.users where id = $1 and deleted_at is not null and erased_at is not null and status = 'disabled'
		   and password_hash is null and email_verified_at is null and email = 'deleted-' || id || '@deleted.invalid'`: 1,
		// The audit trail keeps the pseudonymous actor id, and records the memberships' end.
		`select count(*) from app.audit_log where actor_user_id = $1 and table_name = 'app.memberships' and action = 'DELETE'`: 2,
		// The organization keeps the record, no longer signed.
		`select count(*) from app.financial_records where created_by is null and updated_by is null and id = '` + rec.ID + `'::uuid and $1::uuid is not null`: 1,
		`select count(*) from platform.admin_audit where action = 'account.purge' and details ->> 'user_id' = $1::text`:                                       1,
	} {
		if n := e.count(t, q, leaver.ID); n != want {
			t.Errorf("erased: %s: %d, want %d", q, n, want)
		}
	}
	if n := e.count(t, `select count(*) from app.audit_log where actor_user_id = $1`, leaver.ID); n < auditBefore {
		t.Errorf("audit entries of the deleted user went")
	}
	if n := e.count(t, `select count(*) from auth.users where lower(email) = lower($1)`, leaver.Email); n != 0 {
		t.Errorf("the address is still held")
	}
	// Idempotent: a second purge finds nothing and changes nothing.
	before = e.snapshot(t)
	if n := e.purgeAccounts(t); n != 0 {
		t.Errorf("a second purge erased %d accounts", n)
	}
	e.unchanged(t, before, "a second purge")
	// The others see them gone; the organization goes on; the address is free.
	var members page[member]
	e.do(t, http.MethodGet, "/v1/orgs/"+second.Org.ID+"/members", second.Owner.Token, nil).want(t, http.StatusOK).decode(t, &members)
	for _, m := range members.Items {
		if m.UserID == leaver.ID {
			t.Errorf("still a member of %s", second.Org.Name)
		}
	}
	e.createProject(t, second.Owner, second.Org.ID, "After the purge", "")
	wantProblem(t, e.restoreAccount(t, leaver.Email, leaver.Password), api.ProblemInvalidCredentials)
	e.startSignUp(t, leaver.Email, fixturePassword, "")
}
