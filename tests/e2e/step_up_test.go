package e2e

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/oidc"
)

// Issue 12, attacks 7 and 8: an OIDC sign-in completed by another browser (login CSRF),
// and destructive acts done with nothing but a (stolen) bearer token. Also the records
// search that answered 500 for a NUL.

// reauthenticate gives u's session a fresh proof, by password.
func (e *env) reauthenticate(t testing.TB, u user) {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/auth/reauthenticate", u.Token, map[string]any{"password": u.Password}).want(t, http.StatusOK)
	var out struct {
		ReauthenticatedAt time.Time `json:"reauthenticated_at"`
		ValidUntil        time.Time `json:"valid_until"`
	}
	r.decode(t, &out)
	if d := out.ValidUntil.Sub(out.ReauthenticatedAt); d != 5*time.Minute {
		t.Fatalf("a reauthentication is valid %s, want 5m", d)
	}
}

// deleteOrganization soft-deletes orgID as its OWNER u, reauthenticating first.
func (e *env) deleteOrganization(t testing.TB, u user, orgID string) {
	t.Helper()
	e.reauthenticate(t, u)
	e.do(t, http.MethodDelete, "/v1/orgs/"+orgID, u.Token, nil).want(t, http.StatusNoContent)
}

// purgeOrganization does what `rowguard purge-deleted` does to orgID once its 30 days
// have passed (cmd/rowguard's TestPurgeDeleted runs the command itself).
func (e *env) purgeOrganization(t testing.TB, orgID string) {
	t.Helper()
	e.exec(t, `update app.organizations set deleted_at = now() - interval '31 days' where id = $1 and deleted_at is not null`, orgID)
	if n := e.count(t, `select count(*)::int from app.purge_deleted_organizations() where org_id = $1`, orgID); n != 1 {
		t.Fatalf("purge removed %d organizations %s, want 1", n, orgID)
	}
}

func wantReauthenticationRequired(t testing.TB, r *response) {
	t.Helper()
	wantProblem(t, r, api.ProblemReauthenticationRequired)
}

