package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// signUp is the whole sign-up: POST /v1/auth/register (202), then the emailed code
	// to POST /v1/auth/register/verify, whose answer it returns.
	signUp := func(t *testing.T, body map[string]any) *response {
		t.Helper()
		e.do(t, "POST", "/v1/auth/register", "", body).want(t, http.StatusAccepted)
		email, _ := body["email"].(string)
		return e.verifySignUp(t, email, e.readSignUpCode(t, email))
	}

	t.Run("with an organization", func(t *testing.T) {
		email := e.newEmail("Founder")
		r := signUp(t, map[string]any{
			"email": email, "password": fixturePassword, "organization_name": "  Acme Rockets ",
		}).want(t, http.StatusCreated)
		var res authResponse
		r.decode(t, &res)
		if res.User.Email != email || res.User.Status != "active" || res.TokenType != "Bearer" ||
			res.ExpiresIn != int64(tokenTTL/time.Second) || res.AccessToken == "" {
			t.Errorf("register: %s", r.Body)
		}
		o := res.Organization
		if o == nil || o.Name != "Acme Rockets" || o.Slug != "acme-rockets" || o.Role != "OWNER" {
			t.Fatalf("organization: %+v", o)
		}
		// The token works at once, and the founder is the OWNER.
		var me meResponse
		e.do(t, "GET", "/v1/auth/me", res.AccessToken, nil).want(t, http.StatusOK).decode(t, &me)
		if me.User.ID != res.User.ID || len(me.Memberships) != 1 ||
			me.Memberships[0].Organization.ID != o.ID || me.Memberships[0].Role != "OWNER" {
			t.Errorf("me: %+v", me)
		}
		// A second organization of the same name gets a free slug.
		r = signUp(t, map[string]any{
			"email": e.newEmail("founder2"), "password": fixturePassword, "organization_name": "Acme Rockets",
		}).want(t, http.StatusCreated)
		r.decode(t, &res)
		if res.Organization == nil || res.Organization.Slug == "acme-rockets" || !strings.HasPrefix(res.Organization.Slug, "acme-rockets-") {
			t.Errorf("second Acme Rockets: %+v", res.Organization)
		}
	})

	t.Run("without an organization", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"email": e.newEmail("solo"), "password": fixturePassword},
			{"email": e.newEmail("solo"), "password": fixturePassword, "organization_name": nil},
		} {
			var res authResponse
			signUp(t, body).want(t, http.StatusCreated).decode(t, &res)
			if res.Organization != nil || res.User.Email != body["email"] {
				t.Errorf("register %v: %+v", body, res)
			}
		}
	})

	// A taken address answers exactly like a new one (TestSignUpDoesNotTellWhoHasAnAccount
	// compares them); nothing is created, and the owner is told by email.
	t.Run("email taken, in any case", func(t *testing.T) {
		u, _ := e.register(t, "taken", "")
		mails := e.outboxRows(t, u.Email)
		e.do(t, "POST", "/v1/auth/register", "", map[string]any{
			"email": strings.ToUpper(u.Email), "password": "another password", "organization_name": "Squatters",
		}).want(t, http.StatusAccepted)
		if n := e.count(t, `select count(*)::int from auth.users where lower(email) = lower($1)`, u.Email); n != 1 {
			t.Errorf("%d users with the taken address", n)
		}
		if n := e.count(t, `select count(*)::int from auth.pending_sign_ups where email = lower($1)`, u.Email); n != 0 {
			t.Errorf("a pending sign-up for a taken address")
		}
		if n := e.count(t, `select count(*)::int from app.organizations where name = 'Squatters'`); n != 0 {
			t.Errorf("an organization was created")
		}
		if e.outboxRows(t, u.Email) != mails+1 || e.count(t, `select count(*)::int from auth.email_outbox
		     where lower(recipient) = lower($1) and template = 'sign_up_exists'`, u.Email) != 1 {
			t.Errorf("the owner was not told (one sign_up_exists email)")
		}
		// The owner's password is theirs: the one sent with the sign-up does nothing.
		e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": fixturePassword}).want(t, http.StatusOK)
		wantProblem(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": "another password"}),
			api.ProblemInvalidCredentials)
	})

	valid := map[string]any{"email": "valid@example.com", "password": fixturePassword, "organization_name": "Valid"}
	cases := []badCase{
		invalid("missing everything", map[string]any{}, "email", "password"),
		invalid("missing email", map[string]any{"password": fixturePassword}, "email"),
		invalid("missing password", map[string]any{"email": "x@example.com"}, "password"),
		invalid("email wrong type", map[string]any{"email": 5, "password": fixturePassword}, "email"),
		invalid("email null", map[string]any{"email": nil, "password": fixturePassword}, "email"),
		invalid("password wrong type", map[string]any{"email": "x@example.com", "password": true}, "password"),
		invalid("organization_name wrong type", map[string]any{"email": "x@example.com", "password": fixturePassword, "organization_name": 7}, "organization_name"),
		invalid("bad email: no at", map[string]any{"email": "not-an-email", "password": fixturePassword}, "email"),
		invalid("bad email: no dot", map[string]any{"email": "a@localhost", "password": fixturePassword}, "email"),
		invalid("bad email: space", map[string]any{"email": "a b@example.com", "password": fixturePassword}, "email"),
		invalid("bad email: display name", map[string]any{"email": "Al <al@example.com>", "password": fixturePassword}, "email"),
		invalid("bad email: two ats", map[string]any{"email": "a@b@example.com", "password": fixturePassword}, "email"),
		invalid("bad email: too long", map[string]any{"email": strings.Repeat("a", 250) + "@example.com", "password": fixturePassword}, "email"),
		invalid("bad email: empty", map[string]any{"email": "", "password": fixturePassword}, "email"),
		invalid("short password", map[string]any{"email": "x@example.com", "password": "1234567"}, "password"),
		invalid("long password", map[string]any{"email": "x@example.com", "password": strings.Repeat("p", 257)}, "password"),
		invalid("NUL in password", map[string]any{"email": "x@example.com", "password": "abc\x00defghi"}, "password"),
		invalid("blank organization_name", map[string]any{"email": "x@example.com", "password": fixturePassword, "organization_name": " \t "}, "organization_name"),
		invalid("long organization_name", map[string]any{"email": "x@example.com", "password": fixturePassword, "organization_name": strings.Repeat("n", 201)}, "organization_name"),
		// Passes the HTTP layer's check (200 characters once trimmed of
		// white space) but not the database's (btrim trims spaces only): refused at
		// sign-up already, before anything is pending.
		invalid("organization_name refused by the database", map[string]any{"email": "x@example.com", "password": fixturePassword, "organization_name": "\t" + strings.Repeat("n", 200)}, "organization_name"),
		invalid("several problems", map[string]any{"email": "nope", "password": "short", "organization_name": ""}, "email", "password", "organization_name"),
	}
	cases = append(cases, bodyCases(valid, "email")...)
	t.Run("bad input", func(t *testing.T) { e.runBadInput(t, "POST", "/v1/auth/register", "", cases) })

	t.Run("organization with a long name", func(t *testing.T) {
		r := signUp(t, map[string]any{
			"email": e.newEmail("long"), "password": fixturePassword, "organization_name": strings.Repeat("a", 55) + " b",
		})
		if r.Status == http.StatusUnprocessableEntity {
			p := r.problem(t)
			if strings.Contains(p.Detail, "slug") && len(p.Errors) == 1 && p.Errors[0].Field == "organization_name" {
				t.Logf("the detail names %q while errors[] names organization_name ", p.Detail)
			}
			t.Fatalf("%s: a valid organization_name is refused because api.slugify "+
				"(sql/api/organizations.sql:3) derives a slug ending with a dash", r)
		}
		r.want(t, http.StatusCreated)
	})

	// A problem's detail names the same field as its errors[].
	t.Run("detail and errors name the same field", func(t *testing.T) {
		r := e.do(t, "POST", "/v1/auth/register", "", map[string]any{
			"email": e.newEmail("tab"), "password": fixturePassword, "organization_name": "\t" + strings.Repeat("n", 200),
		})
		p := wantProblem(t, r, api.ProblemValidation, "organization_name")
		if !strings.Contains(p.Detail, "organization_name") {
			t.Fatalf("%s: errors[] names organization_name but the detail says %q "+
				"(api/identity.go:67-74 renames the field in errors[] only)", r, p.Detail)
		}
	})

	// Boundaries that are allowed.
	t.Run("limits", func(t *testing.T) {
		signUp(t, map[string]any{
			"email": e.newEmail("limits"), "password": "12345678", "organization_name": strings.Repeat("é", 200),
		}).want(t, http.StatusCreated)
		signUp(t, map[string]any{
			"email": e.newEmail("limits"), "password": strings.Repeat("p", 256),
		}).want(t, http.StatusCreated)
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, o := e.register(t, "alice", "Wonderland")

	t.Run("allowed", func(t *testing.T) {
		sessions := e.count(t, `select count(*) from auth.sessions where user_id = $1`, u.ID)
		for _, email := range []string{u.Email, strings.ToUpper(u.Email)} {
			var res authResponse
			e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": u.Password}).
				want(t, http.StatusOK).decode(t, &res)
			if res.User.ID != u.ID || res.TokenType != "Bearer" || res.ExpiresIn != int64(tokenTTL/time.Second) {
				t.Errorf("login: %+v", res)
			}
			// A new session, and its token works.
			e.do(t, "GET", "/v1/orgs/"+o.ID, res.AccessToken, nil).want(t, http.StatusOK)
		}
		if n := e.count(t, `select count(*) from auth.sessions where user_id = $1`, u.ID); n != sessions+2 {
			t.Errorf("%d sessions after two logins, want %d", n, sessions+2)
		}
	})

	t.Run("wrong password and unknown email answer alike", func(t *testing.T) {
		before := e.snapshot(t)
		wrong := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": "wrong password"})
		unknown := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": "nobody@example.com", "password": "wrong password"})
		empty := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": ""})
		wantProblem(t, wrong, api.ProblemInvalidCredentials)
		sameProblem(t, wrong, unknown)
		sameProblem(t, wrong, empty)
		e.unchanged(t, before, "failed logins")
	})

	t.Run("disabled account", func(t *testing.T) {
		d, _ := e.register(t, "disabled", "")
		e.exec(t, `update auth.users set status = 'disabled' where id = $1`, d.ID)
		before := e.snapshot(t)
		// Only the right password learns the account is disabled...
		r := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": d.Email, "password": d.Password})
		wantProblem(t, r, api.ProblemAccountDisabled)
		// ...a wrong one gets the usual answer.
		wrong := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": d.Email, "password": "wrong password"})
		unknown := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": "nobody@example.com", "password": "wrong password"})
		sameProblem(t, wrong, unknown)
		e.unchanged(t, before, "logins to a disabled account")
	})

	valid := map[string]any{"email": u.Email, "password": u.Password}
	cases := []badCase{
		invalid("missing everything", map[string]any{}, "email", "password"),
		invalid("missing password", map[string]any{"email": u.Email}, "password"),
		invalid("missing email", map[string]any{"password": u.Password}, "email"),
		invalid("email wrong type", map[string]any{"email": []string{u.Email}, "password": u.Password}, "email"),
		invalid("password wrong type", map[string]any{"email": u.Email, "password": 12345678}, "password"),
		invalid("password null", map[string]any{"email": u.Email, "password": nil}, "password"),
	}
	cases = append(cases, bodyCases(valid, "password")...)
	t.Run("bad input", func(t *testing.T) { e.runBadInput(t, "POST", "/v1/auth/login", "", cases) })
}

func TestMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Initech")
	b := e.newTenant(t, "Umbrella")
	// Initech's ADMIN is also a MEMBER of Umbrella.
	e.addMember(t, b.Org.ID, a.Admin, "MEMBER")

	var me meResponse
	r := e.do(t, "GET", "/v1/auth/me", a.Admin.Token, nil).want(t, http.StatusOK)
	r.decode(t, &me)
	if me.User.ID != a.Admin.ID || me.User.Email != a.Admin.Email || me.User.Status != "active" {
		t.Errorf("me.user: %+v", me.User)
	}
	roles := map[string]string{}
	for _, m := range me.Memberships {
		roles[m.Organization.ID] = m.Role
	}
	if len(roles) != 2 || roles[a.Org.ID] != "ADMIN" || roles[b.Org.ID] != "MEMBER" {
		t.Errorf("memberships: %s", r.Body)
	}
	// Who else is in Umbrella, or what it holds, is not "me".
	noLeak(t, r, b.Owner.Email, b.Member.Email, b.Project.Name, a.Owner.Email)

	// A user in no organization.
	solo, _ := e.register(t, "solo", "")
	r = e.do(t, "GET", "/v1/auth/me", solo.Token, nil).want(t, http.StatusOK)
	r.decode(t, &me)
	if me.User.ID != solo.ID || me.Memberships == nil || len(me.Memberships) != 0 {
		t.Errorf("me of a user in no organization: %s", r.Body)
	}
	noLeak(t, r, a.secrets()...)
	noLeak(t, r, b.secrets()...)
}
