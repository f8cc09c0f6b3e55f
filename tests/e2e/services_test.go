package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

type service struct {
	ID              string    `json:"id"`
	OrgID           string    `json:"org_id"`
	Name            string    `json:"name"`
	Description     *string   `json:"description"`
	DurationMinutes int       `json:"duration_minutes"`
	Price           string    `json:"price"`
	Currency        string    `json:"currency"`
	Capacity        int       `json:"capacity"`
	Active          bool      `json:"active"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// createService creates a service over HTTP as u (OWNER or ADMIN).
func (e *env) createService(t testing.TB, u user, orgID, name string, minutes, capacity int) service {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/orgs/"+orgID+"/services", u.Token, map[string]any{
		"name": name, "duration_minutes": minutes, "price": "40.00", "currency": "EUR", "capacity": capacity,
	}).want(t, http.StatusCreated)
	var s service
	r.decode(t, &s)
	return s
}

func TestServicesLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Salon")
	base := "/v1/orgs/" + a.Org.ID + "/services"

	r := e.do(t, http.MethodPost, base, a.Admin.Token, map[string]any{
		"name": "  Haircut ", "description": "wash and cut", "duration_minutes": 45, "price": "35.5", "currency": "EUR",
	}).want(t, http.StatusCreated)
	var cut service
	r.decode(t, &cut)
	if cut.Name != "Haircut" || cut.Price != "35.50" || cut.Capacity != 1 || !cut.Active || cut.DurationMinutes != 45 || cut.OrgID != a.Org.ID {
		t.Errorf("created service = %+v", cut)
	}

	// Every member reads; the list filters on active.
	var pg page[service]
	e.do(t, http.MethodGet, base, a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != cut.ID {
		t.Errorf("member's list = %+v", pg.Items)
	}
	e.do(t, http.MethodGet, base+"/"+cut.ID, a.Member.Token, nil).want(t, http.StatusOK)

	// OWNER/ADMIN change; a MEMBER is refused and nothing changes.
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPost, base, a.Member.Token, map[string]any{
		"name": "x", "duration_minutes": 10, "price": "1", "currency": "EUR"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPatch, base+"/"+cut.ID, a.Member.Token, map[string]any{"price": "0"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodDelete, base+"/"+cut.ID, a.Member.Token, nil), api.ProblemForbidden)
	e.unchanged(t, before, "a MEMBER managing services")

	var changed service
	e.do(t, http.MethodPatch, base+"/"+cut.ID, a.Owner.Token, map[string]any{"active": false, "capacity": 3, "description": nil}).
		want(t, http.StatusOK).decode(t, &changed)
	if changed.Active || changed.Capacity != 3 || changed.Description != nil || changed.Name != "Haircut" {
		t.Errorf("patched service = %+v", changed)
	}
	e.do(t, http.MethodGet, base+"?active=true", a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 0 {
		t.Errorf("active=true lists the inactive service: %+v", pg.Items)
	}
	e.do(t, http.MethodGet, base+"?active=false", a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 {
		t.Errorf("active=false = %+v", pg.Items)
	}

	// Same name (any case) → 409 naming the field.
	wantProblem(t, e.do(t, http.MethodPost, base, a.Owner.Token, map[string]any{
		"name": "HAIRCUT", "duration_minutes": 10, "price": "1", "currency": "EUR"}), api.ProblemConflict, "name")

	e.do(t, http.MethodDelete, base+"/"+cut.ID, a.Owner.Token, nil).want(t, http.StatusNoContent)
	wantProblem(t, e.do(t, http.MethodGet, base+"/"+cut.ID, a.Owner.Token, nil), api.ProblemNotFound)
}

func TestServicesInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Input")
	base := "/v1/orgs/" + a.Org.ID + "/services"
	before := e.snapshot(t)
	cases := []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{}, []string{"name", "duration_minutes", "price", "currency"}},
		{map[string]any{"name": "x", "duration_minutes": 0, "price": "1", "currency": "EUR"}, []string{"duration_minutes"}},
		{map[string]any{"name": "x", "duration_minutes": 1.5, "price": "1", "currency": "EUR"}, []string{"duration_minutes"}},
		{map[string]any{"name": "x", "duration_minutes": 10, "price": 12.5, "currency": "EUR"}, []string{"price"}},
		{map[string]any{"name": "x", "duration_minutes": 10, "price": "-1", "currency": "EUR"}, []string{"price"}},
		{map[string]any{"name": "x", "duration_minutes": 10, "price": "1.234", "currency": "eur"}, []string{"price", "currency"}},
		{map[string]any{"name": "x", "duration_minutes": 10, "price": "1", "currency": "EUR", "capacity": 0, "active": "yes"}, []string{"capacity", "active"}},
		{map[string]any{"name": " ", "duration_minutes": 10, "price": "1", "currency": "EUR", "color": "red"}, []string{"name", "color"}},
	}
	for _, c := range cases {
		wantProblem(t, e.do(t, http.MethodPost, base, a.Owner.Token, c.body), api.ProblemValidation, c.fields...)
	}
	wantProblem(t, e.do(t, http.MethodPatch, base+"/"+a.Project.ID, a.Owner.Token, map[string]any{}), api.ProblemValidation, "body")
	wantProblem(t, e.do(t, http.MethodGet, base+"?active=maybe", a.Owner.Token, nil), api.ProblemValidation, "active")
	e.unchanged(t, before, "invalid service bodies")
}

func TestServicesCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.newTenant(t, "Alpha"), e.newTenant(t, "Beta")
	sb := e.createService(t, b.Owner, b.Org.ID, "Beta secret massage", 60, 1)
	before := e.snapshot(t)
	for _, path := range []string{"/v1/orgs/" + a.Org.ID + "/services/" + sb.ID, "/v1/orgs/" + b.Org.ID + "/services/" + sb.ID} {
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			r := e.do(t, m, path, a.Owner.Token, nil)
			wantProblem(t, r, api.ProblemNotFound)
			noLeak(t, r, sb.Name)
		}
		wantProblem(t, e.do(t, http.MethodPatch, path, a.Owner.Token, map[string]any{"name": "pwned"}), api.ProblemNotFound)
	}
	var pg page[service]
	e.do(t, http.MethodGet, "/v1/orgs/"+a.Org.ID+"/services", a.Owner.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 0 {
		t.Errorf("A lists B's services: %+v", pg.Items)
	}
	e.unchanged(t, before, "cross-tenant service requests")
}