// Attack 7. The attacker starts a sign-in at their own provider account and sends the
// callback link to the victim's browser: the victim would be signed in as the attacker
// (and type their data into the attacker's account). The callback now needs the cookie
// /start set in the browser that started it.
func TestOIDCCallbackNeedsTheBrowserThatStartedIt(t *testing.T) {
	o := newOIDCEnv(t)
	attacker := o.newEmail("oidc-csrf-attacker")

	// The cookie /start sets: __Host-, Secure, HttpOnly, SameSite=Lax, Path=/; only its
	// SHA-256 is stored with the state.
	r := getNoRedirect(t, o.URL+"/v1/auth/oidc/"+oidcProvider+"/start")
	r.Route = "/v1/auth/oidc/{provider}/start"
	o.check(t, r)
	r.want(t, http.StatusFound)
	cookies := (&http.Response{Header: r.Header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != oidcCookie || !cookies[0].Secure || !cookies[0].HttpOnly ||
		cookies[0].SameSite != http.SameSiteLaxMode || cookies[0].Path != "/" || cookies[0].Domain != "" || cookies[0].MaxAge != 600 {
		t.Fatalf("start sets %q", r.Header.Values("Set-Cookie"))
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	binding := sha256.Sum256([]byte(cookies[0].Value))
	if o.count(t, `select count(*)::int from auth.oidc_login_states where state_hash = sha256(convert_to($1, 'UTF8')) and binding_hash = $2`,
		loc.Query().Get("state"), binding[:]) != 1 {
		t.Fatal("the binding is not stored as its SHA-256 beside the state")
	}

	sessions := func() int {
		return o.count(t, `select count(*)::int from auth.sessions s join auth.users u on u.id = s.user_id where lower(u.email) = lower($1)`, attacker)
	}

	// The victim's browser has no cookie: refused, and nothing signed in.
	cb, _ := o.start(t, map[string]any{"sub": "attacker-1", "email": attacker})
	wantSignInFailed(t, o.do(t, http.MethodGet, cb, "", nil))
	// The victim's browser started a sign-in of its own: its cookie is not the one of
	// this state. Refused, and the state is burnt: the attacker cannot retry it either.
	victimCB, _ := o.start(t, map[string]any{"sub": "victim-1", "email": o.newEmail("oidc-csrf-victim")})
	victimState, _ := url.Parse(victimCB)
	victimCookie := o.cookies[victimState.Query().Get("state")]
	wantSignInFailed(t, o.do(t, http.MethodGet, cb, "", nil, withHeader("Cookie", victimCookie.Name+"="+victimCookie.Value)))
	wantSignInFailed(t, o.callback(t, cb))
	if n := sessions(); n != 0 {
		t.Fatalf("a refused callback opened %d sessions", n)
	}
	// A forged cookie value (not a binding at all) is refused like a missing one.
	cb, _ = o.start(t, map[string]any{"sub": "attacker-1", "email": attacker})
	wantSignInFailed(t, o.do(t, http.MethodGet, cb, "", nil, withHeader("Cookie", oidcCookie+"=x")))

	// The browser that started it signs in, and the callback clears the cookie.
	cb, _ = o.start(t, map[string]any{"sub": "attacker-1", "email": attacker})
	ok := o.callback(t, cb)
	o.signedIn(t, ok, attacker)
	if c := (&http.Response{Header: ok.Header}).Cookies(); len(c) != 1 || c[0].Name != oidcCookie || c[0].MaxAge >= 0 {
		t.Errorf("the callback does not clear the cookie: %q", ok.Header.Values("Set-Cookie"))
	}
}

// A development server on plain http cannot set a __Host- (Secure) cookie: it names it
// rowguard_oidc, without Secure, and the flow works the same.
func TestOIDCCookieOnPlainHTTP(t *testing.T) {
	idp := newFakeIdP(t)
	e := newEnv(t, withOptions(func(o *api.Options) {
		o.SignIn.PublicURL = "http://localhost:8080"
		o.SignIn.OIDCLeeway = 5 * time.Second
		o.SignIn.OIDC = []oidc.Provider{{Name: oidcProvider, Issuer: idp.URL, ClientID: idp.clientID, ClientSecret: idp.clientSecret}}
	}))
	r := getNoRedirect(t, e.URL+"/v1/auth/oidc/"+oidcProvider+"/start")
	r.Route = "/v1/auth/oidc/{provider}/start"
	e.check(t, r)
	r.want(t, http.StatusFound)
	c := (&http.Response{Header: r.Header}).Cookies()
	if len(c) != 1 || c[0].Name != "rowguard_oidc" || c[0].Secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("start over http sets %q", r.Header.Values("Set-Cookie"))
	}
	// The __Host- name is not accepted in its place (it is not what this server set).
	wantSignInFailed(t, e.do(t, http.MethodGet, "/v1/auth/oidc/"+oidcProvider+"/callback?code=c&state="+randomTestString(), "", nil,
		withHeader("Cookie", oidcCookie+"="+c[0].Value)))
}

// Attack 8. A stolen access token (15 minutes) of an OWNER deleted the organization and
// every row of it at once. Now: 403 reauthentication-required; after a fresh proof it is
// a soft delete, invisible to members at once, restorable by an OWNER for 30 days, then
// purged.
func TestStolenTokenCannotDeleteTheOrganization(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant(t, "Doomed")
	other := e.newTenant(t, "Bystander")
	orgPath := "/v1/orgs/" + tn.Org.ID
	projectPath := orgPath + "/projects/" + tn.Project.ID

	// The thief holds the OWNER's access token, nothing else.
	before := e.snapshot(t)
	wantReauthenticationRequired(t, e.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil))
	e.unchanged(t, before, "a delete without a fresh proof")
	// A wrong password is no proof (and counts against the password limit).
	wantProblem(t, e.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token, map[string]any{"password": "guessed wrong"}),
		api.ProblemValidation, "password")
	wantReauthenticationRequired(t, e.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil))
	// Neither is a proof of another session of the same user: it lives on its session.
	second := e.login(t, tn.Owner)
	e.reauthenticate(t, second)
	wantReauthenticationRequired(t, e.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil))
	// A proof older than 5 minutes has lapsed.
	e.reauthenticate(t, tn.Owner)
	e.exec(t, `update auth.sessions set reauthenticated_at = now() - interval '5 minutes 1 second' where id = $1`, tn.Owner.SessionID)
	wantReauthenticationRequired(t, e.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil))
	// An ADMIN, even reauthenticated, is no OWNER.
	e.reauthenticate(t, tn.Admin)
	wantProblem(t, e.do(t, http.MethodDelete, orgPath, tn.Admin.Token, nil), api.ProblemForbidden)
	// Another tenant's OWNER hears 404, reauthenticated or not.
	e.reauthenticate(t, other.Owner)
	wantProblem(t, e.do(t, http.MethodDelete, orgPath, other.Owner.Token, nil), api.ProblemNotFound)
	if e.count(t, `select count(*)::int from app.organizations where id = $1 and deleted_at is null`, tn.Org.ID) != 1 {
		t.Fatal("the organization was deleted by a refused request")
	}

	// The owner, freshly reauthenticated: a soft delete.
	e.deleteOrganization(t, tn.Owner, tn.Org.ID)
	if e.count(t, `select count(*)::int from app.organizations where id = $1 and deleted_at is not null and deleted_by = $2`, tn.Org.ID, tn.Owner.ID) != 1 ||
		e.count(t, `select count(*)::int from app.projects where org_id = $1`, tn.Org.ID) != 1 {
		t.Fatal("not a soft delete: the organization (or its rows) is gone, or deleted_at/deleted_by are not set")
	}
	// Gone for every member at once, like an organization that does not exist.
	for _, u := range []user{tn.Owner, tn.Admin, tn.Member} {
		for _, p := range []string{orgPath, orgPath + "/members", orgPath + "/projects", projectPath} {
			wantProblem(t, e.do(t, http.MethodGet, p, u.Token, nil), api.ProblemNotFound)
		}
		var orgs page[org]
		e.do(t, http.MethodGet, "/v1/orgs", u.Token, nil).want(t, http.StatusOK).decode(t, &orgs)
		for _, o := range orgs.Items {
			if o.ID == tn.Org.ID {
				t.Errorf("%s still lists the deleted organization", u.Email)
			}
		}
		var me meResponse
		e.do(t, http.MethodGet, "/v1/auth/me", u.Token, nil).want(t, http.StatusOK).decode(t, &me)
		for _, m := range me.Memberships {
			if m.Organization.ID == tn.Org.ID {
				t.Errorf("%s: /v1/auth/me still lists the deleted organization", u.Email)
			}
		}
	}
	e.do(t, http.MethodGet, "/v1/orgs/"+other.Org.ID, other.Owner.Token, nil).want(t, http.StatusOK)
	// Deleting it again: it does not exist any more.
	wantProblem(t, e.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil), api.ProblemNotFound)

	// Only its OWNERs see it among the deleted, and only they restore it.
	type deleted struct {
		ID         string    `json:"id"`
		DeletedBy  *string   `json:"deleted_by"`
		DeletedAt  time.Time `json:"deleted_at"`
		PurgeAfter time.Time `json:"purge_after"`
	}
	listDeleted := func(u user) []deleted {
		var out struct {
			Items []deleted `json:"items"`
		}
		e.do(t, http.MethodGet, "/v1/orgs/deleted", u.Token, nil).want(t, http.StatusOK).decode(t, &out)
		return out.Items
	}
	if d := listDeleted(tn.Owner); len(d) != 1 || d[0].ID != tn.Org.ID || d[0].DeletedBy == nil || *d[0].DeletedBy != tn.Owner.ID ||
		d[0].PurgeAfter.Sub(d[0].DeletedAt) != 30*24*time.Hour {
		t.Fatalf("the owner's deleted organizations: %+v", d)
	}
	for _, u := range []user{tn.Admin, tn.Member, other.Owner} {
		if d := listDeleted(u); len(d) != 0 {
			t.Errorf("%s sees deleted organizations %+v", u.Email, d)
		}
		wantProblem(t, e.do(t, http.MethodPost, orgPath+"/restore", u.Token, nil), api.ProblemNotFound)
	}
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+other.Org.ID+"/restore", other.Owner.Token, nil), api.ProblemNotFound) // a live one
	var restored org
	e.do(t, http.MethodPost, orgPath+"/restore", tn.Owner.Token, nil).want(t, http.StatusOK).decode(t, &restored)
	if restored.ID != tn.Org.ID || restored.Role != "OWNER" {
		t.Fatalf("restore answered %+v", restored)
	}
	for _, u := range []user{tn.Owner, tn.Admin, tn.Member} {
		e.do(t, http.MethodGet, projectPath, u.Token, nil).want(t, http.StatusOK)
	}

	// Every step is in the organization's audit trail, with who did it.
	if n := e.count(t, `select count(*)::int from app.audit_log where org_id = $1 and table_name = 'app.organizations'
	                     and action = 'UPDATE' and actor_user_id = $2 and new_values ? 'deleted_at'`, tn.Org.ID, tn.Owner.ID); n != 2 {
		t.Errorf("%d audit entries for the delete and the restore, want 2", n)
	}
	if n := e.count(t, `select count(*)::int from auth.reauthentications where user_id = $1 and session_id = $2 and method = 'password'`,
		tn.Owner.ID, tn.Owner.SessionID); n != 2 {
		t.Errorf("%d reauthentications recorded for the owner's session, want 2", n)
	}

	// Deleted again, then past the 30 days: no restore, and the purge deletes every row.
	e.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil).want(t, http.StatusNoContent) // the proof is still fresh
	e.exec(t, `update app.organizations set deleted_at = now() - interval '30 days 1 minute' where id = $1`, tn.Org.ID)
	wantProblem(t, e.do(t, http.MethodPost, orgPath+"/restore", tn.Owner.Token, nil), api.ProblemNotFound)
	if d := listDeleted(tn.Owner); len(d) != 0 {
		t.Errorf("an organization past its 30 days is still listed: %+v", d)
	}
	e.purgeOrganization(t, tn.Org.ID)
	for _, table := range []string{"organizations", "memberships", "projects", "project_members"} {
		col := "org_id"
		if table == "organizations" {
			col = "id"
		}
		if n := e.count(t, `select count(*)::int from app.`+table+` where `+col+` = $1`, tn.Org.ID); n != 0 {
			t.Errorf("%d rows of app.%s outlive the purge", n, table)
		}
	}
	if n := e.count(t, `select count(*)::int from platform.admin_audit where org_id = $1 and action = 'organization.purge'`, tn.Org.ID); n != 1 {
		t.Errorf("the purge left %d admin audit entries, want 1", n)
	}
	if n := e.count(t, `select count(*)::int from app.audit_log where org_id = $1 and action = 'DELETE' and table_name = 'app.organizations'`, tn.Org.ID); n != 1 {
		t.Errorf("the purge left %d audit entries for the organization row, want 1", n)
	}
	e.do(t, http.MethodGet, "/v1/orgs/"+other.Org.ID+"/projects/"+other.Project.ID, other.Owner.Token, nil).want(t, http.StatusOK)
}

