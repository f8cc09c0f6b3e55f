package e2e

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

type projectMember struct {
	UserID    string `json:"user_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Finance   string `json:"finance"`
	Analytics string `json:"analytics"`
}

// projectTeam is a tenant whose project has one org MEMBER per project role.
type projectTeam struct {
	*tenant
	POwner, PAdmin, Analyst, Outsider user // Outsider: an org MEMBER in no project
}

func (e *env) newProjectTeam(t testing.TB, name string) *projectTeam {
	t.Helper()
	pt := &projectTeam{tenant: e.newTenant(t, name)}
	for _, x := range []struct {
		u    *user
		tag  string
		role string
	}{{&pt.POwner, "powner", "OWNER"}, {&pt.PAdmin, "padmin", "ADMIN"}, {&pt.Analyst, "analyst", "ANALYST"}, {&pt.Outsider, "outsider", ""}} {
		*x.u, _ = e.register(t, name+"-"+x.tag, "")
		e.addMember(t, pt.Org.ID, *x.u, "MEMBER")
		if x.role != "" {
			e.putProjectMember(t, pt.Owner, pt.Org.ID, pt.Project.ID, *x.u, x.role)
		}
	}
	return pt
}

func (pt *projectTeam) membersPath() string {
	return "/v1/orgs/" + pt.Org.ID + "/projects/" + pt.Project.ID + "/members"
}

// GET /v1/orgs/{org_id}/projects/{project_id}/members
func TestListProjectMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newProjectTeam(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")

	want := map[string]string{a.Member.ID: "VIEWER", a.POwner.ID: "OWNER", a.PAdmin.ID: "ADMIN", a.Analyst.ID: "ANALYST"}
	for who, u := range map[string]user{"org OWNER": a.Owner, "org ADMIN": a.Admin, "VIEWER": a.Member, "ANALYST": a.Analyst} {
		var pg page[projectMember]
		r := e.do(t, "GET", a.membersPath(), u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &pg)
		got := map[string]string{}
		for _, m := range pg.Items {
			got[m.UserID] = m.Role
			if m.UserID == a.Analyst.ID && (m.Finance != "READ" || m.Analytics != "MANAGE") {
				t.Errorf("%s: ANALYST's levels %s/%s, want the defaults READ/MANAGE", who, m.Finance, m.Analytics)
			}
		}
		if len(got) != len(want) || pg.NextCursor != nil {
			t.Errorf("%s lists %v, want %v", who, got, want)
		}
		for id, role := range want {
			if got[id] != role {
				t.Errorf("%s: %s is %q, want %s", who, id, got[id], role)
			}
		}
		noLeak(t, r, b.secrets()...)
	}
	// Pages.
	var first page[projectMember]
	e.do(t, "GET", a.membersPath()+"?limit=3", a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &first)
	if len(first.Items) != 3 || first.NextCursor == nil {
		t.Fatalf("first page: %+v", first)
	}
	var second page[projectMember]
	e.do(t, "GET", a.membersPath()+"?limit=3&cursor="+*first.NextCursor, a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &second)
	if len(second.Items) != 1 || second.NextCursor != nil {
		t.Errorf("second page: %+v", second)
	}

	// Not visible → 404, the same as a project that does not exist.
	missing := "/v1/orgs/" + a.Org.ID + "/projects/" + uuid.NewString() + "/members"
	for _, c := range []struct {
		name, path, control string
		by                  user
	}{
		{"an org MEMBER in no project", a.membersPath(), missing, a.Outsider},
		{"another tenant's project under my org", "/v1/orgs/" + a.Org.ID + "/projects/" + b.Project.ID + "/members", missing, a.Owner},
		{"under another tenant's org", "/v1/orgs/" + b.Org.ID + "/projects/" + b.Project.ID + "/members",
			"/v1/orgs/" + uuid.NewString() + "/projects/" + b.Project.ID + "/members", a.Owner},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, "GET", c.path, c.by.Token, nil)
			wantProblem(t, r, api.ProblemNotFound)
			noLeak(t, r, b.secrets()...)
			sameProblem(t, r, e.do(t, "GET", c.control, c.by.Token, nil))
		})
	}
	t.Run("bad page parameters", func(t *testing.T) { e.runLimitCases(t, a.membersPath(), a.Member.Token) })
}

// PUT /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}
func TestPutProjectMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newProjectTeam(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	path := func(u user) string { return a.membersPath() + "/" + u.ID }

	t.Run("allowed", func(t *testing.T) {
		var m projectMember
		// An org OWNER adds a member with an explicit override.
		e.do(t, "PUT", path(a.Outsider), a.Owner.Token, map[string]any{"role": "ANALYST", "finance": "NONE"}).
			want(t, http.StatusOK).decode(t, &m)
		if m.UserID != a.Outsider.ID || m.Role != "ANALYST" || m.Finance != "NONE" || m.Analytics != "MANAGE" {
			t.Errorf("put: %+v", m)
		}
		var p project
		e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/projects/"+a.Project.ID, a.Outsider.Token, nil).want(t, http.StatusOK).decode(t, &p)
		if p.Permissions == nil || *p.Permissions != (permissions{"ANALYST", "NONE", "MANAGE"}) {
			t.Errorf("the new member's permissions: %+v", p.Permissions)
		}
		// A project ADMIN (an org MEMBER) changes it; null levels go back to the defaults.
		e.do(t, "PUT", path(a.Outsider), a.PAdmin.Token, map[string]any{"role": "VIEWER", "finance": nil}).
			want(t, http.StatusOK).decode(t, &m)
		if m.Role != "VIEWER" || m.Finance != "READ" || m.Analytics != "READ" {
			t.Errorf("put by project ADMIN: %+v", m)
		}
		// A project OWNER grants OWNER.
		e.do(t, "PUT", path(a.Outsider), a.POwner.Token, map[string]any{"role": "OWNER"}).want(t, http.StatusOK).decode(t, &m)
		if m.Role != "OWNER" {
			t.Errorf("put by project OWNER: %+v", m)
		}
		e.do(t, "PUT", path(a.Outsider), a.POwner.Token, map[string]any{"role": "VIEWER"}).want(t, http.StatusOK)
		e.do(t, "DELETE", path(a.Outsider), a.Owner.Token, nil).want(t, http.StatusNoContent)
	})

	// The project ADMIN's own finance is lowered to READ: they cannot grant MANAGE.
	e.do(t, "PUT", path(a.PAdmin), a.Owner.Token, map[string]any{"role": "ADMIN", "finance": "READ"}).want(t, http.StatusOK)
	before := e.snapshot(t)
	for _, c := range []struct {
		name    string
		by      user
		path    string
		body    map[string]any
		kind    api.ProblemKind
		control string
		fields  []string
	}{
		{"VIEWER adds a member", a.Member, path(a.Outsider), map[string]any{"role": "VIEWER"}, api.ProblemForbidden, "", nil},
		{"ANALYST changes a member", a.Analyst, path(a.Member), map[string]any{"role": "ANALYST"}, api.ProblemForbidden, "", nil},
		{"VIEWER raises himself", a.Member, path(a.Member), map[string]any{"role": "ADMIN"}, api.ProblemForbidden, "", nil},
		{"project ADMIN grants OWNER (escalation)", a.PAdmin, path(a.Member), map[string]any{"role": "OWNER"}, api.ProblemForbidden, "", nil},
		{"org ADMIN grants project OWNER (escalation)", a.Admin, path(a.Member), map[string]any{"role": "OWNER"}, api.ProblemForbidden, "", nil},
		{"project ADMIN grants finance above his own (escalation)", a.PAdmin, path(a.Member), map[string]any{"role": "VIEWER", "finance": "MANAGE"}, api.ProblemForbidden, "", nil},
		{"project ADMIN gives himself finance MANAGE back (escalation)", a.PAdmin, path(a.PAdmin), map[string]any{"role": "ADMIN"}, api.ProblemForbidden, "", nil},
		{"project ADMIN changes the project OWNER", a.PAdmin, path(a.POwner), map[string]any{"role": "VIEWER"}, api.ProblemForbidden, "", nil},
		{"an org MEMBER in no project", a.Outsider, path(a.Member), map[string]any{"role": "VIEWER"}, api.ProblemNotFound,
			"/v1/orgs/" + a.Org.ID + "/projects/" + uuid.NewString() + "/members/" + a.Member.ID, nil},
		{"a user of another tenant", a.Owner, a.membersPath() + "/" + b.Member.ID, map[string]any{"role": "VIEWER"}, api.ProblemNotFound,
			a.membersPath() + "/" + uuid.NewString(), nil},
		{"another tenant's project under my org", a.Owner, "/v1/orgs/" + a.Org.ID + "/projects/" + b.Project.ID + "/members/" + a.Member.ID, map[string]any{"role": "VIEWER"}, api.ProblemNotFound,
			"/v1/orgs/" + a.Org.ID + "/projects/" + uuid.NewString() + "/members/" + a.Member.ID, nil},
		{"under another tenant's org", a.Owner, "/v1/orgs/" + b.Org.ID + "/projects/" + b.Project.ID + "/members/" + b.Member.ID, map[string]any{"role": "VIEWER"}, api.ProblemNotFound, "", nil},
		{"bad role", a.Owner, path(a.Member), map[string]any{"role": "GOD"}, api.ProblemValidation, "", []string{"role"}},
		{"bad levels", a.Owner, path(a.Member), map[string]any{"role": "VIEWER", "finance": "ALL", "analytics": 3}, api.ProblemValidation, "", []string{"finance", "analytics"}},
		{"no role", a.Owner, path(a.Member), map[string]any{"finance": "READ"}, api.ProblemValidation, "", []string{"role"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, "PUT", c.path, c.by.Token, c.body)
			wantProblem(t, r, c.kind, c.fields...)
			noLeak(t, r, b.secrets()...)
			if c.control != "" {
				sameProblem(t, r, e.do(t, "PUT", c.control, c.by.Token, c.body))
			}
		})
	}
	e.unchanged(t, before, "refused project member changes")
}

// DELETE /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}
func TestRemoveProjectMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newProjectTeam(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	path := func(u user) string { return a.membersPath() + "/" + u.ID }
	inProject := func(u user) int {
		return e.count(t, `select count(*) from app.project_members where project_id = $1 and user_id = $2`, a.Project.ID, u.ID)
	}

	before := e.snapshot(t)
	for _, c := range []struct {
		name string
		by   user
		path string
		kind api.ProblemKind
	}{
		{"VIEWER removes another", a.Member, path(a.Analyst), api.ProblemForbidden},
		{"project ADMIN removes the project OWNER", a.PAdmin, path(a.POwner), api.ProblemForbidden},
		{"org MEMBER in no project", a.Outsider, path(a.Member), api.ProblemNotFound},
		{"not a member of the project", a.Owner, path(a.Outsider), api.ProblemNotFound},
		{"another tenant's project under my org", a.Owner, "/v1/orgs/" + a.Org.ID + "/projects/" + b.Project.ID + "/members/" + b.Member.ID, api.ProblemNotFound},
		{"under another tenant's org", a.Owner, "/v1/orgs/" + b.Org.ID + "/projects/" + b.Project.ID + "/members/" + b.Member.ID, api.ProblemNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, "DELETE", c.path, c.by.Token, nil)
			wantProblem(t, r, c.kind)
			noLeak(t, r, b.secrets()...)
		})
	}
	e.unchanged(t, before, "refused project member removals")

	e.do(t, "DELETE", path(a.Analyst), a.PAdmin.Token, nil).want(t, http.StatusNoContent) // ADMIN removes
	e.do(t, "DELETE", path(a.Member), a.Member.Token, nil).want(t, http.StatusNoContent)  // VIEWER leaves
	e.do(t, "DELETE", path(a.POwner), a.Owner.Token, nil).want(t, http.StatusNoContent)   // org OWNER removes a project OWNER
	if inProject(a.Analyst)+inProject(a.Member)+inProject(a.POwner) != 0 {
		t.Error("a removed project member remains")
	}
	wantProblem(t, e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/projects/"+a.Project.ID, a.Member.Token, nil), api.ProblemNotFound)
	// Still a member of the organization.
	if e.roleOf(t, a.Org.ID, a.Member.ID) != "MEMBER" {
		t.Error("leaving a project left the organization")
	}
}
