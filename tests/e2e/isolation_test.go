package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
)

// connState is what a pooled connection carries between requests.
type connState struct {
	pid            uint32
	userID, orgID  *string // current_setting(..., true): NULL if never set
	sessionID      *string
	requestID      *string
	visible        int // rows of tenant and identity tables visible without a request context
	txStatus       byte
	currentUser    string
	placeholderSet bool
}

// inspect reads the state of one pooled connection of the server's pool, as
// the server's own role and outside any request.
func inspect(t testing.TB, c *pgxpool.Conn) connState {
	t.Helper()
	var s connState
	err := c.QueryRow(context.Background(), `
		select pg_backend_pid(), current_user,
		       current_setting('app.user_id', true), current_setting('app.org_id', true),
		       current_setting('app.session_id', true), current_setting('app.request_id', true),
		       (select count(*) from app.projects) + (select count(*) from app.organizations) +
		       (select count(*) from app.memberships) + (select count(*) from auth.users) +
		       (select count(*) from auth.my_sessions()) + (select count(*) from app.audit_log)`).
		Scan(&s.pid, &s.currentUser, &s.userID, &s.orgID, &s.sessionID, &s.requestID, &s.visible)
	if err != nil {
		t.Fatal(err)
	}
	s.txStatus = c.Conn().PgConn().TxStatus()
	s.placeholderSet = s.userID != nil
	return s
}

// clean fails t unless the connection holds no request context.
func (s connState) clean(t testing.TB, after string) {
	t.Helper()
	str := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprintf("%q", *p)
	}
	if (s.userID != nil && *s.userID != "") || (s.orgID != nil && *s.orgID != "") || (s.sessionID != nil && *s.sessionID != "") {
		t.Errorf("after %s, connection %d carries app.user_id=%s app.org_id=%s app.session_id=%s",
			after, s.pid, str(s.userID), str(s.orgID), str(s.sessionID))
	}
	if s.requestID != nil && *s.requestID != "" {
		t.Errorf("after %s, connection %d carries app.request_id=%s", after, s.pid, str(s.requestID))
	}
	if s.visible != 0 {
		t.Errorf("after %s, connection %d sees %d rows without a request context", after, s.pid, s.visible)
	}
	if s.txStatus != 'I' {
		t.Errorf("after %s, connection %d is in transaction state %q", after, s.pid, s.txStatus)
	}
	if s.currentUser != "rowguard_app" {
		t.Errorf("connection %d runs as %s", s.pid, s.currentUser)
	}
}

// ~20 tenants hammer a server whose pool has two connections: ~400
// concurrent project lists, mixed with requests that fail half-way through
// their transaction. Every list holds exactly its own organization's
// projects; afterwards neither connection carries any request context.
func TestPooledConnectionIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxConns(2))
	const tenants = 20

	type tenantFx struct {
		owner, member user
		org           org
		projects      map[string]bool
	}
	fxs := make([]*tenantFx, tenants)
	var orgIDs []string
	for i := range tenants {
		owner, o := e.register(t, fmt.Sprintf("tenant%02d-owner", i), fmt.Sprintf("Tenant %02d", i))
		member, _ := e.register(t, fmt.Sprintf("tenant%02d-member", i), "")
		e.addMember(t, o.ID, member, "MEMBER")
		fx := &tenantFx{owner: owner, member: member, org: *o, projects: map[string]bool{}}
		for j := range 1 + i%5 { // 1 to 5 projects: each tenant's list has its own length
			fx.projects[e.createProject(t, owner, o.ID, fmt.Sprintf("T%02d project %d", i, j), "").ID] = true
		}
		fxs[i] = fx
		orgIDs = append(orgIDs, o.ID)
	}

	type job struct {
		kind   string // list | member-post (403) | missing-project (404) | cross-tenant (404)
		tenant int
		req    *http.Request
	}
	var jobs []job
	add := func(kind string, tenant int, method, path, tok string, body any) {
		jobs = append(jobs, job{kind, tenant, e.newRequest(t, method, path, tok, body)})
	}
	for k := range 400 {
		i := k % tenants
		add("list", i, "GET", "/v1/orgs/"+fxs[i].org.ID+"/projects?limit=100", fxs[i].owner.Token, nil)
	}
	for k := range 40 {
		i := k % tenants
		// 403 from row-level security, after begin_request set the context.
		add("member-post", i, "POST", "/v1/orgs/"+fxs[i].org.ID+"/projects", fxs[i].member.Token, map[string]any{"name": fmt.Sprintf("nope %d", k)})
		// 404 raised by the function, after begin_request set the context.
		add("missing-project", i, "GET", "/v1/orgs/"+fxs[i].org.ID+"/projects/"+uuid.NewString(), fxs[i].owner.Token, nil)
		// 404 from begin_request: the neighbour's organization.
		add("cross-tenant", i, "GET", "/v1/orgs/"+fxs[(i+1)%tenants].org.ID+"/projects", fxs[i].owner.Token, nil)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(jobs), func(a, b int) { jobs[a], jobs[b] = jobs[b], jobs[a] })

	projectsBefore := e.count(t, `select count(*) from app.projects`)
	results := make([]*response, len(jobs))
	errs := make([]error, len(jobs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for n, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[n], errs[n] = e.send(j.req)
		}()
	}
	close(start)
	wg.Wait()

	lists := 0
	for n, j := range jobs {
		if errs[n] != nil {
			t.Errorf("%s for tenant %d: %v", j.kind, j.tenant, errs[n])
			continue
		}
		r := results[n]
		e.check(t, r)
		fx := fxs[j.tenant]
		switch j.kind {
		case "list":
			if r.Status != http.StatusOK {
				t.Errorf("tenant %d list: %s", j.tenant, r)
				continue
			}
			lists++
			var pg page[project]
			r.decode(t, &pg)
			seen := map[string]bool{}
			for _, p := range pg.Items {
				if p.OrgID != fx.org.ID || !fx.projects[p.ID] {
					t.Errorf("tenant %d got project %s of org %s", j.tenant, p.ID, p.OrgID)
				}
				seen[p.ID] = true
			}
			if len(seen) != len(fx.projects) || len(pg.Items) != len(fx.projects) {
				t.Errorf("tenant %d got %d projects, has %d", j.tenant, len(pg.Items), len(fx.projects))
			}
			for _, id := range orgIDs {
				if id != fx.org.ID && strings.Contains(string(r.Body), id) {
					t.Errorf("tenant %d's list mentions org %s", j.tenant, id)
				}
			}
		case "member-post":
			wantProblem(t, r, api.ProblemForbidden)
		case "missing-project", "cross-tenant":
			wantProblem(t, r, api.ProblemNotFound)
		}
	}
	if lists != 400 {
		t.Errorf("%d of 400 lists succeeded", lists)
	}
	if n := e.count(t, `select count(*) from app.projects`); n != projectsBefore {
		t.Errorf("projects %d → %d: a refused request wrote", projectsBefore, n)
	}

	// Now look at every connection of the server's pool.
	if total := e.pool.Stat().TotalConns(); total != 2 {
		t.Errorf("the pool holds %d connections, want 2", total)
	}
	conns := e.pool.AcquireAllIdle(context.Background())
	if len(conns) != 2 {
		t.Errorf("acquired %d idle connections, want 2", len(conns))
	}
	for _, c := range conns {
		s := inspect(t, c)
		s.clean(t, "the burst")
		if !s.placeholderSet {
			t.Errorf("connection %d never served a request", s.pid)
		}
		c.Release()
	}
}