// The step-up code: emailed, bound to the session that asked, 5 guesses; it also proves
// the mailbox.
func TestReauthenticateByEmailedCode(t *testing.T) {
	m := newMailEnv(t)
	tn := m.newTenant(t, "Coded")
	orgPath := "/v1/orgs/" + tn.Org.ID

	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token, map[string]any{}), api.ProblemValidation, "password", "code")
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token,
		map[string]any{"password": tn.Owner.Password, "code": "123456"}), api.ProblemValidation, "password", "code")
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token, map[string]any{"code": "12ab"}), api.ProblemValidation, "code")
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token, map[string]any{"code": "123456"}), api.ProblemValidation, "code")

	m.do(t, http.MethodPost, "/v1/auth/reauthenticate/code", tn.Owner.Token, nil).want(t, http.StatusAccepted)
	code := m.signInCode(t, tn.Owner.Email)
	if m.count(t, `select count(*)::int from auth.reauthentication_codes where session_id = $1 and code_hash = sha256(convert_to($2, 'UTF8'))`,
		tn.Owner.SessionID, code) != 0 {
		t.Fatal("the code is stored as its plain SHA-256")
	}
	// Another session of the same user (a thief who signed in elsewhere) cannot use it.
	other := m.login(t, tn.Owner)
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", other.Token, map[string]any{"code": code}), api.ProblemValidation, "code")
	// The session that asked can.
	m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token, map[string]any{"code": code}).want(t, http.StatusOK)
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Owner.Token, map[string]any{"code": code}), api.ProblemValidation, "code") // once
	m.do(t, http.MethodDelete, orgPath, tn.Owner.Token, nil).want(t, http.StatusNoContent)
	if n := m.count(t, `select count(*)::int from auth.reauthentications where session_id = $1 and method = 'code'`, tn.Owner.SessionID); n != 1 {
		t.Errorf("%d code reauthentications recorded, want 1", n)
	}
	if m.count(t, `select count(*)::int from auth.users where id = $1 and email_verified_at is not null`, tn.Owner.ID) != 1 {
		t.Error("a step-up code read from the mailbox does not prove the address")
	}

	// Five wrong guesses void the code.
	m.do(t, http.MethodPost, "/v1/auth/reauthenticate/code", tn.Admin.Token, nil).want(t, http.StatusAccepted)
	code = m.signInCode(t, tn.Admin.Email)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for range 5 {
		wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Admin.Token, map[string]any{"code": wrong}), api.ProblemValidation, "code")
	}
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", tn.Admin.Token, map[string]any{"code": code}), api.ProblemValidation, "code")
}

