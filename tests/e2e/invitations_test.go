package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

type invitation struct {
	ID       string `json:"id"`
	OrgID    string `json:"org_id"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	Status   string `json:"status"`
	Token    string `json:"token"`
	Projects []struct {
		ProjectID string `json:"project_id"`
		Role      string `json:"role"`
		Finance   string `json:"finance"`
		Analytics string `json:"analytics"`
	} `json:"projects"`
	ExpiresAt    time.Time `json:"expires_at"`
	Organization *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"organization"` // GET /v1/invitations only
}

type acceptedInvitation struct {
	Organization org `json:"organization"`
	Projects     []struct {
		ProjectID   string      `json:"project_id"`
		Permissions permissions `json:"permissions"`
	} `json:"projects"`
}

// invite creates an invitation over HTTP as by and returns it, with the token read
// from its email: the answer carries none (tokens go to the mailbox only).
func (e *env) invite(t testing.TB, by user, orgID string, body map[string]any) invitation {
	t.Helper()
	var inv invitation
	r := e.do(t, "POST", "/v1/orgs/"+orgID+"/invitations", by.Token, body).want(t, http.StatusCreated)
	r.decode(t, &inv)
	if inv.Token != "" || inv.Status != "pending" {
		t.Fatalf("invitation: %s", r.Body)
	}
	inv.Token = e.mailedInvitationToken(t, inv.Email)
	return inv
}

// mailedInvitationToken reads the token of the newest invitation email queued for to,
// from the outbox (as the superuser: what the mailbox will receive; an env without a
// sender never empties it).
func (e *env) mailedInvitationToken(t testing.TB, to string) string {
	t.Helper()
	var tok *string
	err := e.admin.QueryRow(context.Background(), `select payload->>'token' from auth.email_outbox
		where lower(recipient) = lower($1) and template = 'invitation' order by id desc limit 1`, to).Scan(&tok)
	if err != nil || tok == nil || *tok == "" {
		t.Fatalf("no invitation email with a token queued for %s (%v)", to, err)
	}
	return *tok
}

