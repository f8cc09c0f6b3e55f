package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

type currencyTotals struct {
	Currency     string `json:"currency"`
	Income       string `json:"income"`
	Expense      string `json:"expense"`
	Net          string `json:"net"`
	IncomeCount  int    `json:"income_count"`
	ExpenseCount int    `json:"expense_count"`
	Count        int    `json:"count"`
}

type summary struct {
	Currencies []currencyTotals `json:"currencies"`
	Base       *struct {
		Currency     string   `json:"currency"`
		Income       *string  `json:"income"`
		Expense      *string  `json:"expense"`
		Net          *string  `json:"net"`
		MissingRates []string `json:"missing_rates"`
	} `json:"base"`
}

type breakdownItem struct {
	CategoryID string  `json:"category_id"`
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	Currency   string  `json:"currency"`
	Total      string  `json:"total"`
	Count      int     `json:"count"`
	Share      *string `json:"share"`
}

type trendItem struct {
	Period   string `json:"period"`
	Currency string `json:"currency"`
	Income   string `json:"income"`
	Expense  string `json:"expense"`
	Net      string `json:"net"`
	Count    int    `json:"count"`
}

func TestFinanceAnalytics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Figures")
	other := e.newProjectTeam(t, "Nosy")
	sales := e.createCategory(t, pt, "income", "Sales")
	fees := e.createCategory(t, pt, "income", "Fees")
	rent := e.createCategory(t, pt, "expense", "Rent")
	e.createRecord(t, pt, recordBody("income", "100", "EUR", sales.ID, "2030-01-10"))
	e.createRecord(t, pt, recordBody("income", "50", "EUR", fees.ID, "2030-01-20"))
	e.createRecord(t, pt, recordBody("expense", "30", "EUR", rent.ID, "2030-03-05"))
	e.createRecord(t, pt, recordBody("income", "200", "USD", sales.ID, "2030-03-06"))
	gone := e.createRecord(t, pt, recordBody("income", "1000", "EUR", sales.ID, "2030-01-15"))
	e.do(t, http.MethodDelete, pt.financePath("/records/"+gone.ID), pt.Owner.Token, nil).want(t, http.StatusNoContent)
	get := func(u user, rest string, v any) {
		t.Helper()
		e.do(t, http.MethodGet, pt.financePath("/analytics/"+rest), u.Token, nil).want(t, http.StatusOK).decode(t, v)
	}

	var s summary
	get(pt.Member, "summary?from=2030-01-01&to=2030-03-31", &s)
	want := []currencyTotals{
		{"EUR", "150.00", "30.00", "120.00", 2, 1, 3},
		{"USD", "200.00", "0.00", "200.00", 1, 0, 1},
	}
	if len(s.Currencies) != 2 || s.Currencies[0] != want[0] || s.Currencies[1] != want[1] || s.Base != nil {
		t.Errorf("summary = %+v, want %+v", s, want)
	}
	get(pt.Analyst, "summary?to=2030-01-31", &s)
	if len(s.Currencies) != 1 || s.Currencies[0].Income != "150.00" {
		t.Errorf("January summary = %+v", s)
	}

	// In a base currency, at each day's rate (the latest on or before it, or the inverse).
	e.exec(t, `insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate) values
	             ($1, '2030-01-01', 'EUR', 'USD', 2), ($1, '2030-03-06', 'EUR', 'USD', 4)`, pt.Org.ID)
	get(pt.Member, "summary?base=USD", &s)
	// EUR 150 in January at 2, USD 200 as is; the EUR 30 expense of 03-05 still at 2.
	if s.Base == nil || *s.Base.Income != "500.00" || *s.Base.Expense != "60.00" || *s.Base.Net != "440.00" || len(s.Base.MissingRates) != 0 {
		t.Errorf("summary in USD = %s", must(json.Marshal(s.Base)))
	}
	get(pt.Member, "summary?base=EUR", &s)
	if s.Base == nil || *s.Base.Income != "200.00" || *s.Base.Net != "170.00" {
		t.Errorf("summary in EUR (inverse rate) = %s", must(json.Marshal(s.Base)))
	}
	get(pt.Member, "summary?base=GBP", &s)
	if s.Base == nil || s.Base.Income != nil || len(s.Base.MissingRates) != 2 {
		t.Errorf("summary in GBP (no rate) = %+v", s.Base)
	}

	var br struct{ Items []breakdownItem }
	get(pt.Member, "categories?kind=income&from=2030-01-01&to=2030-12-31", &br)
	got := map[string]string{}
	for _, it := range br.Items {
		got[it.Currency+" "+it.Name] = it.Total + " " + *it.Share
	}
	if len(br.Items) != 3 || got["EUR Sales"] != "100.00 0.6667" || got["EUR Fees"] != "50.00 0.3333" || got["USD Sales"] != "200.00 1.0000" {
		t.Errorf("income by category = %+v", got)
	}

	var tr struct{ Items []trendItem }
	get(pt.Member, "trends?interval=month&from=2030-01-01&to=2030-04-30", &tr)
	if len(tr.Items) != 8 {
		t.Fatalf("monthly trend: %d items, want 4 months × 2 currencies: %+v", len(tr.Items), tr.Items)
	}
	if feb := tr.Items[2]; feb != (trendItem{"2030-02-01", "EUR", "0.00", "0.00", "0.00", 0}) {
		t.Errorf("February EUR = %+v, want zeros", feb)
	}
	if mar := tr.Items[4]; mar != (trendItem{"2030-03-01", "EUR", "0.00", "30.00", "-30.00", 1}) {
		t.Errorf("March EUR = %+v", mar)
	}
	get(pt.Member, "trends?interval=week&from=2030-01-01&to=2030-01-31", &tr)
	// Only EUR moved in January; its 5 ISO weeks start on the Monday 2029-12-31.
	if len(tr.Items) != 5 || tr.Items[0].Period != "2029-12-31" || tr.Items[2].Income != "50.00" {
		t.Errorf("weekly trend of January 2030 = %+v", tr.Items)
	}
	// Default: the 12 months up to today, from a first of the month; nothing recorded then.
	var def struct {
		Interval, From, To string
		Items              []trendItem
	}
	get(pt.Member, "trends", &def)
	if def.Interval != "month" || !strings.HasSuffix(def.From, "-01") || def.From >= def.To || len(def.Items) != 0 {
		t.Errorf("default trend = %+v", def)
	}

	var recent struct{ Items []record }
	get(pt.Member, "recent?limit=2", &recent)
	if len(recent.Items) != 2 || recent.Items[0].OccurredOn != "2030-03-06" || recent.Items[1].OccurredOn != "2030-03-05" {
		t.Errorf("recent = %+v", recent.Items)
	}

	// Levels: analytics NONE → 403; outside the project or the tenant → 404.
	blind, _ := e.register(t, "figures-blind", "")
	e.addMember(t, pt.Org.ID, blind, "MEMBER")
	e.do(t, http.MethodPut, pt.membersPath()+"/"+blind.ID, pt.Owner.Token, map[string]any{"role": "VIEWER", "analytics": "NONE"}).want(t, http.StatusOK)
	for _, rest := range []string{"summary", "categories", "trends", "recent"} {
		wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/analytics/"+rest), blind.Token, nil), api.ProblemForbidden)
		wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/analytics/"+rest), pt.Outsider.Token, nil), api.ProblemNotFound)
		r := e.do(t, http.MethodGet, "/v1/orgs/"+other.Org.ID+"/projects/"+pt.Project.ID+"/analytics/"+rest, other.Owner.Token, nil)
		noLeak(t, wantProblemResponse(t, r, api.ProblemNotFound), "200.00", "150.00")
	}
	for _, tc := range []struct{ rest, field string }{
		{"summary?from=2030-13-01", "from"}, {"summary?base=eur", "base"}, {"summary?from=2030-02-01&to=2030-01-01", "to"},
		{"categories?kind=gift", "kind"}, {"trends?interval=year", "interval"}, {"trends?from=2000-01-01&to=2030-01-01", "to"},
		{"recent?limit=51", "limit"},
	} {
		wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/analytics/"+tc.rest), pt.Owner.Token, nil), api.ProblemValidation, tc.field)
	}
}

