package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

func TestProjectsAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	base := "/v1/orgs/" + a.Org.ID + "/projects"

	// OWNER and ADMIN create; the project belongs to the path's organization
	// and names its creator.
	var byAdmin project
	r := e.do(t, "POST", base, a.Admin.Token, map[string]any{"name": "  Apollo  ", "description": "to the moon"}).want(t, http.StatusCreated)
	r.decode(t, &byAdmin)
	if byAdmin.OrgID != a.Org.ID || byAdmin.Name != "Apollo" || byAdmin.Description == nil || *byAdmin.Description != "to the moon" ||
		byAdmin.CreatedBy == nil || *byAdmin.CreatedBy != a.Admin.ID {
		t.Errorf("ADMIN creates: %s", r.Body)
	}
	var noDesc project
	e.do(t, "POST", base, a.Owner.Token, map[string]any{"name": "Gemini"}).want(t, http.StatusCreated).decode(t, &noDesc)
	if noDesc.Description != nil || *noDesc.CreatedBy != a.Owner.ID {
		t.Errorf("OWNER creates without description: %+v", noDesc)
	}
	e.do(t, "POST", base, a.Owner.Token, map[string]any{"name": "Mercury", "description": nil}).want(t, http.StatusCreated)
	e.do(t, "POST", base, a.Owner.Token, map[string]any{"name": strings.Repeat("n", 200), "description": strings.Repeat("d", api.MaxDescriptionLength)}).want(t, http.StatusCreated)
	// Names are unique per organization, ignoring case; another tenant may reuse one.
	e.do(t, "POST", "/v1/orgs/"+b.Org.ID+"/projects", b.Owner.Token, map[string]any{"name": "Apollo"}).want(t, http.StatusCreated)
	before := e.snapshot(t)
	wantProblem(t, e.do(t, "POST", base, a.Owner.Token, map[string]any{"name": "APOLLO"}), api.ProblemConflict, "name")
	e.unchanged(t, before, "a duplicate project name")

	// The org OWNER and ADMIN read every project.
	for _, u := range []user{a.Owner, a.Admin} {
		var pg page[project]
		r := e.do(t, "GET", base, u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &pg)
		if len(pg.Items) != 5 || pg.NextCursor != nil {
			t.Errorf("list: %d items, next %v", len(pg.Items), pg.NextCursor)
		}
		for _, p := range pg.Items {
			if p.OrgID != a.Org.ID {
				t.Errorf("list holds a project of %s", p.OrgID)
			}
		}
		noLeak(t, r, b.secrets()...)

		var got project
		r = e.do(t, "GET", base+"/"+byAdmin.ID, u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &got)
		if got.ID != byAdmin.ID || got.Name != "Apollo" {
			t.Errorf("get: %s", r.Body)
		}
	}
	// An org MEMBER reads only the projects they are a member of: first only the
	// tenant's project (VIEWER), then, once added, the ADMIN's one too.
	var mine page[project]
	e.do(t, "GET", base, a.Member.Token, nil).want(t, http.StatusOK).decode(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != a.Project.ID {
		t.Errorf("MEMBER's list: %+v", mine.Items)
	}
	wantProblem(t, e.do(t, "GET", base+"/"+byAdmin.ID, a.Member.Token, nil), api.ProblemNotFound)
	e.putProjectMember(t, a.Admin, a.Org.ID, byAdmin.ID, a.Member, "VIEWER")
	e.do(t, "GET", base+"/"+strings.ToUpper(byAdmin.ID), a.Member.Token, nil).want(t, http.StatusOK)

	// OWNER and ADMIN update: only the members sent change.
	var p project
	r = e.do(t, "PATCH", base+"/"+byAdmin.ID, a.Owner.Token, map[string]any{"name": "Apollo 11"}).want(t, http.StatusOK)
	r.decode(t, &p)
	if p.Name != "Apollo 11" || p.Description == nil || *p.Description != "to the moon" || !p.UpdatedAt.After(byAdmin.UpdatedAt) {
		t.Errorf("rename: %s", r.Body)
	}
	r = e.do(t, "PATCH", base+"/"+byAdmin.ID, a.Admin.Token, map[string]any{"description": nil}).want(t, http.StatusOK)
	r.decode(t, &p)
	if p.Name != "Apollo 11" || p.Description != nil {
		t.Errorf("clear description: %s", r.Body)
	}
	r = e.do(t, "PATCH", base+"/"+byAdmin.ID, a.Admin.Token, map[string]any{"name": "Apollo 13", "description": "Houston"}).want(t, http.StatusOK)
	r.decode(t, &p)
	if p.Name != "Apollo 13" || p.Description == nil || *p.Description != "Houston" || p.OrgID != a.Org.ID || p.ID != byAdmin.ID {
		t.Errorf("both: %s", r.Body)
	}
	before = e.snapshot(t)
	wantProblem(t, e.do(t, "PATCH", base+"/"+byAdmin.ID, a.Admin.Token, map[string]any{"name": "gemini"}), api.ProblemConflict, "name")
	e.unchanged(t, before, "a rename to a taken name")

	// OWNER and ADMIN delete.
	for _, u := range []user{a.Admin, a.Owner} {
		var victim project
		e.do(t, "POST", base, a.Owner.Token, map[string]any{"name": "Doomed " + u.ID}).want(t, http.StatusCreated).decode(t, &victim)
		r := e.do(t, "DELETE", base+"/"+victim.ID, u.Token, nil).want(t, http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("204 with a body: %q", r.Body)
		}
		wantProblem(t, e.do(t, "GET", base+"/"+victim.ID, u.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "DELETE", base+"/"+victim.ID, u.Token, nil), api.ProblemNotFound)
		if n := e.count(t, `select count(*) from app.projects where id = $1`, victim.ID); n != 0 {
			t.Errorf("deleted project still in the table")
		}
	}
}