// A request that fails half-way through its transaction (after
// auth.begin_request set app.user_id and app.org_id) leaves nothing on the
// connection: the next request on it, by another tenant, sees only its own
// rows. The pool has one connection, so every request uses the one inspected.
func TestFailedRequestLeavesNoContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxConns(1))
	a := e.newTenant(t, "Acme Rockets")
	b := e.newTenant(t, "Globex Corp")
	revoked, revokedOrg := e.register(t, "revoked", "Revoked Org")
	e.exec(t, `update auth.sessions set revoked_at = now() where id = $1`, revoked.SessionID)
	base := "/v1/orgs/" + a.Org.ID + "/projects"

	pidOf := func() uint32 {
		c, err := e.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		return inspect(t, c).pid
	}
	pid := pidOf()

	for _, c := range []struct {
		name, method, path, tok string
		body                    any
		kind                    api.ProblemKind
	}{
		{"MEMBER creates (RLS WITH CHECK)", "POST", base, a.Member.Token, map[string]any{"name": "x"}, api.ProblemForbidden},
		{"MEMBER updates (RG403)", "PATCH", base + "/" + a.Project.ID, a.Member.Token, map[string]any{"name": "x"}, api.ProblemForbidden},
		{"MEMBER deletes (RG403)", "DELETE", base + "/" + a.Project.ID, a.Member.Token, nil, api.ProblemForbidden},
		{"MEMBER patches the org (RG403)", "PATCH", "/v1/orgs/" + a.Org.ID, a.Member.Token, map[string]any{"name": "x"}, api.ProblemForbidden},
		{"ADMIN deletes the org (RG403)", "DELETE", "/v1/orgs/" + a.Org.ID, a.Admin.Token, nil, api.ProblemForbidden},
		{"missing project (RG404)", "GET", base + "/" + uuid.NewString(), a.Owner.Token, nil, api.ProblemNotFound},
		{"duplicate name (unique violation)", "POST", base, a.Owner.Token, map[string]any{"name": a.Project.Name}, api.ProblemConflict},
		{"taken slug (unique violation)", "PATCH", "/v1/orgs/" + a.Org.ID, a.Owner.Token, map[string]any{"slug": b.Org.Slug}, api.ProblemConflict},
		{"name refused by a CHECK", "POST", base, a.Owner.Token, map[string]any{"name": "\t" + strings.Repeat("n", 200)}, api.ProblemValidation},
		{"another tenant's org (begin_request)", "GET", "/v1/orgs/" + b.Org.ID + "/projects", a.Owner.Token, nil, api.ProblemNotFound},
		{"revoked session (begin_request)", "GET", "/v1/orgs/" + revokedOrg.ID, revoked.Token, nil, api.ProblemUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A successful request first, so the connection has held a context.
			e.do(t, "GET", base, a.Owner.Token, nil).want(t, http.StatusOK)
			wantProblem(t, e.do(t, c.method, c.path, c.tok, c.body), c.kind)

			conn, err := e.pool.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s := inspect(t, conn)
			conn.Release()
			s.clean(t, c.name)
			if s.pid != pid {
				t.Errorf("the failed request cost the pool its connection (%d → %d)", pid, s.pid)
				pid = s.pid
			}
			// The next request on that connection, by the other tenant.
			var pg page[project]
			r := e.do(t, "GET", "/v1/orgs/"+b.Org.ID+"/projects", b.Member.Token, nil).want(t, http.StatusOK)
			r.decode(t, &pg)
			if len(pg.Items) != 1 || pg.Items[0].ID != b.Project.ID {
				t.Errorf("next request on the connection: %s", r.Body)
			}
			noLeak(t, r, a.secrets()...)
		})
	}
}
