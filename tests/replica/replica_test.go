package replica

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// Every route openapi.json marks x-rowguard-replica-safe is answered by the standby (its
// SQL writes nothing: on a standby a write would fail), with what the primary holds; the
// standby's own statistics show it ran the requests.
func TestEveryReplicaSafeRouteIsAnsweredByTheStandby(t *testing.T) {
	tn := newTenant(t, "Safe")
	caughtUp(t)
	before := calls(t, "standby", "auth", "begin_request")
	routes := api.ReplicaSafeRoutes()
	if len(routes) < 10 {
		t.Fatalf("only %d replica-safe routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		if r.Method != http.MethodGet {
			t.Fatalf("%s %s is marked replica-safe", r.Method, r.Path)
		}
		onReplica(t, env.api1, tn.path(r.Path), tn.Token).want(t, http.StatusOK)
	}
	// The standby's own count: it ran auth.begin_request (and the route's function) once
	// per request it answered.
	eventually(t, "the standby's statistics to count the requests", func() bool {
		return calls(t, "standby", "auth", "begin_request") >= before+int64(len(routes))
	})
	if n := calls(t, "standby", "api", "finance_summary"); n == 0 {
		t.Error("the standby never ran api.finance_summary")
	}
	records := onReplica(t, env.api2, tn.projectPath("/records"), tn.Token).want(t, http.StatusOK).ids(t)
	if len(records) != 1 {
		t.Errorf("the standby lists %d records, want the 1 the primary holds", len(records))
	}
}

// Writes go to the primary only, and so does every route not marked replica-safe.
func TestWritesNeverGoToTheStandby(t *testing.T) {
	tn := newTenant(t, "Writer")
	r0 := routingOf(t, env.api1)
	call(t, env.api1, http.MethodPost, "/v1/orgs/"+tn.OrgID+"/projects", tn.Token,
		map[string]any{"name": "Another"}).want(t, http.StatusCreated)
	call(t, env.api1, http.MethodGet, tn.projectPath(""), tn.Token, nil).want(t, http.StatusOK) // not marked
	r1 := routingOf(t, env.api1)
	if r1.reads != r0.reads || r1.fallbackTotal() != r0.fallbackTotal() {
		t.Errorf("a write or an unmarked GET went through the replica router: %+v → %+v", r0, r1)
	}
	eventually(t, "the primary's statistics to count api.create_project", func() bool {
		return calls(t, "primary", "api", "create_project") > 0
	})
	if n := calls(t, "standby", "api", "create_project"); n != 0 {
		t.Errorf("the standby ran api.create_project %d times", n)
	}
}

// A client that wrote reads its write at once, through the instance it wrote on or any
// other, even while the standby replays nothing: the primary answers until the standby
// has replayed up to the write; then the standby does.
func TestReadYourWritesWithReplayPaused(t *testing.T) {
	tn := newTenant(t, "Writes")
	caughtUp(t)
	pauseReplay(t)
	var p struct{ ID string }
	call(t, env.api1, http.MethodPost, "/v1/orgs/"+tn.OrgID+"/projects", tn.Token,
		map[string]any{"name": "Fresh"}).want(t, http.StatusCreated).decode(t, &p)
	// The standby does not hold it: an answer from it would look like a lost write.
	if n := queryInt(t, "standby", `select count(*) from app.projects where id = $1`, p.ID); n != 0 {
		t.Fatalf("the standby holds the new project while its replay is paused")
	}
	list := "/v1/orgs/" + tn.OrgID + "/projects"
	for _, s := range []string{"api1", "api2"} { // the instance written on, and another
		inst := env.api1
		if s == "api2" {
			inst = env.api2
		}
		ids := onPrimary(t, inst, list, tn.Token).want(t, http.StatusOK).ids(t)
		if !slices.Contains(ids, p.ID) {
			t.Errorf("%s: the list after the write lacks the new project %s: %v", s, p.ID, ids)
		}
	}
	resumeReplay(t)
	ids := onReplica(t, env.api2, list, tn.Token).want(t, http.StatusOK).ids(t)
	if !slices.Contains(ids, p.ID) {
		t.Errorf("the standby's list lacks the new project once replayed: %v", ids)
	}
}

// A revoked session is refused at once: by the primary while the standby has not
// replayed the revocation, by the standby itself once it has.
func TestRevocationIsHonouredAtOnce(t *testing.T) {
	tn := newTenant(t, "Revoked")
	list := "/v1/orgs/" + tn.OrgID + "/projects"
	second := tn.login(t, env.api1)
	caughtUp(t)
	onReplica(t, env.api2, list, second).want(t, http.StatusOK)

	pauseReplay(t)
	call(t, env.api1, http.MethodPost, "/v1/auth/logout", second, nil).want(t, http.StatusNoContent)
	onPrimary(t, env.api2, list, second).want(t, http.StatusUnauthorized)
	onPrimary(t, env.api1, tn.projectPath("/analytics/summary"), second).want(t, http.StatusUnauthorized)
	onPrimary(t, env.api2, list, tn.Token).want(t, http.StatusOK) // the other session lives

	resumeReplay(t)
	onReplica(t, env.api2, list, second).want(t, http.StatusUnauthorized)

	// Without a pause: revoked through one instance, refused by the other's standby read.
	third := tn.login(t, env.api2)
	caughtUp(t)
	onReplica(t, env.api1, list, third).want(t, http.StatusOK)
	call(t, env.api2, http.MethodPost, "/v1/auth/logout", third, nil).want(t, http.StatusNoContent)
	for range 5 {
		if a := call(t, env.api1, http.MethodGet, list, third, nil); a.status != http.StatusUnauthorized {
			t.Fatalf("a revoked session read %s: %d %s", list, a.status, a.body)
		}
	}
}

