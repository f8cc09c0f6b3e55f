package e2e

import (
	"net/http"
	"testing"

	"github.com/rowguard/rowguard/api"
)

func init() {
	validBodies["PUT /v1/orgs/{org_id}/exchange-rates"] = map[string]any{"date": "2030-01-01", "from_currency": "EUR", "to_currency": "USD", "rate": "1.1"}
}

type exchangeRate struct {
	Date         string `json:"date"`
	FromCurrency string `json:"from_currency"`
	ToCurrency   string `json:"to_currency"`
	Rate         string `json:"rate"`
}

func TestExchangeRates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Rates")
	b := e.newTenant(t, "Other rates")
	path := "/v1/orgs/" + a.Org.ID + "/exchange-rates"
	rate := func(date, from, to, r string) map[string]any {
		return map[string]any{"date": date, "from_currency": from, "to_currency": to, "rate": r}
	}

	var x exchangeRate
	e.do(t, http.MethodPut, path, a.Admin.Token, rate("2030-01-01", "EUR", "USD", "1.1000")).want(t, http.StatusOK).decode(t, &x)
	if x != (exchangeRate{"2030-01-01", "EUR", "USD", "1.1"}) {
		t.Errorf("put = %+v", x)
	}
	// The same key replaces the rate.
	e.do(t, http.MethodPut, path, a.Owner.Token, rate("2030-01-01", "EUR", "USD", "1.25")).want(t, http.StatusOK).decode(t, &x)
	e.do(t, http.MethodPut, path, a.Owner.Token, rate("2030-02-01", "EUR", "USD", "1.3")).want(t, http.StatusOK)
	e.do(t, http.MethodPut, path, a.Owner.Token, rate("2030-01-01", "JPY", "EUR", "0.0061")).want(t, http.StatusOK)
	if n := e.count(t, `select count(*) from app.exchange_rates where org_id = $1`, a.Org.ID); n != 3 {
		t.Errorf("%d rates stored, want 3", n)
	}

	// Members read, by pair, latest first, in keyset pages.
	walked := walkPages[exchangeRate](t, e, path+"?limit=2", a.Member.Token, 5)
	want := []exchangeRate{{"2030-01-01", "JPY", "EUR", "0.0061"}, {"2030-02-01", "EUR", "USD", "1.3"}, {"2030-01-01", "EUR", "USD", "1.25"}}
	if len(walked) != 3 || walked[0] != want[0] || walked[1] != want[1] || walked[2] != want[2] {
		t.Errorf("pages = %+v, want %+v", walked, want)
	}
	var pg page[exchangeRate]
	e.do(t, http.MethodGet, path+"?from_currency=JPY", a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 {
		t.Errorf("JPY rates = %+v", pg.Items)
	}

	// A MEMBER cannot write; another tenant neither reads nor writes; bad input names the field.
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPut, path, a.Member.Token, rate("2030-03-01", "EUR", "USD", "9")), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodGet, path, b.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPut, path, b.Owner.Token, rate("2030-03-01", "EUR", "USD", "9")), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPut, path, a.Owner.Token, rate("2030-13-01", "eur", "USD", "0")), api.ProblemValidation,
		"date", "from_currency", "rate")
	wantProblem(t, e.do(t, http.MethodPut, path, a.Owner.Token, rate("2030-03-01", "EUR", "EUR", "1")), api.ProblemValidation, "to_currency")
	wantProblem(t, e.do(t, http.MethodPut, path, a.Owner.Token, rate("2030-03-01", "ABC", "EUR", "1")), api.ProblemValidation, "from_currency")
	wantProblem(t, e.do(t, http.MethodGet, path+"?cursor=nope", a.Owner.Token, nil), api.ProblemValidation, "cursor")
	e.unchanged(t, before, "refused rate requests")
	if n := e.count(t, `select count(*) from app.exchange_rates where org_id = $1`, b.Org.ID); n != 0 {
		t.Errorf("another tenant's request wrote %d rates", n)
	}
	if n := e.count(t, `select count(*) from app.exchange_rates where org_id = $1 and rate_date = '2030-03-01'`, a.Org.ID); n != 0 {
		t.Errorf("refused requests wrote %d rates", n)
	}
}

func TestDeleteExchangeRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Rates gone")
	b := e.newTenant(t, "Rates kept")
	rates := func(ten *tenant) string { return "/v1/orgs/" + ten.Org.ID + "/exchange-rates" }
	for _, ten := range []*tenant{a, b} {
		e.do(t, http.MethodPut, rates(ten), ten.Owner.Token,
			map[string]any{"date": "2030-01-01", "from_currency": "EUR", "to_currency": "USD", "rate": "1.1"}).want(t, http.StatusOK)
	}
	one := rates(a) + "/EUR/USD/2030-01-01"

	// Refusals change nothing: a MEMBER (403), another tenant (404, even for a pair it
	// has itself), no token (401), bad segments (422 naming each).
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodDelete, one, a.Member.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodDelete, one, b.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodDelete, rates(b)+"/EUR/USD/2030-01-01", a.Owner.Token, nil), api.ProblemNotFound)
	wantUnauthorized(t, e.do(t, http.MethodDelete, one, "", nil))
	wantProblem(t, e.do(t, http.MethodDelete, rates(a)+"/eur/US/2030-02-30", a.Owner.Token, nil), api.ProblemValidation,
		"from_currency", "to_currency", "date")
	e.unchanged(t, before, "refused deletes of a rate")

	// An ADMIN deletes it; a second delete finds nothing; the other tenant keeps its own.
	e.do(t, http.MethodDelete, one, a.Admin.Token, nil).want(t, http.StatusNoContent)
	wantProblem(t, e.do(t, http.MethodDelete, one, a.Owner.Token, nil), api.ProblemNotFound)
	if n := e.count(t, `select count(*) from app.exchange_rates where org_id = $1`, a.Org.ID); n != 0 {
		t.Errorf("%d rates left in the tenant, want 0", n)
	}
	if n := e.count(t, `select count(*) from app.exchange_rates where org_id = $1`, b.Org.ID); n != 1 {
		t.Errorf("the other tenant has %d rates, want its 1", n)
	}
	if n := e.count(t, `select count(*) from app.audit_log where org_id = $1 and table_name = 'app.exchange_rates' and action = 'DELETE'`, a.Org.ID); n != 1 {
		t.Errorf("%d audited deletes of the rate, want 1", n)
	}
}
