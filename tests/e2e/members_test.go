package e2e

import (
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

// roleOf reads a user's org role as superuser ("" when not a member).
func (e *env) roleOf(t testing.TB, orgID, userID string) string {
	t.Helper()
	var role string
	if e.count(t, `select count(*) from app.memberships where org_id = $1 and user_id = $2`, orgID, userID) == 0 {
		return ""
	}
	if err := e.admin.QueryRow(t.Context(), `select role::text from app.memberships where org_id = $1 and user_id = $2`, orgID, userID).Scan(&role); err != nil {
		t.Fatal(err)
	}
	return role
}

// PATCH /v1/orgs/{org_id}/members/{user_id}
func TestUpdateMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	members := "/v1/orgs/" + a.Org.ID + "/members/"
	extra, _ := e.register(t, "extra", "")
	e.addMember(t, a.Org.ID, extra, "MEMBER")

	t.Run("allowed", func(t *testing.T) {
		var m member
		e.do(t, "PATCH", members+extra.ID, a.Owner.Token, map[string]any{"role": "ADMIN"}).want(t, http.StatusOK).decode(t, &m)
		if m.UserID != extra.ID || m.Role != "ADMIN" || m.Email != extra.Email {
			t.Errorf("patched member: %+v", m)
		}
		// An ADMIN changes roles up to their own.
		e.do(t, "PATCH", members+extra.ID, a.Admin.Token, map[string]any{"role": "MEMBER"}).want(t, http.StatusOK).decode(t, &m)
		if m.Role != "MEMBER" || e.roleOf(t, a.Org.ID, extra.ID) != "MEMBER" {
			t.Errorf("after ADMIN's change: %+v", m)
		}
		// The new role holds on the very next request.
		var o org
		e.do(t, "PATCH", members+extra.ID, a.Admin.Token, map[string]any{"role": "ADMIN"}).want(t, http.StatusOK)
		e.do(t, "GET", "/v1/orgs/"+a.Org.ID, extra.Token, nil).want(t, http.StatusOK).decode(t, &o)
		if o.Role != "ADMIN" {
			t.Errorf("role seen by the member: %s", o.Role)
		}
		e.do(t, "PATCH", members+extra.ID, a.Owner.Token, map[string]any{"role": "MEMBER"}).want(t, http.StatusOK)
	})

	before := e.snapshot(t)
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name    string
			by      user
			path    string
			body    any
			kind    api.ProblemKind
			control string // the same call on a user id that does not exist, when it must answer alike
		}{
			{"MEMBER changes a role", a.Member, members + extra.ID, map[string]any{"role": "ADMIN"}, api.ProblemForbidden, ""},
			{"MEMBER promotes herself", a.Member, members + a.Member.ID, map[string]any{"role": "OWNER"}, api.ProblemForbidden, ""},
			{"ADMIN grants OWNER (escalation)", a.Admin, members + extra.ID, map[string]any{"role": "OWNER"}, api.ProblemForbidden, ""},
			{"ADMIN promotes himself to OWNER (escalation)", a.Admin, members + a.Admin.ID, map[string]any{"role": "OWNER"}, api.ProblemForbidden, ""},
			{"ADMIN demotes the OWNER", a.Admin, members + a.Owner.ID, map[string]any{"role": "MEMBER"}, api.ProblemForbidden, ""},
			{"the last OWNER demotes herself", a.Owner, members + a.Owner.ID, map[string]any{"role": "ADMIN"}, api.ProblemConflict, ""},
			{"another tenant's member under my org", a.Owner, members + b.Member.ID, map[string]any{"role": "ADMIN"}, api.ProblemNotFound, members + uuid.NewString()},
			{"my member under another tenant's org", b.Owner, "/v1/orgs/" + a.Org.ID + "/members/" + a.Member.ID, map[string]any{"role": "ADMIN"}, api.ProblemNotFound,
				"/v1/orgs/" + uuid.NewString() + "/members/" + a.Member.ID},
			{"bad role", a.Owner, members + extra.ID, map[string]any{"role": "KING"}, api.ProblemValidation, ""},
			{"no role", a.Owner, members + extra.ID, map[string]any{}, api.ProblemValidation, ""},
			{"unknown field", a.Owner, members + extra.ID, map[string]any{"role": "ADMIN", "email": "x@y.z"}, api.ProblemValidation, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(t, "PATCH", c.path, c.by.Token, c.body)
				wantProblem(t, r, c.kind)
				noLeak(t, r, b.secrets()...)
				if c.control != "" {
					sameProblem(t, r, e.do(t, "PATCH", c.control, c.by.Token, c.body))
				}
			})
		}
		wantProblem(t, e.do(t, "PATCH", members+extra.ID, a.Owner.Token, map[string]any{"role": "KING"}), api.ProblemValidation, "role")
		p := wantProblem(t, e.do(t, "PATCH", members+a.Owner.ID, a.Owner.Token, map[string]any{"role": "MEMBER"}), api.ProblemConflict, "role")
		if p.Detail != "an organization must keep at least one OWNER" {
			t.Errorf("last OWNER detail: %q", p.Detail)
		}
	})
	e.unchanged(t, before, "refused member changes")

	// With a second OWNER, an OWNER may step down.
	e.do(t, "PATCH", members+extra.ID, a.Owner.Token, map[string]any{"role": "OWNER"}).want(t, http.StatusOK)
	e.do(t, "PATCH", members+a.Owner.ID, a.Owner.Token, map[string]any{"role": "ADMIN"}).want(t, http.StatusOK)
	if e.roleOf(t, a.Org.ID, a.Owner.ID) != "ADMIN" {
		t.Error("the former OWNER is not ADMIN")
	}
	// ... and the remaining one is now the last.
	wantProblem(t, e.do(t, "PATCH", members+extra.ID, extra.Token, map[string]any{"role": "ADMIN"}), api.ProblemConflict, "role")
}

