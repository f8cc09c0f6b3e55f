package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// A role holds in one organization only: the OWNER of B who is a MEMBER of A
// is a MEMBER in A, and B's rows cannot be reached through A's path.
func TestRolesArePerOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	x := b.Owner
	e.addMember(t, a.Org.ID, x, "MEMBER")
	e.putProjectMember(t, a.Owner, a.Org.ID, a.Project.ID, x, "VIEWER") // sees A's project, may not change it
	inA := "/v1/orgs/" + a.Org.ID
	inB := "/v1/orgs/" + b.Org.ID

	var o org
	e.do(t, "GET", inA, x.Token, nil).want(t, http.StatusOK).decode(t, &o)
	if o.Role != "MEMBER" {
		t.Errorf("role in A: %s", o.Role)
	}
	e.do(t, "GET", inB, x.Token, nil).want(t, http.StatusOK).decode(t, &o)
	if o.Role != "OWNER" {
		t.Errorf("role in B: %s", o.Role)
	}

	before := e.snapshot(t)
	for _, c := range []struct {
		method, path string
		body         any
		kind         api.ProblemKind
	}{
		// MEMBER in A (and VIEWER of its project), whatever they are in B.
		{"POST", inA + "/projects", map[string]any{"name": "x"}, api.ProblemForbidden},
		{"PATCH", inA + "/projects/" + a.Project.ID, map[string]any{"name": "x"}, api.ProblemForbidden},
		{"DELETE", inA + "/projects/" + a.Project.ID, nil, api.ProblemForbidden},
		{"PATCH", inA, map[string]any{"name": "x"}, api.ProblemForbidden},
		{"DELETE", inA, nil, api.ProblemForbidden},
		// B's project is not in A, even for B's OWNER.
		{"GET", inA + "/projects/" + b.Project.ID, nil, api.ProblemNotFound},
		{"PATCH", inA + "/projects/" + b.Project.ID, map[string]any{"name": "x"}, api.ProblemNotFound},
		{"DELETE", inA + "/projects/" + b.Project.ID, nil, api.ProblemNotFound},
		// And A's project is not in B.
		{"GET", inB + "/projects/" + a.Project.ID, nil, api.ProblemNotFound},
		{"PATCH", inB + "/projects/" + a.Project.ID, map[string]any{"name": "x"}, api.ProblemNotFound},
		{"DELETE", inB + "/projects/" + a.Project.ID, nil, api.ProblemNotFound},
	} {
		r := e.do(t, c.method, c.path, x.Token, c.body)
		wantProblem(t, r, c.kind)
	}
	e.unchanged(t, before, "a MEMBER of A who owns B")

	// Each list holds only its own organization's projects.
	for orgID, want := range map[string]string{a.Org.ID: a.Project.ID, b.Org.ID: b.Project.ID} {
		var pg page[project]
		e.do(t, "GET", "/v1/orgs/"+orgID+"/projects", x.Token, nil).want(t, http.StatusOK).decode(t, &pg)
		if len(pg.Items) != 1 || pg.Items[0].ID != want || pg.Items[0].OrgID != orgID {
			t.Errorf("projects of %s: %+v", orgID, pg.Items)
		}
	}
	// In B they are still the OWNER.
	e.do(t, "PATCH", inB+"/projects/"+b.Project.ID, x.Token, map[string]any{"description": "still mine"}).want(t, http.StatusOK)
}

// Racing writers of one unique value: exactly one wins, the others get a
// 409 naming the field, never a 500, and nothing else is written.
func TestUniqueRaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	const n = 12

	race := func(t *testing.T, field string, req func(i int) *http.Request) {
		t.Helper()
		var wg sync.WaitGroup
		results := make([]*response, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			r := req(i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = e.send(r)
			}()
		}
		close(start)
		wg.Wait()
		created := 0
		for i, r := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			e.check(t, r)
			switch r.Status {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				wantProblem(t, r, api.ProblemConflict, field)
			default:
				t.Errorf("racer: %s", r)
			}
		}
		if created != 1 {
			t.Errorf("%d racers won, want 1", created)
		}
	}

	// Sign-ups of one address in any case race to one pending sign-up; its code, sent to
	// several verifications at once, creates one account: the others are refused.
	t.Run("sign up the same email", func(t *testing.T) {
		users := e.count(t, `select count(*) from auth.users`)
		sessions := e.count(t, `select count(*) from auth.sessions`)
		orgs := e.count(t, `select count(*) from app.organizations`)
		var wg sync.WaitGroup
		for i := range n {
			r := e.newRequest(t, "POST", "/v1/auth/register", "", map[string]any{
				"email": []string{"racer@example.com", "Racer@Example.com", "RACER@EXAMPLE.COM"}[i%3], "password": fixturePassword,
				"organization_name": "Racer org",
			})
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.send(r)
				if err != nil || res.Status != http.StatusAccepted {
					t.Errorf("racing sign-up: %v %v", res, err)
				}
			}()
		}
		wg.Wait()
		if n := e.count(t, `select count(*) from auth.pending_sign_ups where email = 'racer@example.com'`); n != 1 {
			t.Fatalf("%d pending sign-ups for one address", n)
		}
		// Which racer's code is live depends on commit order: one more sign-up, then its code is.
		e.startSignUp(t, "racer@example.com", fixturePassword, "Racer org")
		code := e.readSignUpCode(t, "racer@example.com")
		results := make([]*response, n)
		start := make(chan struct{})
		for i := range n {
			r := e.newRequest(t, "POST", "/v1/auth/register/verify", "", map[string]any{"email": "Racer@example.com", "code": code})
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				if results[i], err = e.send(r); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		created := 0
		for _, r := range results {
			if r == nil {
				continue
			}
			e.check(t, r)
			switch r.Status {
			case http.StatusCreated:
				created++
			default:
				wantProblem(t, r, api.ProblemInvalidCredentials)
			}
		}
		if created != 1 {
			t.Errorf("%d verifications created an account, want 1", created)
		}
		if u, s, o := e.count(t, `select count(*) from auth.users`), e.count(t, `select count(*) from auth.sessions`),
			e.count(t, `select count(*) from app.organizations`); u != users+1 || s != sessions+1 || o != orgs+1 {
			t.Errorf("after the race: +%d users, +%d sessions, +%d organizations; want +1 each", u-users, s-sessions, o-orgs)
		}
	})

	t.Run("create organizations with the same slug", func(t *testing.T) {
		orgs := e.count(t, `select count(*) from app.organizations`)
		race(t, "slug", func(i int) *http.Request {
			return e.newRequest(t, "POST", "/v1/orgs", a.Member.Token, map[string]any{"name": fmt.Sprintf("Race %d", i), "slug": "the-race"})
		})
		if o := e.count(t, `select count(*) from app.organizations`); o != orgs+1 {
			t.Errorf("+%d organizations, want +1", o-orgs)
		}
	})

	t.Run("create projects with the same name", func(t *testing.T) {
		projects := e.count(t, `select count(*) from app.projects`)
		race(t, "name", func(i int) *http.Request {
			tok := a.Owner.Token
			if i%2 == 1 {
				tok = a.Admin.Token
			}
			return e.newRequest(t, "POST", "/v1/orgs/"+a.Org.ID+"/projects", tok, map[string]any{"name": "Photo Finish"})
		})
		if p := e.count(t, `select count(*) from app.projects`); p != projects+1 {
			t.Errorf("+%d projects, want +1", p-projects)
		}
	})
}
