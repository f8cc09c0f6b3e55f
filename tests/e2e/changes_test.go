package e2e

import (
	"net/http"
	"slices"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// Tokens carry no role: a revoked session, a disabled user, a demotion or a
// removal is seen by the very next request. (The changes are made as
// superuser: the API has no endpoint for them yet.)
func TestChangesTakeEffectAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	orgPath := "/v1/orgs/" + a.Org.ID
	projects := orgPath + "/projects"

	login := func(t *testing.T, u user) user {
		t.Helper()
		var res authResponse
		e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password}).
			want(t, http.StatusOK).decode(t, &res)
		c, err := e.tokens.Verify(res.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		u.Token, u.SessionID = res.AccessToken, c.SessionID
		return u
	}

	t.Run("revoked session", func(t *testing.T) {
		u, o := e.register(t, "revoked", "Revoked Org")
		other := login(t, u) // a second session of the same user
		e.do(t, "GET", "/v1/orgs/"+o.ID, u.Token, nil).want(t, http.StatusOK)

		e.exec(t, `update auth.sessions set revoked_at = now() where id = $1`, u.SessionID)
		for _, path := range []string{"/v1/auth/me", "/v1/orgs", "/v1/orgs/" + o.ID, "/v1/orgs/" + o.ID + "/projects"} {
			wantUnauthorized(t, e.do(t, "GET", path, u.Token, nil))
		}
		before := e.snapshot(t)
		wantUnauthorized(t, e.do(t, "POST", "/v1/orgs/"+o.ID+"/projects", u.Token, map[string]any{"name": "Ghost"}))
		wantUnauthorized(t, e.do(t, "DELETE", "/v1/orgs/"+o.ID, u.Token, nil))
		e.unchanged(t, before, "requests with a revoked session")
		// Only that session: the other one still works.
		e.do(t, "GET", "/v1/orgs/"+o.ID, other.Token, nil).want(t, http.StatusOK)
	})

	t.Run("disabled user", func(t *testing.T) {
		u, o := e.register(t, "disabled", "Disabled Org")
		other := login(t, u)
		e.do(t, "GET", "/v1/auth/me", u.Token, nil).want(t, http.StatusOK)

		e.exec(t, `update auth.users set status = 'disabled' where id = $1`, u.ID)
		for _, tok := range []string{u.Token, other.Token} {
			wantUnauthorized(t, e.do(t, "GET", "/v1/auth/me", tok, nil))
			wantUnauthorized(t, e.do(t, "GET", "/v1/orgs/"+o.ID, tok, nil))
		}
		wantProblem(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password}),
			api.ProblemAccountDisabled)
		// Disabling revoked the sessions: re-enabled, the old tokens stay dead (they may
		// be the reason the account was disabled), and a new sign-in works.
		e.exec(t, `update auth.users set status = 'active' where id = $1`, u.ID)
		wantUnauthorized(t, e.do(t, "GET", "/v1/orgs/"+o.ID, other.Token, nil))
		e.do(t, "GET", "/v1/orgs/"+o.ID, login(t, u).Token, nil).want(t, http.StatusOK)
	})

	t.Run("ADMIN demoted to MEMBER", func(t *testing.T) {
		var p project
		e.do(t, "POST", projects, a.Admin.Token, map[string]any{"name": "Before demotion"}).want(t, http.StatusCreated).decode(t, &p)
		e.do(t, "PATCH", orgPath, a.Admin.Token, map[string]any{"name": "Acme Rockets"}).want(t, http.StatusOK)

		e.exec(t, `update app.memberships set role = 'MEMBER' where org_id = $1 and user_id = $2`, a.Org.ID, a.Admin.ID)
		before := e.snapshot(t)
		wantProblem(t, e.do(t, "POST", projects, a.Admin.Token, map[string]any{"name": "After demotion"}), api.ProblemForbidden)
		// An org MEMBER sees only the projects they belong to: the one they created
		// as ADMIN is now invisible to them, so it answers 404 like any other.
		wantProblem(t, e.do(t, "GET", projects+"/"+p.ID, a.Admin.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "PATCH", projects+"/"+p.ID, a.Admin.Token, map[string]any{"name": "x"}), api.ProblemNotFound)
		wantProblem(t, e.do(t, "DELETE", projects+"/"+p.ID, a.Admin.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "PATCH", orgPath, a.Admin.Token, map[string]any{"name": "x"}), api.ProblemForbidden)
		e.unchanged(t, before, "writes after demotion")
		var o org
		e.do(t, "GET", orgPath, a.Admin.Token, nil).want(t, http.StatusOK).decode(t, &o)
		if o.Role != "MEMBER" {
			t.Errorf("role after demotion: %s", o.Role)
		}

		// And back: the promotion is as immediate.
		e.exec(t, `update app.memberships set role = 'ADMIN' where org_id = $1 and user_id = $2`, a.Org.ID, a.Admin.ID)
		e.do(t, "POST", projects, a.Admin.Token, map[string]any{"name": "After promotion"}).want(t, http.StatusCreated)
	})

	t.Run("MEMBER promoted to OWNER", func(t *testing.T) {
		u, _ := e.register(t, "rising", "")
		e.addMember(t, a.Org.ID, u, "MEMBER")
		wantProblem(t, e.do(t, "POST", projects, u.Token, map[string]any{"name": "Too early"}), api.ProblemForbidden)
		e.exec(t, `update app.memberships set role = 'OWNER' where org_id = $1 and user_id = $2`, a.Org.ID, u.ID)
		e.do(t, "POST", projects, u.Token, map[string]any{"name": "Now allowed"}).want(t, http.StatusCreated)
	})

	t.Run("membership removed", func(t *testing.T) {
		u, _ := e.register(t, "leaver", "")
		e.addMember(t, a.Org.ID, u, "ADMIN")
		var p project
		e.do(t, "POST", projects, u.Token, map[string]any{"name": "Left behind"}).want(t, http.StatusCreated).decode(t, &p)

		e.exec(t, `delete from app.memberships where org_id = $1 and user_id = $2`, a.Org.ID, u.ID)
		before := e.snapshot(t)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", orgPath, nil},
			{"PATCH", orgPath, map[string]any{"name": "x"}},
			{"GET", orgPath + "/members", nil},
			{"GET", projects, nil},
			{"POST", projects, map[string]any{"name": "x"}},
			{"GET", projects + "/" + p.ID, nil},
			{"PATCH", projects + "/" + p.ID, map[string]any{"name": "x"}},
			{"DELETE", projects + "/" + p.ID, nil},
		} {
			r := e.do(t, c.method, c.path, u.Token, c.body)
			wantProblem(t, r, api.ProblemNotFound)
			noLeak(t, r, a.secrets()...)
		}
		e.unchanged(t, before, "requests after removal")

		var orgs page[org]
		e.do(t, "GET", "/v1/orgs", u.Token, nil).want(t, http.StatusOK).decode(t, &orgs)
		var me meResponse
		e.do(t, "GET", "/v1/auth/me", u.Token, nil).want(t, http.StatusOK).decode(t, &me)
		if len(orgs.Items) != 0 || len(me.Memberships) != 0 {
			t.Errorf("after removal: orgs %+v, memberships %+v", orgs.Items, me.Memberships)
		}
		// The project stays, without its creator.
		var kept project
		e.do(t, "GET", projects+"/"+p.ID, a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &kept)
		if kept.CreatedBy != nil {
			t.Errorf("created_by of a departed member: %v", *kept.CreatedBy)
		}
		var members page[member]
		e.do(t, "GET", orgPath+"/members", a.Member.Token, nil).want(t, http.StatusOK).decode(t, &members)
		if slices.ContainsFunc(members.Items, func(m member) bool { return m.UserID == u.ID }) {
			t.Errorf("removed user still listed as a member")
		}
	})
}
