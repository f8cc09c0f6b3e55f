package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/inprocess"
	"github.com/rowguard/rowguard/internal/testdb"
)

// seed-demo on a fresh database, then the demo as its users see it over real HTTP, then
// a second run that finds the demo and writes nothing.
func TestSeedDemo(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	setSigningKey(t)
	t.Setenv("DATABASE_URL", db.AppURL) // the serving role, exactly as serve gets it
	t.Setenv("ROWGUARD_PASSWORD_MEMORY_KIB", "8192")
	t.Setenv("ROWGUARD_PASSWORD_ITERATIONS", "1")
	today := time.Now().UTC()
	demoClock = func() time.Time { return today }
	t.Cleanup(func() { demoClock = time.Now })

	const password = "a demo password for tests"
	code, out, stderr := runArgs(t, "seed-demo", "--password", password)
	if code != 0 {
		t.Fatalf("seed-demo: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"Password of every account: " + password + "   (--password)",
		"analyst@acme.example     acme-demo     MEMBER            Storefront: ANALYST (finance READ, analytics MANAGE)",
		"invited@acme.example     acme-demo     MEMBER (invited)  Consulting: VIEWER (finance READ, analytics READ); invitation pending",
		"analyst@globex.example   globex-demo   MEMBER            Research: ANALYST (finance NONE, analytics MANAGE)",
		`-d '{"email":"analyst@acme.example","password":"` + password + `"}'`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}

	srv, err := inprocess.Start(api.Options{Pool: db.AppPool(t), Logger: slog.New(slog.DiscardHandler)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := &demoHTTP{t: t, srv: srv}
	login := func(email string) string {
		var res struct {
			AccessToken string `json:"access_token"`
		}
		h.want("POST", "/v1/auth/login", "", map[string]any{"email": email, "password": password}, http.StatusOK, &res)
		return res.AccessToken
	}
	owner, analyst, viewer := login("owner@acme.example"), login("analyst@acme.example"), login("viewer@acme.example")
	globexOwner, globexAnalyst := login("owner@globex.example"), login("analyst@globex.example")

	type item struct {
		ID, Name, Slug, Status, Email string
	}
	var orgs struct{ Items []item }
	h.want("GET", "/v1/orgs", owner, nil, http.StatusOK, &orgs)
	if len(orgs.Items) != 1 || orgs.Items[0].Slug != "acme-demo" {
		t.Fatalf("owner@acme.example's organizations: %+v", orgs.Items)
	}
	acme := "/v1/orgs/" + orgs.Items[0].ID
	h.want("GET", "/v1/orgs", globexOwner, nil, http.StatusOK, &orgs)
	if len(orgs.Items) != 1 || orgs.Items[0].Slug != "globex-demo" {
		t.Fatalf("owner@globex.example's organizations: %+v", orgs.Items)
	}
	globex := "/v1/orgs/" + orgs.Items[0].ID

	// Projects: the owner sees both; the analyst, an org MEMBER, only Storefront.
	var projects struct{ Items []item }
	h.want("GET", acme+"/projects", owner, nil, http.StatusOK, &projects)
	ids := map[string]string{}
	for _, p := range projects.Items {
		ids[p.Name] = p.ID
	}
	if len(ids) != 2 || ids["Storefront"] == "" || ids["Consulting"] == "" {
		t.Fatalf("acme-demo's projects: %+v", projects.Items)
	}
	h.want("GET", acme+"/projects", analyst, nil, http.StatusOK, &projects)
	if len(projects.Items) != 1 || projects.Items[0].ID != ids["Storefront"] {
		t.Errorf("analyst@acme.example's projects: %+v, want Storefront only", projects.Items)
	}
	h.want("GET", acme+"/projects/"+ids["Consulting"], analyst, nil, http.StatusNotFound, nil)
	storefront := acme + "/projects/" + ids["Storefront"]
	for _, want := range []string{acme[len("/v1/orgs/"):], storefront, globex} {
		if !strings.Contains(out, want) {
			t.Errorf("the curl lines do not name %s:\n%s", want, out)
		}
	}

	// The ledger: exactly the plan's records, and the summary adds them up per currency.
	plan := &demoOrgs[0].projects[0]
	wantRecords := plan.records(today)
	var records struct{ Items []json.RawMessage }
	h.want("GET", storefront+"/records?limit=200", analyst, nil, http.StatusOK, &records)
	if len(records.Items) != len(wantRecords) || len(wantRecords) < 80 {
		t.Errorf("Storefront holds %d records, the plan %d", len(records.Items), len(wantRecords))
	}
	type totals struct {
		Currency, Income, Expense string
		IncomeCount               int `json:"income_count"`
		ExpenseCount              int `json:"expense_count"`
	}
	sums := map[string]*totals{}
	cents := map[string][2]int64{}
	for _, r := range wantRecords {
		if sums[r.Currency] == nil {
			sums[r.Currency] = &totals{Currency: r.Currency}
		}
		var whole, frac int64
		fmt.Sscanf(r.Amount, "%d.%d", &whole, &frac)
		c := cents[r.Currency]
		if r.Kind == "income" {
			c[0] += whole*100 + frac
			sums[r.Currency].IncomeCount++
		} else {
			c[1] += whole*100 + frac
			sums[r.Currency].ExpenseCount++
		}
		cents[r.Currency] = c
	}
	for cur, c := range cents {
		sums[cur].Income = fmt.Sprintf("%d.%02d", c[0]/100, c[0]%100)
		sums[cur].Expense = fmt.Sprintf("%d.%02d", c[1]/100, c[1]%100)
	}
	var summary struct {
		Currencies []totals
		Base       struct {
			Currency     string
			Income, Net  *string
			MissingRates []string `json:"missing_rates"`
		}
	}
	h.want("GET", storefront+"/analytics/summary?base=EUR", analyst, nil, http.StatusOK, &summary)
	if len(summary.Currencies) != 2 || len(sums) != 2 {
		t.Errorf("summary currencies %+v, want EUR and USD", summary.Currencies)
	}
	for _, got := range summary.Currencies {
		if want := sums[got.Currency]; want == nil || got != *want {
			t.Errorf("summary in %s: %+v, want %+v", got.Currency, got, want)
		}
	}
	if b := summary.Base; b.Currency != "EUR" || b.Income == nil || b.Net == nil || len(b.MissingRates) != 0 {
		t.Errorf("summary in EUR: %+v (every day must have a USD→EUR rate)", b)
	}
	var trends struct {
		Items []struct {
			Period, Currency string
			Count            int
		}
	}
	h.want("GET", storefront+"/analytics/trends", analyst, nil, http.StatusOK, &trends)
	periods := map[string]bool{}
	for _, it := range trends.Items {
		if it.Count > 0 {
			periods[it.Period] = true
		}
	}
	if len(periods) != 12 {
		t.Errorf("trends: records in %d of the last 12 months, want every month: %+v", len(periods), trends.Items)
	}
	var breakdown struct{ Items []item }
	h.want("GET", storefront+"/analytics/categories?kind=expense", analyst, nil, http.StatusOK, &breakdown)
	if len(breakdown.Items) < 4 {
		t.Errorf("expense categories: %+v", breakdown.Items)
	}

	// Roles: a VIEWER reads but does not write; finance NONE hides the ledger but not
	// the analytics.
	var categories struct{ Items []item }
	h.want("GET", storefront+"/categories?kind=expense", viewer, nil, http.StatusOK, &categories)
	if len(categories.Items) == 0 {
		t.Fatal("Storefront has no expense category")
	}
	h.want("POST", storefront+"/records", viewer, map[string]any{
		"kind": "expense", "amount": "1.00", "currency": "EUR", "category_id": categories.Items[0].ID,
		"occurred_on": today.Format(time.DateOnly), "payment_source": "cash"}, http.StatusForbidden, nil)
	h.want("GET", storefront+"/records?limit=1", viewer, nil, http.StatusOK, nil)
	h.want("GET", globex+"/projects", globexAnalyst, nil, http.StatusOK, &projects)
	if len(projects.Items) != 1 {
		t.Fatalf("analyst@globex.example's projects: %+v", projects.Items)
	}
	research := globex + "/projects/" + projects.Items[0].ID
	h.want("GET", research+"/analytics/summary", globexAnalyst, nil, http.StatusOK, nil)
	h.want("GET", research+"/records", globexAnalyst, nil, http.StatusForbidden, nil)

	// Tenants: org B's owner gets 404 for every id of org A, and the other way round.
	for _, path := range []string{acme, acme + "/projects", storefront, storefront + "/records", storefront + "/analytics/summary", acme + "/bookings"} {
		h.want("GET", path, globexOwner, nil, http.StatusNotFound, nil)
	}
	h.want("GET", research, owner, nil, http.StatusNotFound, nil)

	// Bookings in every status; one pending invitation.
	var bookings struct{ Items []item }
	h.want("GET", acme+"/bookings", analyst, nil, http.StatusOK, &bookings)
	var statuses []string
	for _, b := range bookings.Items {
		statuses = append(statuses, b.Status)
	}
	slices.Sort(statuses)
	if got := strings.Join(statuses, ","); got != "cancelled,completed,completed,confirmed,no_show,pending" {
		t.Errorf("acme-demo's bookings: %s", got)
	}
	var invitations struct{ Items []item }
	h.want("GET", acme+"/invitations?status=pending", owner, nil, http.StatusOK, &invitations)
	if len(invitations.Items) != 1 || invitations.Items[0].Email != "invited@acme.example" {
		t.Errorf("pending invitations: %+v", invitations.Items)
	}

	// A second run (no --password: DATABASE_URL would get a random one) finds the demo
	// and writes nothing.
	admin := db.AdminPool(t)
	before := rowCounts(t, admin)
	code, out, stderr = runArgs(t, "seed-demo")
	if code != 0 || !strings.Contains(out, "the demo is already there (owner@acme.example exists): nothing was changed") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, stderr)
	}
	if after := rowCounts(t, admin); !maps.Equal(before, after) {
		for table, n := range after {
			if before[table] != n {
				t.Errorf("second run: %s went from %d to %d rows", table, before[table], n)
			}
		}
	}
	if before["app.financial_records"] < 100 || before["app.bookings"] != 8 || before["auth.users"] != 8 {
		t.Errorf("rows after the first run: %v", before)
	}
}

// A step that fails stops the run with a non-zero exit naming the step, and says that
// the database now holds part of the demo.
func TestSeedDemoNamesTheFailedStep(t *testing.T) {
	db := testdb.New(t)
	clearEnv(t)
	setSigningKey(t)
	t.Setenv("DATABASE_URL", db.AppURL)
	t.Setenv("ROWGUARD_PASSWORD_MEMORY_KIB", "8192")
	t.Setenv("ROWGUARD_PASSWORD_ITERATIONS", "1")
	srv, err := inprocess.Start(api.Options{Pool: db.AppPool(t), Logger: slog.New(slog.DiscardHandler)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Someone else already holds the second organization's slug.
	squatter, err := srv.SignUp(context.Background(), "squatter@example.com", "Squatters")
	if err != nil {
		t.Fatal(err)
	}
	(&demoHTTP{t: t, srv: srv}).want("POST", "/v1/orgs", squatter.Token,
		map[string]any{"name": "Globex", "slug": "globex-demo"}, http.StatusCreated, nil)

	code, out, stderr := runArgs(t, "seed-demo", "--password", "a demo password for tests")
	if code != 1 || !strings.Contains(stderr, `seed-demo: step "create organization globex-demo" failed: POST /v1/orgs answered 409`) ||
		!strings.Contains(stderr, "the database now holds part of the demo") || strings.Contains(out, "The demo is ready") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
}

// demoHTTP asserts answers of the in-process API.
type demoHTTP struct {
	t   *testing.T
	srv *inprocess.Server
}

func (h *demoHTTP) want(method, path, tok string, body any, status int, out any) {
	h.t.Helper()
	got, data, _, err := h.srv.Call(context.Background(), method, path, tok, "", body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	if got != status {
		h.t.Fatalf("%s %s: %d, want %d: %s", method, path, got, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
}

// rowCounts counts the rows of every table of the application's schemas (superuser:
// no row-level security).
func rowCounts(t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_catalog.pg_tables
		 where schemaname in ('auth', 'app', 'platform', 'api') order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 20 {
		t.Fatalf("tables %v: %v", tables, err)
	}
	counts := map[string]int64{}
	for _, table := range tables {
		var n int64
		if err := pool.QueryRow(context.Background(), "select count(*) from "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

func TestSeedDemoCommandLine(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{{"seed-demo", "extra"}, {"seed-demo", "--password", "short"}, {"seed-demo", "--bogus"}} {
		if code, _, _ := runArgs(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if pw, _, _ := demoPassword("", true); pw != demoDevPassword {
		t.Errorf("development database: password %q", pw)
	}
	if pw, _, _ := demoPassword("given password", false); pw != "given password" {
		t.Errorf("--password: %q", pw)
	}
	a, origin, _ := demoPassword("", false)
	b, _, _ := demoPassword("", false)
	if len(a) < 20 || a == b || a == demoDevPassword || !strings.Contains(origin, "generated") {
		t.Errorf("DATABASE_URL without --password: %q and %q (%s)", a, b, origin)
	}
}

// docs/demo.md's table of the demo accounts names exactly the accounts of demoOrgs,
// and the README's short version gives the development password.
func TestDemoDocListsTheDemoAccounts(t *testing.T) {
	doc, err := os.ReadFile("../../docs/demo.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	var inDoc, inPlan []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+@[^`]+)` \\|").FindAllStringSubmatch(section, -1) {
		inDoc = append(inDoc, m[1])
	}
	for _, o := range demoOrgs {
		inPlan = append(inPlan, o.owner)
		for _, m := range o.members {
			inPlan = append(inPlan, m.email)
		}
	}
	if !slices.Equal(inDoc, inPlan) {
		t.Errorf("docs/demo.md's demo accounts %v, seed-demo's %v", inDoc, inPlan)
	}
	if !strings.Contains(section, "`"+demoDevPassword+"`") {
		t.Errorf("docs/demo.md does not give the development password %q", demoDevPassword)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "`"+demoDevPassword+"`") {
		t.Errorf("README does not give the development password %q", demoDevPassword)
	}
}