// The analytics answer what the ledger holds after every kind of change.
func TestFinanceAnalyticsFollowChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Moves")
	sales := e.createCategory(t, pt, "income", "Sales")
	other := e.createCategory(t, pt, "income", "Other")
	rec := e.createRecord(t, pt, recordBody("income", "10", "EUR", sales.ID, "2030-05-01"))
	path := pt.financePath("/records/" + rec.ID)
	e.do(t, http.MethodPatch, path, pt.Owner.Token, map[string]any{"amount": "25", "category_id": other.ID, "occurred_on": "2030-06-01"}).want(t, http.StatusOK)
	var br struct{ Items []breakdownItem }
	e.do(t, http.MethodGet, pt.financePath("/analytics/categories"), pt.Member.Token, nil).want(t, http.StatusOK).decode(t, &br)
	if len(br.Items) != 1 || br.Items[0].CategoryID != other.ID || br.Items[0].Total != "25.00" {
		t.Errorf("after a move: %+v", br.Items)
	}
	e.do(t, http.MethodDelete, path, pt.Owner.Token, nil).want(t, http.StatusNoContent)
	var raw json.RawMessage
	e.do(t, http.MethodGet, pt.financePath("/analytics/categories"), pt.Member.Token, nil).want(t, http.StatusOK).decode(t, &br)
	if len(br.Items) != 0 {
		t.Errorf("after a delete: %+v", br.Items)
	}
	e.do(t, http.MethodPost, path+"/restore", pt.Owner.Token, nil).want(t, http.StatusOK)
	e.do(t, http.MethodGet, pt.financePath("/analytics/summary"), pt.Member.Token, nil).want(t, http.StatusOK).decode(t, &raw)
	var s summary
	_ = json.Unmarshal(raw, &s)
	if len(s.Currencies) != 1 || s.Currencies[0].Income != "25.00" || s.Currencies[0].Count != 1 {
		t.Errorf("after a restore: %s", raw)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