// The acceptance test: an invitation with three project grants of different
// roles yields exactly those permissions on acceptance, in one transaction.
func TestInvitationGrantsExactlyWhatItSays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	p2 := e.createProject(t, a.Owner, a.Org.ID, "Second", "")
	p3 := e.createProject(t, a.Owner, a.Org.ID, "Third", "")
	p4 := e.createProject(t, a.Owner, a.Org.ID, "Not granted", "")
	email := e.newEmail("invitee")

	inv := e.invite(t, a.Owner, a.Org.ID, map[string]any{
		"email": email, "role": "MEMBER",
		"projects": []map[string]any{
			{"project_id": a.Project.ID, "role": "ADMIN", "finance": "READ"},
			{"project_id": p2.ID, "role": "ANALYST"},
			{"project_id": p3.ID, "role": "VIEWER", "analytics": "NONE"},
		},
	})
	if inv.Email != email || inv.Role != "MEMBER" || len(inv.Projects) != 3 || time.Until(inv.ExpiresAt) < 167*time.Hour {
		t.Errorf("created: %+v", inv)
	}
	// Only the token's sha256 is stored.
	if e.count(t, `select count(*) from app.invitations where token_hash = sha256(convert_to($1, 'UTF8'))`, inv.Token) != 1 ||
		e.count(t, `select count(*) from app.invitations i where i::text like '%' || $1 || '%'`, inv.Token) != 0 {
		t.Error("the token is not stored as exactly its hash")
	}

	// The invitee signs up with that email, unverified: nothing is listed to an unproven address.
	invitee, _ := e.register(t, "invitee-account", "")
	e.exec(t, `update auth.users set email = $2, email_verified_at = null where id = $1`, invitee.ID, email)
	wantProblem(t, e.do(t, "GET", "/v1/invitations", invitee.Token, nil), api.ProblemEmailUnverified)
	// Someone else with the token gets nothing.
	stranger, _ := e.register(t, "token-thief", "")
	before := e.snapshot(t)
	wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", stranger.Token, map[string]any{"token": inv.Token}), api.ProblemNotFound)
	wantProblem(t, e.do(t, "POST", "/v1/invitations/decline", stranger.Token, map[string]any{"token": inv.Token}), api.ProblemNotFound)
	e.unchanged(t, before, "another account using the token")

	var acc acceptedInvitation
	r := e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}).want(t, http.StatusOK)
	r.decode(t, &acc)
	noLeak(t, r, b.secrets()...)
	if acc.Organization.ID != a.Org.ID || acc.Organization.Role != "MEMBER" || len(acc.Projects) != 3 {
		t.Errorf("accepted: %s", r.Body)
	}
	want := map[string]permissions{
		a.Project.ID: {"ADMIN", "READ", "MANAGE"},
		p2.ID:        {"ANALYST", "READ", "MANAGE"},
		p3.ID:        {"VIEWER", "READ", "NONE"},
	}
	// Exactly those: the project list, each project's permissions, /me.
	var pg page[project]
	e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/projects", invitee.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 3 {
		t.Errorf("the invitee sees %d projects, want 3", len(pg.Items))
	}
	for _, p := range pg.Items {
		if w, ok := want[p.ID]; !ok || p.Permissions == nil || *p.Permissions != w {
			t.Errorf("project %s: permissions %+v, want %+v", p.Name, p.Permissions, w)
		}
	}
	wantProblem(t, e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/projects/"+p4.ID, invitee.Token, nil), api.ProblemNotFound)
	var me meResponse
	e.do(t, "GET", "/v1/auth/me", invitee.Token, nil).want(t, http.StatusOK).decode(t, &me)
	if len(me.Memberships) != 1 || me.Memberships[0].Role != "MEMBER" || me.Memberships[0].Permissions.AllProjects != nil ||
		len(me.Memberships[0].Permissions.Projects) != 3 {
		t.Fatalf("me: %+v", me)
	}
	for _, pp := range me.Memberships[0].Permissions.Projects {
		if pp.Permissions != want[pp.ProjectID] {
			t.Errorf("me: %s %+v, want %+v", pp.ProjectID, pp.Permissions, want[pp.ProjectID])
		}
	}
	// What the grants allow: the project ADMIN changes the first project, the VIEWER cannot change the third.
	e.do(t, "PATCH", "/v1/orgs/"+a.Org.ID+"/projects/"+a.Project.ID, invitee.Token, map[string]any{"description": "mine now"}).want(t, http.StatusOK)
	wantProblem(t, e.do(t, "PATCH", "/v1/orgs/"+a.Org.ID+"/projects/"+p3.ID, invitee.Token, map[string]any{"name": "x"}), api.ProblemForbidden)
	// Accepting with a token that went to the mailbox alone proved the address.
	if e.count(t, `select count(*) from auth.users where id = $1 and email_verified_at is not null`, invitee.ID) != 1 {
		t.Error("email not verified by accepting")
	}
	// A token works once.
	before = e.snapshot(t)
	wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}), api.ProblemConflict)
	e.unchanged(t, before, "accepting twice")
	var listed page[invitation]
	e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/invitations?status=accepted", a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &listed)
	if len(listed.Items) != 1 || listed.Items[0].ID != inv.ID || listed.Items[0].Token != "" {
		t.Errorf("accepted invitations: %+v", listed.Items)
	}
}

