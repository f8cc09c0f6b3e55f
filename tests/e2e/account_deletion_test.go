package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/token"
)

// DELETE /v1/auth/me, attacks first: another account's token, a stale proof, a token
// replayed after the deletion.
func TestAccountDeletionAttacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.newTenant(t, "Deletion victims")
	victim := tn.Member
	attacker, _ := e.register(t, "deletion-attacker", "")

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
	e.do(t, http.MethodDelete, "/v1/auth/me", attacker.Token, nil).want(t, http.StatusNoContent)
	if n := e.count(t, `select count(*) from auth.users where id = $1 and deleted_at is null and email = $2`, victim.ID, victim.Email); n != 1 {
		t.Errorf("the victim's account changed")
	}
	e.do(t, http.MethodGet, "/v1/auth/me", victim.Token, nil).want(t, http.StatusOK)

	// Replays after the deletion: the access token, the refresh token, the password.
	wantUnauthorized(t, e.do(t, http.MethodGet, "/v1/auth/me", attacker.Token, nil))
	wantUnauthorized(t, e.do(t, http.MethodDelete, "/v1/auth/me", attacker.Token, nil))
	if r := e.refresh(t, attacker.RefreshToken); r.Status < 400 || r.Status >= 500 {
		t.Errorf("refresh after deletion: %s", r)
	}
	if r := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": attacker.Email, "password": attacker.Password}); r.Status < 400 || r.Status >= 500 {
		t.Errorf("login after deletion: %s", r)
	}
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

	// An OWNER beside another OWNER (second's founder) and a member elsewhere: deleted.
	e.reauthenticate(t, leaver)
	auditBefore := e.count(t, `select count(*) from app.audit_log where actor_user_id = $1`, leaver.ID)
	e.do(t, http.MethodDelete, "/v1/auth/me", leaver.Token, nil, withHeader(api.RequestIDHeader, "req-delete-me")).
		want(t, http.StatusNoContent)

	for q, want := range map[string]int{
		`select count(*) from app.memberships where user_id = $1`:                                                                    0,
		`select count(*) from app.project_members where user_id = $1`:                                                                0,
		`select count(*) from auth.sessions where user_id = $1 and (revoked_at is null or user_agent is not null or ip is not null)`: 0,
		`select count(*) from auth.identities where user_id = $1`:                                                                    0,
		`select count(*) from auth.users where id = $1 and deleted_at is not null and status = 'disabled' and password_hash is null
		   and email_verified_at is null and email = 'deleted-' || id || '@deleted.invalid'`: 1,
		// The audit trail keeps the pseudonymous actor id, and records the memberships' end.
		`select count(*) from app.audit_log where actor_user_id = $1 and request_id = 'req-delete-me'
		   and table_name = 'app.memberships' and action = 'DELETE'`: 2,
		// The organization keeps the record, no longer signed.
		`select count(*) from app.financial_records where created_by is null and updated_by is null and id = '` + rec.ID + `'::uuid and $1::uuid is not null`: 1,
	} {
		if n := e.count(t, q, leaver.ID); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	if n := e.count(t, `select count(*) from app.audit_log where actor_user_id = $1`, leaver.ID); n < auditBefore {
		t.Errorf("audit entries of the deleted user went")
	}
	if n := e.count(t, `select count(*) from auth.users where lower(email) = lower($1)`, leaver.Email); n != 0 {
		t.Errorf("the address is still held")
	}
	// The others see them gone; the address is free for a new account.
	var members page[member]
	e.do(t, http.MethodGet, "/v1/orgs/"+second.Org.ID+"/members", second.Owner.Token, nil).want(t, http.StatusOK).decode(t, &members)
	for _, m := range members.Items {
		if m.UserID == leaver.ID {
			t.Errorf("still a member of %s", second.Org.Name)
		}
	}
	e.startSignUp(t, leaver.Email, fixturePassword, "")
}