// Removing (or demoting) the last OWNER besides oneself hands the organization to the
// caller alone: a stolen OWNER token must not throw the real owner out.
func TestRemovingTheLastOtherOwnerNeedsStepUp(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant(t, "Owners")
	co, _ := e.register(t, "co-owner", "")
	third, _ := e.register(t, "third-owner", "")
	e.addMember(t, tn.Org.ID, co, "OWNER")
	memberPath := func(u user) string { return "/v1/orgs/" + tn.Org.ID + "/members/" + u.ID }

	before := e.snapshot(t)
	wantReauthenticationRequired(t, e.do(t, http.MethodDelete, memberPath(co), tn.Owner.Token, nil))
	wantReauthenticationRequired(t, e.do(t, http.MethodPatch, memberPath(co), tn.Owner.Token, map[string]any{"role": "ADMIN"}))
	e.unchanged(t, before, "removing the last other OWNER without a fresh proof")
	// Acts that leave another OWNER need no step-up: leaving, removing a non-OWNER.
	e.do(t, http.MethodPatch, memberPath(tn.Member), tn.Owner.Token, map[string]any{"role": "ADMIN"}).want(t, http.StatusOK)
	// With a third OWNER, the co-owner is not the last other one.
	e.addMember(t, tn.Org.ID, third, "OWNER")
	e.do(t, http.MethodPatch, memberPath(third), tn.Owner.Token, map[string]any{"role": "ADMIN"}).want(t, http.StatusOK)
	wantReauthenticationRequired(t, e.do(t, http.MethodDelete, memberPath(co), tn.Owner.Token, nil))
	// After a fresh proof.
	e.reauthenticate(t, tn.Owner)
	e.do(t, http.MethodDelete, memberPath(co), tn.Owner.Token, nil).want(t, http.StatusNoContent)
	if e.count(t, `select count(*)::int from app.memberships where org_id = $1 and user_id = $2`, tn.Org.ID, co.ID) != 0 {
		t.Fatal("the co-owner was not removed")
	}
	// An OWNER leaving on their own needs nothing (the last OWNER still cannot: 409).
	e.addMember(t, tn.Org.ID, co, "OWNER")
	e.do(t, http.MethodDelete, memberPath(co), co.Token, nil).want(t, http.StatusNoContent)
}