// Create, list, revoke, resend, decline, and what nobody may do with them.
func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	invitations := "/v1/orgs/" + a.Org.ID + "/invitations"

	// The invitee has a verified email (an earlier invitation proved it).
	invitee, _ := e.register(t, "verified-invitee", "")
	e.exec(t, `update auth.users set email_verified_at = now() where id = $1`, invitee.ID)

	inv := e.invite(t, a.Admin, a.Org.ID, map[string]any{"email": strings.ToUpper(invitee.Email), "role": "ADMIN",
		"projects": []map[string]any{{"project_id": a.Project.ID, "role": "ADMIN"}}})
	var mine page[invitation]
	e.do(t, "GET", "/v1/invitations", invitee.Token, nil).want(t, http.StatusOK).decode(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != inv.ID || mine.Items[0].Token != "" ||
		mine.Items[0].Organization == nil || mine.Items[0].Organization.Name != a.Org.Name {
		t.Errorf("my invitations: %+v", mine.Items)
	}

	t.Run("list", func(t *testing.T) {
		for _, u := range []user{a.Owner, a.Admin} {
			var pg page[invitation]
			r := e.do(t, "GET", invitations+"?status=pending", u.Token, nil).want(t, http.StatusOK)
			r.decode(t, &pg)
			if len(pg.Items) != 1 || pg.Items[0].ID != inv.ID {
				t.Errorf("pending: %s", r.Body)
			}
			noLeak(t, r, b.secrets()...)
			e.do(t, "GET", invitations+"?status=revoked", u.Token, nil).want(t, http.StatusOK).decode(t, &pg)
			if len(pg.Items) != 0 {
				t.Errorf("revoked: %+v", pg.Items)
			}
		}
		wantProblem(t, e.do(t, "GET", invitations, a.Member.Token, nil), api.ProblemForbidden)
		wantProblem(t, e.do(t, "GET", invitations+"?status=lost", a.Owner.Token, nil), api.ProblemValidation, "status")
		wantProblem(t, e.do(t, "GET", "/v1/orgs/"+b.Org.ID+"/invitations", a.Owner.Token, nil), api.ProblemNotFound)
		e.runLimitCases(t, invitations, a.Owner.Token)
		e.runLimitCases(t, "/v1/invitations", invitee.Token)
	})

	t.Run("refused creations", func(t *testing.T) {
		existing := a.Member.Email
		before := e.snapshot(t)
		for _, c := range []struct {
			name   string
			by     user
			path   string
			body   map[string]any
			kind   api.ProblemKind
			fields []string
		}{
			{"MEMBER invites", a.Member, invitations, map[string]any{"email": "x@example.com", "role": "MEMBER"}, api.ProblemForbidden, nil},
			{"ADMIN invites an OWNER (escalation)", a.Admin, invitations, map[string]any{"email": "x@example.com", "role": "OWNER"}, api.ProblemForbidden, nil},
			{"ADMIN grants project OWNER (escalation)", a.Admin, invitations, map[string]any{"email": "x@example.com", "role": "MEMBER",
				"projects": []map[string]any{{"project_id": a.Project.ID, "role": "OWNER"}}}, api.ProblemForbidden, nil},
			{"into another tenant's org", a.Owner, "/v1/orgs/" + b.Org.ID + "/invitations", map[string]any{"email": "x@example.com", "role": "MEMBER"}, api.ProblemNotFound, nil},
			{"granting another tenant's project", a.Owner, invitations, map[string]any{"email": "x@example.com", "role": "MEMBER",
				"projects": []map[string]any{{"project_id": b.Project.ID, "role": "VIEWER"}}}, api.ProblemValidation, []string{"projects"}},
			{"an existing member", a.Owner, invitations, map[string]any{"email": existing, "role": "MEMBER"}, api.ProblemConflict, []string{"email"}},
			{"a second open invitation", a.Owner, invitations, map[string]any{"email": invitee.Email, "role": "MEMBER"}, api.ProblemConflict, []string{"email"}},
			{"bad email and role", a.Owner, invitations, map[string]any{"email": "nope", "role": "KING"}, api.ProblemValidation, []string{"email", "role"}},
			{"bad grants", a.Owner, invitations, map[string]any{"email": "x@example.com", "role": "MEMBER", "projects": []any{
				map[string]any{"project_id": "x", "role": "VIEWER"},
				map[string]any{"project_id": a.Project.ID, "role": "BOSS", "finance": "ALL"},
				map[string]any{"project_id": a.Project.ID, "role": "VIEWER", "colour": "red"},
				"not an object",
			}}, api.ProblemValidation, []string{"projects[0].project_id", "projects[1].role", "projects[1].finance", "projects[2].colour", "projects[2].project_id", "projects[3]"}},
			{"projects not an array", a.Owner, invitations, map[string]any{"email": "x@example.com", "role": "MEMBER", "projects": "all"}, api.ProblemValidation, []string{"projects"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(t, "POST", c.path, c.by.Token, c.body)
				wantProblem(t, r, c.kind, c.fields...)
				noLeak(t, r, b.secrets()...)
			})
		}
		e.unchanged(t, before, "refused invitations")
	})

	t.Run("resend", func(t *testing.T) {
		var again invitation
		e.do(t, "POST", invitations+"/"+inv.ID+"/resend", a.Admin.Token, nil).want(t, http.StatusOK).decode(t, &again)
		if again.ID != inv.ID || again.Token != "" {
			t.Fatalf("resent: %+v", again)
		}
		again.Token = e.mailedInvitationToken(t, inv.Email)
		if again.Token == inv.Token {
			t.Fatal("the resend mailed the old token")
		}
		// The old token stops working.
		wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}), api.ProblemNotFound)
		inv.Token = again.Token
		wantProblem(t, e.do(t, "POST", invitations+"/"+inv.ID+"/resend", a.Member.Token, nil), api.ProblemForbidden)
		wantProblem(t, e.do(t, "POST", invitations+"/"+uuid.NewString()+"/resend", a.Owner.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "POST", "/v1/orgs/"+b.Org.ID+"/invitations/"+inv.ID+"/resend", a.Owner.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "POST", "/v1/orgs/"+a.Org.ID+"/invitations/"+inv.ID+"/resend", b.Owner.Token, nil), api.ProblemNotFound)
	})

	t.Run("expired", func(t *testing.T) {
		e.exec(t, `update app.invitations set expires_at = now() - interval '1 minute' where id = $1`, inv.ID)
		wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}), api.ProblemConflict)
		wantProblem(t, e.do(t, "DELETE", invitations+"/"+inv.ID, a.Owner.Token, nil), api.ProblemConflict)
		// Resending revives it.
		var again invitation
		e.do(t, "POST", invitations+"/"+inv.ID+"/resend", a.Admin.Token, nil).want(t, http.StatusOK).decode(t, &again)
		if again.Status != "pending" {
			t.Errorf("resent expired invitation: %+v", again)
		}
		inv.Token = e.mailedInvitationToken(t, inv.Email)
	})

	t.Run("revoke", func(t *testing.T) {
		wantProblem(t, e.do(t, "DELETE", invitations+"/"+inv.ID, a.Member.Token, nil), api.ProblemForbidden)
		wantProblem(t, e.do(t, "DELETE", "/v1/orgs/"+b.Org.ID+"/invitations/"+inv.ID, b.Owner.Token, nil), api.ProblemNotFound)
		e.do(t, "DELETE", invitations+"/"+inv.ID, a.Admin.Token, nil).want(t, http.StatusNoContent)
		wantProblem(t, e.do(t, "DELETE", invitations+"/"+inv.ID, a.Admin.Token, nil), api.ProblemConflict)
		wantProblem(t, e.do(t, "POST", invitations+"/"+inv.ID+"/resend", a.Owner.Token, nil), api.ProblemConflict)
		wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}), api.ProblemConflict)
		if e.roleOf(t, a.Org.ID, invitee.ID) != "" {
			t.Error("a revoked invitation let the invitee in")
		}
	})

	t.Run("decline", func(t *testing.T) {
		second := e.invite(t, a.Owner, a.Org.ID, map[string]any{"email": invitee.Email, "role": "MEMBER"})
		wantProblem(t, e.do(t, "POST", "/v1/invitations/decline", invitee.Token, map[string]any{"token": "unknown"}), api.ProblemNotFound)
		e.do(t, "POST", "/v1/invitations/decline", invitee.Token, map[string]any{"token": second.Token}).want(t, http.StatusNoContent)
		wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": second.Token}), api.ProblemConflict)
		wantProblem(t, e.do(t, "POST", "/v1/invitations/decline", invitee.Token, map[string]any{"token": second.Token}), api.ProblemConflict)
		var pg page[invitation]
		e.do(t, "GET", invitations+"?status=declined", a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &pg)
		if len(pg.Items) != 1 || pg.Items[0].ID != second.ID {
			t.Errorf("declined: %+v", pg.Items)
		}
	})

	t.Run("the inviter leaves", func(t *testing.T) {
		// The ADMIN invited inv (now revoked, final): they can still be removed, and the
		// invitation keeps its state with invited_by cleared.
		e.do(t, "DELETE", "/v1/orgs/"+a.Org.ID+"/members/"+a.Admin.ID, a.Owner.Token, nil).want(t, http.StatusNoContent)
		if e.count(t, `select count(*) from app.invitations where id = $1 and invited_by is null and revoked_at is not null`, inv.ID) != 1 {
			t.Error("the revoked invitation changed, or still names its departed inviter")
		}
	})

	t.Run("bad tokens", func(t *testing.T) {
		for _, path := range []string{"/v1/invitations/accept", "/v1/invitations/decline"} {
			wantProblem(t, e.do(t, "POST", path, invitee.Token, map[string]any{}), api.ProblemValidation, "token")
			wantProblem(t, e.do(t, "POST", path, invitee.Token, map[string]any{"token": ""}), api.ProblemValidation, "token")
			wantProblem(t, e.do(t, "POST", path, invitee.Token, map[string]any{"token": strings.Repeat("x", 300)}), api.ProblemValidation, "token")
			wantProblem(t, e.do(t, "POST", path, invitee.Token, map[string]any{"token": 42}), api.ProblemValidation, "token")
		}
	})
}

