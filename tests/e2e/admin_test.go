package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

type tenantJSON struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Plan            string  `json:"plan"`
	Suspended       bool    `json:"suspended"`
	SuspendedReason *string `json:"suspended_reason"`
	Usage           []struct {
		Kind string `json:"kind"`
		Used int    `json:"used"`
	} `json:"usage"`
}

type auditJSON struct {
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	OrgID   *string        `json:"org_id"`
	Details map[string]any `json:"details"`
}

// newPlatformAdmin signs up a user and makes them a platform admin the way
// `rowguard admin grant` does (the kernel function, as the migration role).
func (e *env) newPlatformAdmin(t testing.TB) user {
	t.Helper()
	u, _ := e.register(t, "operator", "")
	if _, err := e.admin.Exec(context.Background(), `select auth.set_platform_admin($1, true)`, u.Email); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPlatformAdminManagesTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.newTenant(t, "Alpha"), e.newTenant(t, "Beta")
	e.createService(t, a.Owner, a.Org.ID, "Alpha service", 30, 1)
	ops := e.newPlatformAdmin(t)

	var pg page[tenantJSON]
	e.do(t, http.MethodGet, "/v1/admin/tenants", ops.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	byID := map[string]tenantJSON{}
	for _, tn := range pg.Items {
		byID[tn.ID] = tn
	}
	ta, ok := byID[a.Org.ID]
	if !ok || len(byID) != 2 || ta.Plan != "free" || ta.Suspended {
		t.Fatalf("tenants = %+v", pg.Items)
	}
	used := map[string]int{}
	for _, u := range ta.Usage {
		used[u.Kind] = u.Used
	}
	if used["members"] != 3 || used["services"] != 1 || used["projects"] != 1 {
		t.Errorf("usage of A = %v", used)
	}
	// Tenants, yes; their business data, no: the admin is no member.
	for _, p := range []string{"/v1/orgs/" + a.Org.ID + "/services", "/v1/orgs/" + a.Org.ID + "/projects", "/v1/orgs/" + a.Org.ID + "/members"} {
		r := e.do(t, http.MethodGet, p, ops.Token, nil)
		wantProblem(t, r, api.ProblemNotFound)
		noLeak(t, r, "Alpha service", a.Project.Name, a.Owner.Email)
	}

	var tn tenantJSON
	e.do(t, http.MethodPost, "/v1/admin/tenants/"+b.Org.ID+"/plan", ops.Token, map[string]any{"plan": "business"}).
		want(t, http.StatusOK).decode(t, &tn)
	if tn.Plan != "business" || e.billing(t, b.Member, b.Org.ID).Plan.Code != "business" {
		t.Errorf("after plan change: %+v", tn)
	}
	wantProblem(t, e.do(t, http.MethodPost, "/v1/admin/tenants/"+b.Org.ID+"/plan", ops.Token, map[string]any{"plan": "gold"}), api.ProblemValidation, "plan")
	wantProblem(t, e.do(t, http.MethodPost, "/v1/admin/tenants/"+b.Org.ID+"/suspend", ops.Token, map[string]any{"reason": " "}), api.ProblemValidation, "reason")
	wantProblem(t, e.do(t, http.MethodGet, "/v1/admin/tenants/"+uuid.NewString(), ops.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/admin/tenants/"+uuid.NewString()+"/unsuspend", ops.Token, nil), api.ProblemNotFound)

	// Suspension: every route inside A answers its members 403, B is untouched.
	e.do(t, http.MethodPost, "/v1/admin/tenants/"+a.Org.ID+"/suspend", ops.Token, map[string]any{"reason": "unpaid invoices"}).
		want(t, http.StatusOK).decode(t, &tn)
	if !tn.Suspended || tn.SuspendedReason == nil || *tn.SuspendedReason != "unpaid invoices" {
		t.Errorf("suspended tenant = %+v", tn)
	}
	e.do(t, http.MethodGet, "/v1/admin/tenants?suspended=true", ops.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != a.Org.ID {
		t.Errorf("suspended=true: %+v", pg.Items)
	}
	before := e.snapshot(t)
	routes := 0
	for _, rt := range e.server.Routes() {
		if !strings.HasPrefix(rt.Path, "/v1/orgs/{org_id}") {
			continue
		}
		routes++
		path := strings.NewReplacer("{org_id}", a.Org.ID, "{project_id}", a.Project.ID).Replace(rt.Path)
		path = fillOtherPathVars(path)
		var body any
		if rt.Method == http.MethodPost || rt.Method == http.MethodPatch {
			body = map[string]any{"name": "While suspended"}
		}
		if vb, ok := validBodies[rt.Method+" "+rt.Path]; ok {
			body = vb
		}
		for _, u := range []user{a.Owner, a.Member} {
			wantProblem(t, e.do(t, rt.Method, path, u.Token, body), api.ProblemOrganizationSuspended)
		}
	}
	if routes < 15 {
		t.Errorf("checked only %d org routes", routes)
	}
	e.unchanged(t, before, "requests inside a suspended organization")
	// Strangers still get 404: suspension is nobody else's business.
	wantProblem(t, e.do(t, http.MethodGet, "/v1/orgs/"+a.Org.ID, b.Owner.Token, nil), api.ProblemNotFound)
	e.do(t, http.MethodGet, "/v1/orgs/"+b.Org.ID+"/services", b.Member.Token, nil).want(t, http.StatusOK)
	e.do(t, http.MethodGet, "/v1/auth/me", a.Owner.Token, nil).want(t, http.StatusOK)

	e.do(t, http.MethodPost, "/v1/admin/tenants/"+a.Org.ID+"/unsuspend", ops.Token, nil).want(t, http.StatusOK).decode(t, &tn)
	if tn.Suspended {
		t.Errorf("still suspended: %+v", tn)
	}
	e.do(t, http.MethodGet, "/v1/orgs/"+a.Org.ID+"/services", a.Member.Token, nil).want(t, http.StatusOK)

	// Every admin action is in the audit, newest first, with who did it.
	var audit page[auditJSON]
	e.do(t, http.MethodGet, "/v1/admin/audit?tenant_id="+a.Org.ID, ops.Token, nil).want(t, http.StatusOK).decode(t, &audit)
	var actions []string
	for _, it := range audit.Items {
		if it.Actor != ops.Email {
			t.Errorf("audit actor %q, want %q", it.Actor, ops.Email)
		}
		actions = append(actions, it.Action)
	}
	// Newest request first. Within one request (an action, then the tenant it
	// answers with: tenant.get) both rows may carry the same millisecond, and ids
	// are UUIDv7 (random below the millisecond): either order is right there.
	want := [][2]string{{"tenant.get", "tenant.unsuspend"}, {"tenant.get", "tenant.suspend"}}
	if len(actions) != 2*len(want) {
		t.Errorf("audit of A = %v, want %v (newest request first)", actions, want)
	} else {
		for i, w := range want {
			got := [2]string{actions[2*i], actions[2*i+1]}
			if got != w && got != [2]string{w[1], w[0]} {
				t.Errorf("audit of A = %v, want %v (newest request first)", actions, want)
				break
			}
		}
	}
	e.do(t, http.MethodGet, "/v1/admin/audit", ops.Token, nil).want(t, http.StatusOK).decode(t, &audit)
	if last := audit.Items[len(audit.Items)-1]; last.Action != "admin.grant" || last.Actor != "command line" {
		t.Errorf("oldest audit entry = %+v", last)
	}
	if n := e.count(t, `select count(*) from platform.admin_audit`); n < 9 {
		t.Errorf("%d audit rows", n)
	}
}

func TestAdminRoutesRefuseTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Curious")
	before := e.snapshot(t)
	auditBefore := e.count(t, `select count(*) from platform.admin_audit`)
	for _, u := range []user{a.Owner, a.Member} {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{http.MethodGet, "/v1/admin/tenants", nil},
			{http.MethodGet, "/v1/admin/tenants/" + a.Org.ID, nil},
			{http.MethodPost, "/v1/admin/tenants/" + a.Org.ID + "/plan", map[string]any{"plan": "business"}},
			{http.MethodPost, "/v1/admin/tenants/" + a.Org.ID + "/suspend", map[string]any{"reason": "x"}},
			{http.MethodPost, "/v1/admin/tenants/" + a.Org.ID + "/unsuspend", nil},
			{http.MethodGet, "/v1/admin/audit", nil},
		} {
			wantProblem(t, e.do(t, c.method, c.path, u.Token, c.body), api.ProblemForbidden)
		}
	}
	e.unchanged(t, before, "tenants calling the admin API")
	if n := e.count(t, `select count(*) from platform.admin_audit`); n != auditBefore {
		t.Errorf("refused admin calls wrote %d audit rows", n-auditBefore)
	}
	// No HTTP route sets the flag: a user cannot make themselves admin by any body.
	e.do(t, http.MethodGet, "/v1/auth/me", a.Owner.Token, nil).want(t, http.StatusOK)
	if n := e.count(t, `select count(*) from auth.users where is_platform_admin`); n != 0 {
		t.Errorf("%d platform admins", n)
	}
}