// DELETE /v1/orgs/{org_id}/members/{user_id}
func TestRemoveMember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	members := "/v1/orgs/" + a.Org.ID + "/members/"
	newMember := func(tag, role string) user {
		u, _ := e.register(t, tag, "")
		e.addMember(t, a.Org.ID, u, role)
		return u
	}

	before := e.snapshot(t)
	for _, c := range []struct {
		name string
		by   user
		path string
		kind api.ProblemKind
	}{
		{"MEMBER removes another", a.Member, members + a.Admin.ID, api.ProblemForbidden},
		{"ADMIN removes the OWNER", a.Admin, members + a.Owner.ID, api.ProblemForbidden},
		{"the last OWNER leaves", a.Owner, members + a.Owner.ID, api.ProblemConflict},
		{"another tenant's member under my org", a.Owner, members + b.Member.ID, api.ProblemNotFound},
		{"under another tenant's org", a.Owner, "/v1/orgs/" + b.Org.ID + "/members/" + b.Member.ID, api.ProblemNotFound},
		{"nobody with that id", a.Owner, members + uuid.NewString(), api.ProblemNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, "DELETE", c.path, c.by.Token, nil)
			wantProblem(t, r, c.kind)
			noLeak(t, r, b.secrets()...)
		})
	}
	e.unchanged(t, before, "refused removals")

	// An ADMIN removes a MEMBER; the member's project memberships go with them.
	gone := newMember("gone", "MEMBER")
	e.putProjectMember(t, a.Owner, a.Org.ID, a.Project.ID, gone, "ANALYST")
	e.do(t, "DELETE", members+gone.ID, a.Admin.Token, nil).want(t, http.StatusNoContent)
	if e.roleOf(t, a.Org.ID, gone.ID) != "" || e.count(t, `select count(*) from app.project_members where user_id = $1`, gone.ID) != 0 {
		t.Error("the removed member or their project membership remains")
	}
	wantProblem(t, e.do(t, "GET", "/v1/orgs/"+a.Org.ID+"/projects/"+a.Project.ID, gone.Token, nil), api.ProblemNotFound)

	// Anyone leaves.
	leaver := newMember("leaver", "MEMBER")
	e.do(t, "DELETE", members+leaver.ID, leaver.Token, nil).want(t, http.StatusNoContent)
	wantProblem(t, e.do(t, "GET", "/v1/orgs/"+a.Org.ID, leaver.Token, nil), api.ProblemNotFound)

	// An OWNER removes an OWNER (the last other one: after a fresh proof, see
	// step_up_test.go); then an OWNER may leave, as long as one stays.
	other := newMember("other-owner", "OWNER")
	e.reauthenticate(t, a.Owner)
	e.do(t, "DELETE", members+other.ID, a.Owner.Token, nil).want(t, http.StatusNoContent)
	other2 := newMember("other-owner-2", "OWNER")
	e.do(t, "DELETE", members+a.Owner.ID, a.Owner.Token, nil).want(t, http.StatusNoContent)
	wantProblem(t, e.do(t, "DELETE", members+other2.ID, other2.Token, nil), api.ProblemConflict)
	if e.roleOf(t, a.Org.ID, other2.ID) != "OWNER" {
		t.Error("the last OWNER is gone")
	}
}

// Two OWNERs demoting each other at the same moment: the trigger serializes them per
// organization, so one wins and the other is refused; an OWNER always remains.
func TestLastOwnerRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for round := range 5 {
		a := e.newTenant(t, "Race "+string(rune('A'+round)))
		second, _ := e.register(t, "second-owner", "")
		e.addMember(t, a.Org.ID, second, "OWNER")
		// Demoting the last other OWNER is a step-up act: both proved themselves just now.
		e.reauthenticate(t, a.Owner)
		e.reauthenticate(t, second)
		members := "/v1/orgs/" + a.Org.ID + "/members/"
		reqs := []*http.Request{
			e.newRequest(t, "PATCH", members+second.ID, a.Owner.Token, map[string]any{"role": "ADMIN"}),
			e.newRequest(t, "PATCH", members+a.Owner.ID, second.Token, map[string]any{"role": "ADMIN"}),
		}
		results := make([]*response, len(reqs))
		errs := make([]error, len(reqs))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, req := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = e.send(req)
			}()
		}
		close(start)
		wg.Wait()
		statuses := map[int]int{}
		for i, r := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			e.check(t, r)
			statuses[r.Status]++
		}
		owners := e.count(t, `select count(*) from app.memberships where org_id = $1 and role = 'OWNER'`, a.Org.ID)
		// The loser gets 409 when both ran at once (the trigger refused), or 403 when it
		// started after the winner committed (no longer an OWNER, RLS refused).
		if owners != 1 || statuses[http.StatusOK] != 1 || statuses[http.StatusConflict]+statuses[http.StatusForbidden] != 1 {
			t.Errorf("round %d: statuses %v, %d OWNERs left; want one 200, one 409 or 403, one OWNER", round, statuses, owners)
		}
	}
}
