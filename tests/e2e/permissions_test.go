package e2e

import (
	"net/http"
	"testing"
)

// Every project answer and /v1/auth/me carry the caller's effective permissions:
// org OWNER/ADMIN act as project OWNER/ADMIN everywhere; an org MEMBER holds what
// their project membership says (override, else the role's default); the greater wins.
func TestEffectivePermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newProjectTeam(t, "Acme Rockets")
	// The org ADMIN is also the project's OWNER: the greater role wins.
	e.putProjectMember(t, a.Owner, a.Org.ID, a.Project.ID, a.Admin, "OWNER")
	// The ANALYST's finance is overridden down to NONE.
	e.do(t, "PUT", a.membersPath()+"/"+a.Analyst.ID, a.Owner.Token, map[string]any{"role": "ANALYST", "finance": "NONE"}).want(t, http.StatusOK)
	item := "/v1/orgs/" + a.Org.ID + "/projects/" + a.Project.ID

	for who, c := range map[string]struct {
		u    user
		want permissions
	}{
		"org OWNER":                    {a.Owner, permissions{"OWNER", "MANAGE", "MANAGE"}},
		"org ADMIN and project OWNER":  {a.Admin, permissions{"OWNER", "MANAGE", "MANAGE"}},
		"project OWNER":                {a.POwner, permissions{"OWNER", "MANAGE", "MANAGE"}},
		"project ADMIN":                {a.PAdmin, permissions{"ADMIN", "MANAGE", "MANAGE"}},
		"ANALYST with finance NONE":    {a.Analyst, permissions{"ANALYST", "NONE", "MANAGE"}},
		"VIEWER (the tenant's MEMBER)": {a.Member, permissions{"VIEWER", "READ", "READ"}},
	} {
		var p project
		e.do(t, "GET", item, c.u.Token, nil).want(t, http.StatusOK).decode(t, &p)
		if p.Permissions == nil || *p.Permissions != c.want {
			t.Errorf("%s: GET project permissions %+v, want %+v", who, p.Permissions, c.want)
		}
		var pg page[project]
		e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/projects", c.u.Token, nil).want(t, http.StatusOK).decode(t, &pg)
		for _, q := range pg.Items {
			if q.ID == a.Project.ID && (q.Permissions == nil || *q.Permissions != c.want) {
				t.Errorf("%s: listed permissions %+v, want %+v", who, q.Permissions, c.want)
			}
		}
	}

	// A project the org ADMIN created: org-level permission only.
	var p project
	e.do(t, "POST", "/v1/orgs/"+a.Org.ID+"/projects", a.Admin.Token, map[string]any{"name": "Admin's"}).want(t, http.StatusCreated).decode(t, &p)
	if p.Permissions == nil || *p.Permissions != (permissions{"ADMIN", "MANAGE", "MANAGE"}) {
		t.Errorf("creator's permissions: %+v", p.Permissions)
	}
	e.do(t, "PATCH", "/v1/orgs/"+a.Org.ID+"/projects/"+p.ID, a.Owner.Token, map[string]any{"name": "Renamed"}).want(t, http.StatusOK).decode(t, &p)
	if p.Permissions == nil || p.Permissions.Role != "OWNER" {
		t.Errorf("permissions after PATCH: %+v", p.Permissions)
	}

	// /v1/auth/me: what the org role grants everywhere, and each project membership.
	for who, c := range map[string]struct {
		u           user
		all         *permissions
		projectRole string
	}{
		"org OWNER":     {a.Owner, &permissions{"OWNER", "MANAGE", "MANAGE"}, ""},
		"org ADMIN":     {a.Admin, &permissions{"ADMIN", "MANAGE", "MANAGE"}, "OWNER"},
		"project ADMIN": {a.PAdmin, nil, "ADMIN"},
		"org MEMBER":    {a.Outsider, nil, ""},
	} {
		var me meResponse
		e.do(t, "GET", "/v1/auth/me", c.u.Token, nil).want(t, http.StatusOK).decode(t, &me)
		if len(me.Memberships) != 1 {
			t.Fatalf("%s: memberships %+v", who, me.Memberships)
		}
		got := me.Memberships[0].Permissions
		if (got.AllProjects == nil) != (c.all == nil) || (c.all != nil && *got.AllProjects != *c.all) {
			t.Errorf("%s: all_projects %+v, want %+v", who, got.AllProjects, c.all)
		}
		switch {
		case c.projectRole == "" && len(got.Projects) != 0:
			t.Errorf("%s: projects %+v, want none", who, got.Projects)
		case c.projectRole != "" && (len(got.Projects) != 1 || got.Projects[0].ProjectID != a.Project.ID || got.Projects[0].Permissions.Role != c.projectRole):
			t.Errorf("%s: projects %+v, want %s in %s", who, got.Projects, c.projectRole, a.Project.ID)
		}
	}
}