// Once the standby's measured lag is above ROWGUARD_READ_MAX_LAG, requests go to the
// primary without waiting for the standby at all.
func TestLagAboveTheLimitGoesToThePrimary(t *testing.T) {
	tn := newTenant(t, "Lagging")
	list := "/v1/orgs/" + tn.OrgID + "/projects"
	caughtUp(t)
	pauseReplay(t)
	call(t, env.api1, http.MethodPost, list, tn.Token, map[string]any{"name": "Behind"}).want(t, http.StatusCreated)
	eventually(t, "the lag to exceed the limit", func() bool {
		onPrimary(t, env.api1, list, tn.Token).want(t, http.StatusOK)
		r := routingOf(t, env.api1)
		return r.lag > testMaxLag.Seconds()
	})
	before := routingOf(t, env.api1)
	onPrimary(t, env.api1, list, tn.Token).want(t, http.StatusOK)
	after := routingOf(t, env.api1)
	if after.fallbacks["lagging"] != before.fallbacks["lagging"]+1 {
		t.Errorf("fallbacks %v → %v: want one more for lagging", before.fallbacks, after.fallbacks)
	}
	resumeReplay(t)
	eventually(t, "the standby to be used again", func() bool {
		before := routingOf(t, env.api1)
		call(t, env.api1, http.MethodGet, list, tn.Token, nil).want(t, http.StatusOK)
		return routingOf(t, env.api1).reads == before.reads+1
	})
}

// Row-level security holds on the standby as on the primary: another tenant's
// organization and project are 404, and no list shows another tenant's rows.
func TestCrossTenantReadsThroughTheStandby(t *testing.T) {
	a, b := newTenant(t, "Alpha"), newTenant(t, "Beta")
	caughtUp(t)
	for _, r := range api.ReplicaSafeRoutes() {
		if !strings.Contains(r.Path, "{org_id}") {
			continue
		}
		onReplica(t, env.api1, a.path(r.Path), b.Token).want(t, http.StatusNotFound)
	}
	// B's project under B's organization path, A's project id: not found either.
	mixed := "/v1/orgs/" + b.OrgID + "/projects/" + a.projectID + "/records"
	onReplica(t, env.api1, mixed, b.Token).want(t, http.StatusNotFound)
	orgs := onReplica(t, env.api2, "/v1/orgs", b.Token).want(t, http.StatusOK).ids(t)
	if len(orgs) != 1 || orgs[0] != b.OrgID {
		t.Errorf("B's organizations on the standby: %v, want only %s", orgs, b.OrgID)
	}
	projects := onReplica(t, env.api2, "/v1/orgs/"+b.OrgID+"/projects", b.Token).want(t, http.StatusOK).ids(t)
	if len(projects) != 1 || projects[0] != b.projectID {
		t.Errorf("B's projects on the standby: %v, want only %s", projects, b.projectID)
	}
}

// A standby that is down costs nothing but the offload: the primary answers, and the
// standby is used again once it is back.
func TestStandbyDownIsServedByThePrimary(t *testing.T) {
	tn := newTenant(t, "Down")
	list := "/v1/orgs/" + tn.OrgID + "/projects"
	caughtUp(t)
	onReplica(t, env.api1, list, tn.Token).want(t, http.StatusOK)
	if err := env.standby.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = env.standby.Restart(context.Background())
		}
	})
	before := routingOf(t, env.api1)
	for range 10 {
		ids := call(t, env.api1, http.MethodGet, list, tn.Token, nil).want(t, http.StatusOK).ids(t)
		if !slices.Contains(ids, tn.projectID) {
			t.Fatalf("the primary's list lacks the project: %v", ids)
		}
		call(t, env.api1, http.MethodGet, tn.projectPath("/analytics/trends"), tn.Token, nil).want(t, http.StatusOK)
	}
	after := routingOf(t, env.api1)
	if after.reads != before.reads || after.fallbackTotal() != before.fallbackTotal()+20 {
		t.Errorf("with the standby down: reads %v→%v, fallbacks %v→%v", before.reads, after.reads, before.fallbacks, after.fallbacks)
	}
	if after.fallbacks["unavailable"] < before.fallbacks["unavailable"]+1 {
		t.Errorf("no fallback counted as unavailable: %v", after.fallbacks)
	}
	eventually(t, "the checks to see the standby down", func() bool {
		call(t, env.api1, http.MethodGet, list, tn.Token, nil).want(t, http.StatusOK)
		return routingOf(t, env.api1).up == 0
	})

	if err := env.standby.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	caughtUp(t)
	onReplica(t, env.api1, list, tn.Token).want(t, http.StatusOK)
	if routingOf(t, env.api1).up != 1 {
		t.Error("rowguard_replica_up is not 1 once the standby answers again")
	}
}

// auth.begin_request writes nothing on the standby; a session read only there is still
// kept alive: its last_used_at is touched on the primary.
func TestSessionReadOnTheStandbyIsTouchedOnThePrimary(t *testing.T) {
	tn := newTenant(t, "Touch")
	exec(t, "primary", `update auth.sessions set last_used_at = now() - interval '2 minutes' where user_id = $1`, tn.UserID)
	caughtUp(t)
	onReplica(t, env.api2, tn.projectPath("/analytics/summary"), tn.Token).want(t, http.StatusOK)
	eventually(t, "the primary to record the session's use", func() bool {
		return queryInt(t, "primary", `select count(*) from auth.sessions where user_id = $1 and last_used_at > now() - interval '1 minute'`, tn.UserID) == 1
	})
}