// An invitation to someone who already belongs never lowers their role.
func TestAcceptKeepsAHigherRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	u, _ := e.register(t, "joiner", "")
	inv := e.invite(t, a.Owner, a.Org.ID, map[string]any{"email": u.Email, "role": "MEMBER"})
	e.addMember(t, a.Org.ID, u, "ADMIN") // joined another way in between
	var acc acceptedInvitation
	e.do(t, "POST", "/v1/invitations/accept", u.Token, map[string]any{"token": inv.Token}).want(t, http.StatusOK).decode(t, &acc)
	if acc.Organization.Role != "ADMIN" || e.roleOf(t, a.Org.ID, u.ID) != "ADMIN" {
		t.Errorf("role after accepting a MEMBER invitation as ADMIN: %s", acc.Organization.Role)
	}
}

// An invitation is a grant made in advance: when its inviter is demoted below what it
// grants (or leaves), it lapses, and its token no longer works.
func TestInvitationLapsesWithItsInviter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	invitee, _ := e.register(t, "lapsed-invitee", "")
	inv := e.invite(t, a.Admin, a.Org.ID, map[string]any{"email": invitee.Email, "role": "ADMIN"})
	kept := e.invite(t, a.Owner, a.Org.ID, map[string]any{"email": e.newEmail("kept"), "role": "ADMIN"})

	e.do(t, "PATCH", "/v1/orgs/"+a.Org.ID+"/members/"+a.Admin.ID, a.Owner.Token, map[string]any{"role": "MEMBER"}).want(t, http.StatusOK)
	p := wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}), api.ProblemConflict)
	if p.Detail != "this invitation is revoked" {
		t.Errorf("detail: %q", p.Detail)
	}
	if e.roleOf(t, a.Org.ID, invitee.ID) != "" {
		t.Error("a lapsed invitation let the invitee in")
	}
	var pg page[invitation]
	e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/invitations?status=pending", a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != kept.ID {
		t.Errorf("pending after the demotion: %+v (only the OWNER's should remain)", pg.Items)
	}
}

