package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

type billingJSON struct {
	OrgID string `json:"org_id"`
	Plan  struct {
		Code     string `json:"code"`
		Name     string `json:"name"`
		Price    string `json:"price"`
		Currency string `json:"currency"`
	} `json:"plan"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Usage       []struct {
		Kind     string `json:"kind"`
		PerMonth bool   `json:"per_month"`
		Limit    *int   `json:"limit"`
		Used     int    `json:"used"`
	} `json:"usage"`
}

// usage returns kind → "used/limit" ("used/-" when unlimited).
func (b billingJSON) usage() map[string]string {
	m := map[string]string{}
	for _, u := range b.Usage {
		l := "-"
		if u.Limit != nil {
			l = fmt.Sprint(*u.Limit)
		}
		m[u.Kind] = fmt.Sprintf("%d/%s", u.Used, l)
	}
	return m
}

func (e *env) billing(t testing.TB, u user, orgID string) billingJSON {
	t.Helper()
	var b billingJSON
	e.do(t, http.MethodGet, "/v1/orgs/"+orgID+"/billing", u.Token, nil).want(t, http.StatusOK).decode(t, &b)
	return b
}

// setLimit changes a plan's limit in this test's own database.
func (e *env) setLimit(t testing.TB, plan, kind string, max int) {
	t.Helper()
	e.exec(t, `update platform.plan_limits set max_count = $3 where plan_code = $1 and kind = $2`, plan, kind, max)
}

func TestBillingShowsPlanAndUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.newTenant(t, "Billed"), e.newTenant(t, "Other")
	svc := e.createService(t, a.Owner, a.Org.ID, "Cut", 30, 1)
	e.book(t, a.Member, a.Org.ID, svc.ID, slot(0), "c@example.com")

	got := e.billing(t, a.Member, a.Org.ID)
	if got.OrgID != a.Org.ID || got.Plan.Code != "free" || got.Plan.Price != "0.00" {
		t.Errorf("billing = %+v", got)
	}
	start := time.Date(time.Now().UTC().Year(), time.Now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	if !got.PeriodStart.Equal(start) || !got.PeriodEnd.Equal(start.AddDate(0, 1, 0)) {
		t.Errorf("period %s – %s, want the calendar month from %s", got.PeriodStart, got.PeriodEnd, start)
	}
	want := map[string]string{
		"members": "3/10", "projects": "1/25", "services": "1/10",
		"bookings_per_month": "1/100", "financial_records_per_month": "0/200",
	}
	if u := got.usage(); fmt.Sprint(u) != fmt.Sprint(want) {
		t.Errorf("usage = %v, want %v", u, want)
	}
	r := e.do(t, http.MethodGet, "/v1/orgs/"+b.Org.ID+"/billing", a.Owner.Token, nil)
	wantProblem(t, r, api.ProblemNotFound)
	noLeak(t, r, b.secrets()...)
}

func TestPlanLimitsAreEnforcedByTheDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Limited")
	e.setLimit(t, "free", "projects", 2)
	e.setLimit(t, "free", "bookings_per_month", 1)
	e.setLimit(t, "free", "members", 3)

	e.createProject(t, a.Owner, a.Org.ID, "second", "")
	before := e.snapshot(t)
	p := wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/projects", a.Owner.Token, map[string]any{"name": "third"}),
		api.ProblemPlanLimitReached)
	if p.Detail != "the free plan allows 2 projects; upgrade the plan to add more" {
		t.Errorf("detail = %q", p.Detail)
	}
	e.unchanged(t, before, "a project beyond the plan's limit")
	svc := e.createService(t, a.Owner, a.Org.ID, "Cut", 30, 5)
	e.book(t, a.Member, a.Org.ID, svc.ID, slot(0), "one@example.com")
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/bookings", a.Member.Token, bookingBody(svc.ID, slot(1), "two@example.com")),
		api.ProblemPlanLimitReached)
	if n := e.count(t, `select count(*) from app.bookings where org_id = $1`, a.Org.ID); n != 1 {
		t.Errorf("%d bookings after the refused one", n)
	}

	// Members count too, whoever adds them (here: the superuser, as an invitation would).
	extra, _ := e.register(t, "extra", "")
	if _, err := e.admin.Exec(t.Context(), `insert into app.memberships (org_id, user_id, role) values ($1, $2, 'MEMBER')`, a.Org.ID, extra.ID); err == nil {
		t.Error("a fourth member was added beyond the limit of 3")
	}

	// Another plan lifts the limit at once.
	e.exec(t, `update app.subscriptions set plan_code = 'business' where org_id = $1`, a.Org.ID)
	e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/projects", a.Owner.Token, map[string]any{"name": "third"}).want(t, http.StatusCreated)
	if u := e.billing(t, a.Owner, a.Org.ID).usage(); u["projects"] != "3/-" {
		t.Errorf("business usage = %v", u)
	}
}

// TestPlanLimitUnderConcurrency creates services all at once: the database admits
// exactly up to the limit, never one more.
func TestPlanLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withMaxConns(40))
	a := e.newTenant(t, "Racing")
	const limit, attempts = 4, 30
	e.setLimit(t, "free", "services", limit)

	reqs := make([]*http.Request, attempts)
	for i := range reqs {
		reqs[i] = e.newRequest(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/services", a.Owner.Token, map[string]any{
			"name": fmt.Sprintf("Service %d", i), "duration_minutes": 30, "price": "1", "currency": "EUR"})
	}
	wantAdmitted(t, e.fireTogether(t, reqs), http.StatusPaymentRequired, limit)
	if n := e.count(t, `select count(*) from app.services where org_id = $1`, a.Org.ID); n != limit {
		t.Errorf("%d services in the database, limit %d", n, limit)
	}
}

func TestPlansList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.register(t, "shopper", "")
	var res struct {
		Items []struct {
			Code   string          `json:"code"`
			Price  string          `json:"price"`
			Limits map[string]*int `json:"limits"`
		} `json:"items"`
	}
	e.do(t, http.MethodGet, "/v1/billing/plans", u.Token, nil).want(t, http.StatusOK).decode(t, &res)
	if len(res.Items) != 3 || res.Items[0].Code != "free" || res.Items[1].Code != "pro" || res.Items[2].Price != "99.00" {
		t.Fatalf("plans = %+v", res.Items)
	}
	if l := res.Items[0].Limits["services"]; l == nil || *l != 10 {
		t.Errorf("free services limit = %v", l)
	}
	if l, ok := res.Items[2].Limits["members"]; !ok || l != nil {
		t.Errorf("business members limit = %v (present %v), want null", l, ok)
	}
}