// A MEMBER reads but may not create, change or delete; nothing is written.
func TestProjectsWrongRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	base := "/v1/orgs/" + a.Org.ID + "/projects"
	item := base + "/" + a.Project.ID

	before := e.snapshot(t)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", base, map[string]any{"name": "Sneaky"}},
		{"POST", base, map[string]any{"name": a.Project.Name}}, // even a duplicate: the role is checked
		{"PATCH", item, map[string]any{"name": "Sneaky"}},
		{"PATCH", item, map[string]any{"description": nil}},
		{"DELETE", item, nil},
	} {
		r := e.do(t, c.method, c.path, a.Member.Token, c.body)
		wantProblem(t, r, api.ProblemForbidden)
	}
	e.unchanged(t, before, "a MEMBER's writes")
	// A MEMBER touching a project that does not exist learns only that.
	wantProblem(t, e.do(t, "PATCH", base+"/"+uuid.NewString(), a.Member.Token, map[string]any{"name": "x"}), api.ProblemNotFound)
	wantProblem(t, e.do(t, "DELETE", base+"/"+uuid.NewString(), a.Member.Token, nil), api.ProblemNotFound)
	e.do(t, "GET", item, a.Member.Token, nil).want(t, http.StatusOK)
}

// Another tenant's organization in the path, or another tenant's project
// under one's own organization: 404 exactly like an id that does not exist,
// never the other tenant's data, nothing written.
func TestProjectsCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	own := "/v1/orgs/" + a.Org.ID + "/projects"
	theirs := "/v1/orgs/" + b.Org.ID + "/projects"
	missingOrg := "/v1/orgs/" + uuid.NewString() + "/projects"
	missingProject := uuid.NewString()

	type call struct {
		name, method, path, control string // control: the same call on an id that does not exist
		body                        any
	}
	calls := []call{
		{"list in their org", "GET", theirs, missingOrg, nil},
		{"create in their org", "POST", theirs, missingOrg, map[string]any{"name": "Trojan"}},
		{"get in their org", "GET", theirs + "/" + b.Project.ID, missingOrg + "/" + b.Project.ID, nil},
		{"patch in their org", "PATCH", theirs + "/" + b.Project.ID, missingOrg + "/" + b.Project.ID, map[string]any{"name": "Pwned"}},
		{"delete in their org", "DELETE", theirs + "/" + b.Project.ID, missingOrg + "/" + b.Project.ID, nil},
		{"get their project under my org", "GET", own + "/" + b.Project.ID, own + "/" + missingProject, nil},
		{"patch their project under my org", "PATCH", own + "/" + b.Project.ID, own + "/" + missingProject, map[string]any{"name": "Pwned"}},
		{"delete their project under my org", "DELETE", own + "/" + b.Project.ID, own + "/" + missingProject, nil},
		{"get my project under their org", "GET", theirs + "/" + a.Project.ID, missingOrg + "/" + a.Project.ID, nil},
		{"members of their org", "GET", "/v1/orgs/" + b.Org.ID + "/members", "/v1/orgs/" + uuid.NewString() + "/members", nil},
	}
	before := e.snapshot(t)
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			for who, u := range map[string]user{"OWNER": a.Owner, "ADMIN": a.Admin, "MEMBER": a.Member} {
				r := e.do(t, c.method, c.path, u.Token, c.body)
				if r.Status != http.StatusNotFound {
					t.Errorf("%s: %s", who, r)
					continue
				}
				wantProblem(t, r, api.ProblemNotFound)
				noLeak(t, r, b.secrets()...)
				sameProblem(t, r, e.do(t, c.method, c.control, u.Token, c.body))
			}
		})
	}
	e.unchanged(t, before, "cross-tenant project calls")
	// Their project is intact and still theirs.
	var p project
	e.do(t, "GET", theirs+"/"+b.Project.ID, b.Member.Token, nil).want(t, http.StatusOK).decode(t, &p)
	if p.Name != b.Project.Name || p.OrgID != b.Org.ID {
		t.Errorf("their project changed: %+v", p)
	}
}

func TestProjectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	base := "/v1/orgs/" + a.Org.ID + "/projects"

	long := strings.Repeat("d", api.MaxDescriptionLength+1)
	create := []badCase{
		invalid("missing name", map[string]any{"description": "x"}, "name"),
		invalid("name null", map[string]any{"name": nil}, "name"),
		invalid("name wrong type", map[string]any{"name": 3.14}, "name"),
		invalid("name object", map[string]any{"name": map[string]any{"en": "x"}}, "name"),
		invalid("blank name", map[string]any{"name": "\t \n"}, "name"),
		invalid("long name", map[string]any{"name": strings.Repeat("n", 201)}, "name"),
		invalid("NUL in name", map[string]any{"name": "a\x00b"}, "name"),
		invalid("description wrong type", map[string]any{"name": "x", "description": 1}, "description"),
		invalid("long description", map[string]any{"name": "x", "description": long}, "description"),
		invalid("long multibyte description", map[string]any{"name": "x", "description": strings.Repeat("é", api.MaxDescriptionLength+1)}, "description"),
		// The tenant comes from the path, never from the body.
		invalid("org_id smuggled in", map[string]any{"name": "x", "org_id": b.Org.ID}, "org_id"),
		invalid("created_by smuggled in", map[string]any{"name": "x", "created_by": b.Owner.ID}, "created_by"),
		invalid("name refused by the database", map[string]any{"name": "\t" + strings.Repeat("n", 200)}, "name"),
		invalid("several problems", map[string]any{"name": "", "description": false, "x": 1}, "name", "description", "x"),
	}
	create = append(create, bodyCases(map[string]any{"name": "Valid", "description": "ok"}, "name")...)
	t.Run("create", func(t *testing.T) { e.runBadInput(t, "POST", base, a.Owner.Token, create) })

	patch := []badCase{
		invalid("empty patch", map[string]any{}, "body"),
		invalid("name null", map[string]any{"name": nil}, "name"),
		invalid("name wrong type", map[string]any{"name": true}, "name"),
		invalid("blank name", map[string]any{"name": "   "}, "name"),
		invalid("long name", map[string]any{"name": strings.Repeat("n", 201)}, "name"),
		invalid("description wrong type", map[string]any{"description": []string{}}, "description"),
		invalid("long description", map[string]any{"description": long}, "description"),
		invalid("org_id", map[string]any{"org_id": b.Org.ID}, "org_id"),
		invalid("id", map[string]any{"id": b.Project.ID}, "id"),
		invalid("name refused by the database", map[string]any{"name": "\t" + strings.Repeat("n", 200)}, "name"),
	}
	patch = append(patch, bodyCases(map[string]any{"name": "Valid"}, "name")...)
	t.Run("update", func(t *testing.T) { e.runBadInput(t, "PATCH", base+"/"+a.Project.ID, a.Owner.Token, patch) })

	// Ids that are not UUIDs never reach the database.
	for _, id := range []string{"1", "not-a-uuid", a.Project.ID + "0", "' or 1=1 --"} {
		p := base + "/" + strings.ReplaceAll(id, " ", "%20")
		wantProblem(t, e.do(t, "GET", p, a.Owner.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "DELETE", p, a.Owner.Token, nil), api.ProblemNotFound)
	}
	t.Run("bad page parameters", func(t *testing.T) { e.runLimitCases(t, base, a.Member.Token) })
}