var invitationTokenInMail = regexp.MustCompile(`(?m)^\s{4}(\S+)\s*$`)

// An invitation (and each resend) is emailed through the outbox in the transaction that
// creates it: the token in the mail, and only there, is the one that accepts it.
func TestInvitationIsEmailed(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	a := m.newTenant(t, "Emailing Inc")
	invitee, _ := m.register(t, "mailed-invitee", "")
	var inv invitation
	r := m.do(t, "POST", "/v1/orgs/"+a.Org.ID+"/invitations", a.Owner.Token, map[string]any{"email": invitee.Email, "role": "MEMBER"}).
		want(t, http.StatusCreated)
	r.decode(t, &inv)

	msg := m.nextMail(t, invitee.Email)
	if !strings.Contains(msg.Header.Get("Subject"), a.Org.Name) {
		t.Errorf("subject %q does not name the organization", msg.Header.Get("Subject"))
	}
	got := invitationTokenInMail.FindStringSubmatch(msg.Body)
	if got == nil || strings.Contains(string(r.Body), got[1]) || inv.Token != "" {
		t.Fatalf("mailed token %v; the answer %s must not hold it; body:\n%s", got, r.Body, msg.Body)
	}
	// A resend mails a new token; the first one no longer works.
	r = m.do(t, "POST", "/v1/orgs/"+a.Org.ID+"/invitations/"+inv.ID+"/resend", a.Owner.Token, nil).want(t, http.StatusOK)
	again := invitationTokenInMail.FindStringSubmatch(m.nextMail(t, invitee.Email).Body)
	if again == nil || again[1] == got[1] || strings.Contains(string(r.Body), again[1]) {
		t.Fatalf("resent mail token %v (first %q), answer %s", again, got[1], r.Body)
	}
	wantProblem(t, m.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": got[1]}), api.ProblemNotFound)
	m.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": again[1]}).want(t, http.StatusOK)
}