// A password change needs the current password, or a recent reauthentication.
func TestPasswordChangeNeedsAFreshProof(t *testing.T) {
	m := newMailEnv(t)
	u, o := m.register(t, "pw-step-up", "PW Org")
	const next = "a much better passphrase"

	// The thief with the access token alone cannot set a password of their choosing.
	before := m.snapshot(t)
	wantReauthenticationRequired(t, m.do(t, http.MethodPost, "/v1/auth/password", u.Token, map[string]any{"new_password": next}))
	m.unchanged(t, before, "a password change without a proof")
	// With the current password it is its own proof (and recorded as one).
	m.do(t, http.MethodPost, "/v1/auth/password", u.Token, map[string]any{"current_password": u.Password, "new_password": next}).
		want(t, http.StatusNoContent)
	if n := m.count(t, `select count(*)::int from auth.reauthentications where session_id = $1 and method = 'password_change'`, u.SessionID); n != 1 {
		t.Errorf("%d password-change proofs recorded, want 1", n)
	}
	u.Password = next
	m.login(t, u)

	// An account without a password sets one after an emailed code.
	p, _ := m.register(t, "pw-less", "")
	m.exec(t, `update auth.users set password_hash = null where id = $1`, p.ID)
	wantProblem(t, m.do(t, http.MethodPost, "/v1/auth/reauthenticate", p.Token, map[string]any{"password": p.Password}), api.ProblemConflict, "password")
	wantReauthenticationRequired(t, m.do(t, http.MethodPost, "/v1/auth/password", p.Token, map[string]any{"new_password": next}))
	m.do(t, http.MethodPost, "/v1/auth/reauthenticate/code", p.Token, nil).want(t, http.StatusAccepted)
	m.do(t, http.MethodPost, "/v1/auth/reauthenticate", p.Token, map[string]any{"code": m.signInCode(t, p.Email)}).want(t, http.StatusOK)
	m.do(t, http.MethodPost, "/v1/auth/password", p.Token, map[string]any{"new_password": next}).want(t, http.StatusNoContent)
	p.Password = next
	m.login(t, p)
	_ = o
}

// GET …/records?q= with a NUL or invalid UTF-8 answered 500 (SQLSTATE 22021).
func TestRecordFiltersRefuseNULAndInvalidUTF8(t *testing.T) {
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Search")
	base := pt.financePath("/records")
	for _, name := range []string{"q", "currency", "category_id", "tags_any", "kind", "from"} {
		for _, bad := range []string{"%00", "a%00b", "%FF", "%C3%28", "caf%E9"} {
			wantProblem(t, e.do(t, http.MethodGet, base+"?"+name+"="+bad, pt.Owner.Token, nil), api.ProblemValidation, name)
		}
	}
	e.do(t, http.MethodGet, base+"?q="+url.QueryEscape("café ☕"), pt.Owner.Token, nil).want(t, http.StatusOK)
	if !strings.Contains(base, pt.Project.ID) {
		t.Fatal("bad base path")
	}
}