// Keyset pagination: 7 projects in pages of 3 are 3, 3 and 1, newest first,
// no repeat, no gap, and next_cursor is null on the last page.
func TestProjectsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	u, o := e.register(t, "pager", "Pager Org")
	base := "/v1/orgs/" + o.ID + "/projects"

	var created []string
	for i := range 7 {
		created = append(created, e.createProject(t, u, o.ID, fmt.Sprintf("Project %d", i), "").ID)
		// Other tenants write in between: their rows must not shift our pages.
		if i%3 == 0 {
			e.createProject(t, a.Owner, a.Org.ID, fmt.Sprintf("Noise %d", i), "")
			e.createProject(t, b.Admin, b.Org.ID, fmt.Sprintf("Noise %d", i), "")
		}
	}
	// Newest first means by id descending. UUIDv7 ids order by creation time
	// only to the millisecond (app.uuid_v7 has no in-millisecond counter), so
	// two projects created in the same millisecond may come in either order:
	// compare with the ids sorted, not with the order of creation.
	slices.Sort(created)
	slices.Reverse(created)

	var got []string
	var sizes []int
	next := base + "?limit=3"
	for next != "" {
		if len(sizes) > 5 {
			t.Fatal("pagination does not end")
		}
		var pg page[project]
		r := e.do(t, "GET", next, u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &pg)
		noLeak(t, r, a.secrets()...)
		noLeak(t, r, b.secrets()...)
		sizes = append(sizes, len(pg.Items))
		for _, p := range pg.Items {
			got = append(got, p.ID)
		}
		next = ""
		if pg.NextCursor != nil {
			if *pg.NextCursor != pg.Items[len(pg.Items)-1].ID {
				t.Errorf("next_cursor %s is not the last item's id", *pg.NextCursor)
			}
			next = base + "?limit=3&cursor=" + *pg.NextCursor
		}
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Errorf("page sizes %v, want [3 3 1]", sizes)
	}
	if !slices.Equal(got, created) {
		t.Errorf("pages gave %v,\nwant %v", got, created)
	}

	// Exactly a page's worth: the last full page says there is no more.
	var pg page[project]
	e.do(t, "GET", base+"?limit=7", u.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 7 || pg.NextCursor != nil {
		t.Errorf("limit=7: %d items, next %v", len(pg.Items), pg.NextCursor)
	}
	// The default page holds them all; a cursor past the end gives an empty page.
	e.do(t, "GET", base, u.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 7 || pg.NextCursor != nil {
		t.Errorf("default page: %d items", len(pg.Items))
	}
	e.do(t, "GET", base+"?cursor="+created[6], u.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 0 || pg.NextCursor != nil || pg.Items == nil {
		t.Errorf("past the end: %+v", pg)
	}
	// Another tenant's project id as a cursor reveals nothing of theirs.
	r := e.do(t, "GET", base+"?limit=100&cursor="+b.Project.ID, u.Token, nil).want(t, http.StatusOK)
	noLeak(t, r, b.secrets()...)
}
