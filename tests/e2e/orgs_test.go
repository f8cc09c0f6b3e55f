package e2e

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

func TestListOrganizations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")

	for who, u := range map[string]user{"OWNER": a.Owner, "ADMIN": a.Admin, "MEMBER": a.Member} {
		var pg page[org]
		r := e.do(t, "GET", "/v1/orgs", u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &pg)
		if len(pg.Items) != 1 || pg.Items[0].ID != a.Org.ID || pg.Items[0].Role != who || pg.NextCursor != nil {
			t.Errorf("%s lists %s", who, r.Body)
		}
		noLeak(t, r, b.secrets()...)
	}

	// A user in three organizations pages through them, newest first.
	u, first := e.register(t, "multi", "Multi One")
	want := []string{first.ID}
	for _, name := range []string{"Multi Two", "Multi Three"} {
		var o org
		e.do(t, "POST", "/v1/orgs", u.Token, map[string]any{"name": name}).want(t, http.StatusCreated).decode(t, &o)
		want = append([]string{o.ID}, want...)
	}
	e.addMember(t, b.Org.ID, u, "MEMBER") // older than the three: listed last
	want = append(want, b.Org.ID)
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		path := "/v1/orgs?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var pg page[org]
		r := e.do(t, "GET", path, u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &pg)
		noLeak(t, r, a.secrets()...)
		for _, o := range pg.Items {
			got = append(got, o.ID)
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = *pg.NextCursor
	}
	slices.Sort(want) // newest first: by id descending
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}

	t.Run("bad page parameters", func(t *testing.T) { e.runLimitCases(t, "/v1/orgs", u.Token) })
}

func TestCreateOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.register(t, "founder", "")
	taken := e.newTenant(t, "Taken Name")

	var o org
	r := e.do(t, "POST", "/v1/orgs", u.Token, map[string]any{"name": " Second Org  "}).want(t, http.StatusCreated)
	r.decode(t, &o)
	if o.Name != "Second Org" || o.Slug != "second-org" || o.Role != "OWNER" {
		t.Errorf("created %s", r.Body)
	}
	r = e.do(t, "POST", "/v1/orgs", u.Token, map[string]any{"name": "Third", "slug": "my-3rd-org"}).want(t, http.StatusCreated)
	r.decode(t, &o)
	if o.Slug != "my-3rd-org" {
		t.Errorf("explicit slug: %s", r.Body)
	}
	// The founder is its only member, as OWNER.
	var members page[member]
	e.do(t, "GET", "/v1/orgs/"+o.ID+"/members", u.Token, nil).want(t, http.StatusOK).decode(t, &members)
	if len(members.Items) != 1 || members.Items[0].UserID != u.ID || members.Items[0].Role != "OWNER" {
		t.Errorf("members of a new organization: %+v", members)
	}
	// A derived slug that collides gets a suffix; a chosen one is a conflict.
	r = e.do(t, "POST", "/v1/orgs", u.Token, map[string]any{"name": "Taken Name"}).want(t, http.StatusCreated)
	r.decode(t, &o)
	if !strings.HasPrefix(o.Slug, taken.Org.Slug+"-") {
		t.Errorf("derived slug %q for a taken name", o.Slug)
	}
	before := e.snapshot(t)
	r = e.do(t, "POST", "/v1/orgs", u.Token, map[string]any{"name": "Squat", "slug": taken.Org.Slug})
	wantProblem(t, r, api.ProblemConflict, "slug")
	noLeak(t, r, taken.Org.ID, taken.Org.Name, taken.Owner.Email)
	e.unchanged(t, before, "a taken slug")

	// Any valid name gets a valid derived slug: here the 56th character of
	// the slug (its maximum length before a suffix) is a dash.
	t.Run("derived slug of a long name", func(t *testing.T) {
		name := strings.Repeat("a", 55) + " b"
		r := e.do(t, "POST", "/v1/orgs", u.Token, map[string]any{"name": name})
		if r.Status == http.StatusUnprocessableEntity {
			t.Fatalf("%s: api.slugify (sql/api/organizations.sql:3) trims dashes before cutting to 56 characters, "+
				"so the derived slug ends with a dash and fails organizations_slug_check", r)
		}
		r.want(t, http.StatusCreated).decode(t, &o)
		if !regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`).MatchString(o.Slug) {
			t.Errorf("derived slug %q", o.Slug)
		}
	})

	valid := map[string]any{"name": "Valid", "slug": "valid"}
	cases := []badCase{
		invalid("missing name", map[string]any{"slug": "x"}, "name"),
		invalid("name null", map[string]any{"name": nil}, "name"),
		invalid("name wrong type", map[string]any{"name": 42}, "name"),
		invalid("blank name", map[string]any{"name": "   "}, "name"),
		invalid("long name", map[string]any{"name": strings.Repeat("x", 201)}, "name"),
		invalid("slug wrong type", map[string]any{"name": "x", "slug": false}, "slug"),
		invalid("slug upper case", map[string]any{"name": "x", "slug": "Bad"}, "slug"),
		invalid("slug with space", map[string]any{"name": "x", "slug": "a b"}, "slug"),
		invalid("slug leading dash", map[string]any{"name": "x", "slug": "-ab"}, "slug"),
		invalid("slug trailing dash", map[string]any{"name": "x", "slug": "ab-"}, "slug"),
		invalid("slug too long", map[string]any{"name": "x", "slug": strings.Repeat("a", 64)}, "slug"),
		invalid("slug empty", map[string]any{"name": "x", "slug": ""}, "slug"),
		invalid("role smuggled in", map[string]any{"name": "x", "role": "OWNER"}, "role"),
		invalid("id smuggled in", map[string]any{"name": "x", "id": taken.Org.ID}, "id"),
	}
	cases = append(cases, bodyCases(valid, "name")...)
	t.Run("bad input", func(t *testing.T) { e.runBadInput(t, "POST", "/v1/orgs", u.Token, cases) })
}

func TestGetOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")

	for who, u := range map[string]user{"OWNER": a.Owner, "ADMIN": a.Admin, "MEMBER": a.Member} {
		var o org
		r := e.do(t, "GET", "/v1/orgs/"+a.Org.ID, u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &o)
		if o.ID != a.Org.ID || o.Name != a.Org.Name || o.Slug != a.Org.Slug || o.Role != who {
			t.Errorf("%s gets %s", who, r.Body)
		}
	}
	// Upper-case ids are the same id.
	e.do(t, "GET", "/v1/orgs/"+strings.ToUpper(a.Org.ID), a.Member.Token, nil).want(t, http.StatusOK)

	// Another tenant's organization is exactly as absent as one that does not exist.
	for _, u := range []user{a.Owner, a.Admin, a.Member} {
		cross := e.do(t, "GET", "/v1/orgs/"+b.Org.ID, u.Token, nil)
		wantProblem(t, cross, api.ProblemNotFound)
		noLeak(t, cross, b.secrets()...)
		missing := e.do(t, "GET", "/v1/orgs/"+uuid.NewString(), u.Token, nil)
		sameProblem(t, cross, missing)
	}
}

func TestUpdateOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	path := "/v1/orgs/" + a.Org.ID

	t.Run("OWNER and ADMIN", func(t *testing.T) {
		var o org
		r := e.do(t, "PATCH", path, a.Owner.Token, map[string]any{"name": "  Acme Rockets Ltd "}).want(t, http.StatusOK)
		r.decode(t, &o)
		if o.Name != "Acme Rockets Ltd" || o.Slug != a.Org.Slug || o.Role != "OWNER" || !o.UpdatedAt.After(a.Org.UpdatedAt) {
			t.Errorf("OWNER renames: %s", r.Body)
		}
		r = e.do(t, "PATCH", path, a.Admin.Token, map[string]any{"slug": "acme-ltd"}).want(t, http.StatusOK)
		r.decode(t, &o)
		if o.Name != "Acme Rockets Ltd" || o.Slug != "acme-ltd" || o.Role != "ADMIN" {
			t.Errorf("ADMIN changes the slug: %s", r.Body)
		}
		e.do(t, "PATCH", path, a.Admin.Token, map[string]any{"name": strings.Repeat("é", 200), "slug": strings.Repeat("a", 63)}).want(t, http.StatusOK)
	})

	t.Run("MEMBER is forbidden", func(t *testing.T) {
		before := e.snapshot(t)
		r := e.do(t, "PATCH", path, a.Member.Token, map[string]any{"name": "Pwned"})
		wantProblem(t, r, api.ProblemForbidden)
		e.unchanged(t, before, "a MEMBER's PATCH of the organization")
	})

	t.Run("cross-tenant", func(t *testing.T) {
		before := e.snapshot(t)
		for _, u := range []user{a.Owner, a.Admin, a.Member} {
			cross := e.do(t, "PATCH", "/v1/orgs/"+b.Org.ID, u.Token, map[string]any{"name": "Pwned"})
			wantProblem(t, cross, api.ProblemNotFound)
			noLeak(t, cross, b.secrets()...)
			missing := e.do(t, "PATCH", "/v1/orgs/"+uuid.NewString(), u.Token, map[string]any{"name": "Pwned"})
			sameProblem(t, cross, missing)
		}
		e.unchanged(t, before, "PATCH of another tenant's organization")
	})

	t.Run("slug taken", func(t *testing.T) {
		before := e.snapshot(t)
		r := e.do(t, "PATCH", path, a.Owner.Token, map[string]any{"slug": b.Org.Slug})
		wantProblem(t, r, api.ProblemConflict, "slug")
		noLeak(t, r, b.Org.ID, b.Org.Name, b.Owner.Email)
		e.unchanged(t, before, "PATCH to a taken slug")
	})

	valid := map[string]any{"name": "Valid"}
	cases := []badCase{
		invalid("empty patch", map[string]any{}, "body"),
		invalid("name null", map[string]any{"name": nil}, "name"),
		invalid("name wrong type", map[string]any{"name": []int{1}}, "name"),
		invalid("blank name", map[string]any{"name": " "}, "name"),
		invalid("long name", map[string]any{"name": strings.Repeat("x", 201)}, "name"),
		invalid("slug null", map[string]any{"slug": nil}, "slug"),
		invalid("bad slug", map[string]any{"slug": "Not A Slug"}, "slug"),
		invalid("id", map[string]any{"id": b.Org.ID}, "id"),
		invalid("role", map[string]any{"role": "OWNER"}, "role"),
		invalid("created_at", map[string]any{"name": "x", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
	}
	cases = append(cases, bodyCases(valid, "name")...)
	t.Run("bad input", func(t *testing.T) { e.runBadInput(t, "PATCH", path, a.Owner.Token, cases) })
}

func TestDeleteOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	path := "/v1/orgs/" + a.Org.ID

	t.Run("ADMIN and MEMBER are forbidden", func(t *testing.T) {
		before := e.snapshot(t)
		for _, u := range []user{a.Admin, a.Member} {
			wantProblem(t, e.do(t, "DELETE", path, u.Token, nil), api.ProblemForbidden)
		}
		e.unchanged(t, before, "DELETE of the organization by ADMIN/MEMBER")
	})

	t.Run("cross-tenant", func(t *testing.T) {
		before := e.snapshot(t)
		for _, u := range []user{a.Owner, a.Admin, a.Member} {
			cross := e.do(t, "DELETE", "/v1/orgs/"+b.Org.ID, u.Token, nil)
			wantProblem(t, cross, api.ProblemNotFound)
			noLeak(t, cross, b.secrets()...)
			sameProblem(t, cross, e.do(t, "DELETE", "/v1/orgs/"+uuid.NewString(), u.Token, nil))
		}
		e.unchanged(t, before, "DELETE of another tenant's organization")
	})

	t.Run("OWNER", func(t *testing.T) {
		bBefore := e.count(t, `select count(*) from app.projects where org_id = $1`, b.Org.ID)
		// A fresh proof first (step_up_test.go: without it, 403 reauthentication-required).
		e.reauthenticate(t, a.Owner)
		r := e.do(t, "DELETE", path, a.Owner.Token, nil).want(t, http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("204 with a body: %q", r.Body)
		}
		// Gone for everyone at once (a soft delete); once purged, with every tenant row;
		// the users stay.
		for _, u := range []user{a.Owner, a.Admin, a.Member} {
			wantProblem(t, e.do(t, "GET", path, u.Token, nil), api.ProblemNotFound)
			wantProblem(t, e.do(t, "GET", path+"/projects", u.Token, nil), api.ProblemNotFound)
			wantProblem(t, e.do(t, "DELETE", path, u.Token, nil), api.ProblemNotFound)
			e.do(t, "GET", "/v1/auth/me", u.Token, nil).want(t, http.StatusOK)
		}
		e.purgeOrganization(t, a.Org.ID)
		for _, q := range []string{
			`select count(*) from app.organizations where id = $1`,
			`select count(*) from app.memberships where org_id = $1`,
			`select count(*) from app.projects where org_id = $1`,
		} {
			if n := e.count(t, q, a.Org.ID); n != 0 {
				t.Errorf("%s: %d rows left", q, n)
			}
		}
		if n := e.count(t, `select count(*) from app.projects where org_id = $1`, b.Org.ID); n != bBefore {
			t.Errorf("the other tenant lost projects: %d → %d", bBefore, n)
		}
		e.do(t, "GET", "/v1/orgs/"+b.Org.ID, b.Member.Token, nil).want(t, http.StatusOK)
	})
}

func TestListMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	path := "/v1/orgs/" + a.Org.ID + "/members"

	want := map[string]string{a.Owner.ID: "OWNER", a.Admin.ID: "ADMIN", a.Member.ID: "MEMBER"}
	emails := map[string]string{a.Owner.ID: a.Owner.Email, a.Admin.ID: a.Admin.Email, a.Member.ID: a.Member.Email}
	for _, u := range []user{a.Owner, a.Admin, a.Member} {
		var pg page[member]
		r := e.do(t, "GET", path, u.Token, nil).want(t, http.StatusOK)
		r.decode(t, &pg)
		got := map[string]string{}
		for _, m := range pg.Items {
			got[m.UserID] = m.Role
			if m.Email != emails[m.UserID] {
				t.Errorf("member %s: email %q", m.UserID, m.Email)
			}
		}
		if len(got) != 3 || got[a.Owner.ID] != "OWNER" || got[a.Admin.ID] != "ADMIN" || got[a.Member.ID] != "MEMBER" || pg.NextCursor != nil {
			t.Errorf("members: %s", r.Body)
		}
		noLeak(t, r, b.secrets()...)
	}

	// One per page, newest account first, no gap, no repeat.
	var got []string
	next := path + "?limit=1"
	for next != "" {
		var pg page[member]
		e.do(t, "GET", next, a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
		if len(pg.Items) != 1 {
			t.Fatalf("page of %d", len(pg.Items))
		}
		got = append(got, pg.Items[0].UserID)
		next = ""
		if pg.NextCursor != nil {
			next = path + "?limit=1&cursor=" + *pg.NextCursor
		}
	}
	ids := []string{a.Owner.ID, a.Admin.ID, a.Member.ID}
	slices.Sort(ids) // newest account first: by id descending
	slices.Reverse(ids)
	if !slices.Equal(got, ids) || len(got) != len(want) {
		t.Errorf("pages %v, want %v", got, ids)
	}

	for _, u := range []user{a.Owner, a.Member} {
		cross := e.do(t, "GET", "/v1/orgs/"+b.Org.ID+"/members", u.Token, nil)
		wantProblem(t, cross, api.ProblemNotFound)
		noLeak(t, cross, b.secrets()...)
		sameProblem(t, cross, e.do(t, "GET", "/v1/orgs/"+uuid.NewString()+"/members", u.Token, nil))
	}
	t.Run("bad page parameters", func(t *testing.T) { e.runLimitCases(t, path, a.Member.Token) })
}
