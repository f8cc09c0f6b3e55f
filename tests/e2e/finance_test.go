package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

type category struct {
	ID        string `json:"id"`
	ProjectID string `json:"project_id"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Archived  bool   `json:"archived"`
}

type record struct {
	ID               string   `json:"id"`
	ProjectID        string   `json:"project_id"`
	Kind             string   `json:"kind"`
	Amount           string   `json:"amount"`
	Currency         string   `json:"currency"`
	CategoryID       string   `json:"category_id"`
	Tags             []string `json:"tags"`
	PaymentSource    string   `json:"payment_source"`
	PaymentReference *string  `json:"payment_reference"`
	OccurredOn       string   `json:"occurred_on"`
	Description      *string  `json:"description"`
	DeletedAt        *string  `json:"deleted_at"`
	Version          int      `json:"version"`
}

func init() {
	// The finance tables count in every snapshot/unchanged check (env_test.go).
	for _, table := range []string{"app.finance_categories", "app.financial_records", "app.finance_idempotency_keys",
		"app.finance_daily_totals", "app.finance_daily_currency_totals", "app.exchange_rates"} {
		snapshotQueries[table] = `select * from ` + table
	}
	// Bodies valid enough to reach authentication in the database (unauth_test.go).
	validBodies["POST /v1/orgs/{org_id}/projects/{project_id}/categories"] = map[string]any{"kind": "income", "name": "Intruder"}
	validBodies["POST /v1/orgs/{org_id}/projects/{project_id}/records"] = recordBody("income", "1.00", "EUR", uuid.NewString(), "2030-01-01")
	validBodies["PATCH /v1/orgs/{org_id}/projects/{project_id}/records/{record_id}"] = map[string]any{"amount": "1.00"}
}

func (pt *projectTeam) financePath(rest string) string {
	return "/v1/orgs/" + pt.Org.ID + "/projects/" + pt.Project.ID + rest
}

func recordBody(kind, amount, currency, categoryID, occurredOn string) map[string]any {
	return map[string]any{"kind": kind, "amount": amount, "currency": currency, "category_id": categoryID,
		"payment_source": "card", "occurred_on": occurredOn}
}

func (e *env) createCategory(t testing.TB, pt *projectTeam, kind, name string) category {
	t.Helper()
	var c category
	e.do(t, http.MethodPost, pt.financePath("/categories"), pt.Owner.Token,
		map[string]any{"kind": kind, "name": name}).want(t, http.StatusCreated).decode(t, &c)
	return c
}

func (e *env) createRecord(t testing.TB, pt *projectTeam, body map[string]any) record {
	t.Helper()
	var rec record
	e.do(t, http.MethodPost, pt.financePath("/records"), pt.Owner.Token, body).want(t, http.StatusCreated).decode(t, &rec)
	return rec
}

func TestFinanceCategories(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Ledger")
	other := e.newProjectTeam(t, "Rival")
	path := pt.financePath("/categories")

	sales := e.createCategory(t, pt, "income", "  Sales ")
	if sales.Name != "Sales" || sales.Kind != "income" || sales.Archived || sales.ProjectID != pt.Project.ID {
		t.Errorf("created category = %+v", sales)
	}
	// The same name is free in the other kind, taken in the same one.
	e.createCategory(t, pt, "expense", "Sales")
	wantProblem(t, e.do(t, http.MethodPost, path, pt.PAdmin.Token, map[string]any{"kind": "income", "name": "sales"}),
		api.ProblemConflict, "name")

	// Finance READ lists (a VIEWER, an ANALYST); finance MANAGE writes.
	var list struct{ Items []category }
	e.do(t, http.MethodGet, path+"?kind=income", pt.Member.Token, nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != sales.ID {
		t.Errorf("viewer's income categories = %+v", list.Items)
	}
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPost, path, pt.Analyst.Token, map[string]any{"kind": "income", "name": "X"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPatch, path+"/"+sales.ID, pt.Member.Token, map[string]any{"name": "X"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPost, path+"/"+sales.ID+"/archive", pt.Analyst.Token, nil), api.ProblemForbidden)
	// Not in the project, or another tenant: 404, never a hint.
	wantProblem(t, e.do(t, http.MethodGet, path, pt.Outsider.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, path, other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, "/v1/orgs/"+other.Org.ID+"/projects/"+pt.Project.ID+"/categories", other.Owner.Token, nil),
		api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPatch, other.financePath("/categories/"+sales.ID), other.Owner.Token, map[string]any{"name": "pwned"}),
		api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, other.financePath("/categories/"+sales.ID+"/archive"), other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, path+"/"+sales.ID+"/archive", other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, path, other.Owner.Token, map[string]any{"kind": "income", "name": "planted"}), api.ProblemNotFound)
	// Bad input names the field.
	wantProblem(t, e.do(t, http.MethodPost, path, pt.Owner.Token, map[string]any{"kind": "gift", "name": " "}), api.ProblemValidation, "kind", "name")
	wantProblem(t, e.do(t, http.MethodPatch, path+"/"+sales.ID, pt.Owner.Token, map[string]any{}), api.ProblemValidation, "body")
	wantProblem(t, e.do(t, http.MethodGet, path+"?archived=yes", pt.Owner.Token, nil), api.ProblemValidation, "archived")
	e.unchanged(t, before, "refused category requests")

	var c category
	e.do(t, http.MethodPatch, path+"/"+sales.ID, pt.PAdmin.Token, map[string]any{"name": "Shop sales"}).want(t, http.StatusOK).decode(t, &c)
	if c.Name != "Shop sales" {
		t.Errorf("renamed = %+v", c)
	}
	e.do(t, http.MethodPost, path+"/"+sales.ID+"/archive", pt.POwner.Token, nil).want(t, http.StatusOK).decode(t, &c)
	if !c.Archived {
		t.Errorf("archived = %+v", c)
	}
	e.do(t, http.MethodGet, path+"?archived=false", pt.Owner.Token, nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Kind != "expense" {
		t.Errorf("live categories = %+v", list.Items)
	}
	// An archived category takes no new record.
	wantProblem(t, e.do(t, http.MethodPost, pt.financePath("/records"), pt.Owner.Token,
		recordBody("income", "5", "EUR", sales.ID, "2030-01-01")), api.ProblemValidation, "category_id")
	e.do(t, http.MethodPatch, path+"/"+sales.ID, pt.Owner.Token, map[string]any{"archived": false}).want(t, http.StatusOK).decode(t, &c)
	if c.Archived {
		t.Errorf("unarchived = %+v", c)
	}
}

func TestFinanceRecordLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Books")
	other := e.newProjectTeam(t, "Thief")
	sales := e.createCategory(t, pt, "income", "Sales")
	rent := e.createCategory(t, pt, "expense", "Rent")
	records := pt.financePath("/records")

	body := recordBody("income", "120.5", "EUR", sales.ID, "2030-03-01")
	body["tags"] = []string{"shop", "q1"}
	body["description"] = "Till of March"
	r := e.do(t, http.MethodPost, records, pt.PAdmin.Token, body).want(t, http.StatusCreated)
	var rec record
	r.decode(t, &rec)
	if rec.Amount != "120.50" || rec.Version != 1 || !slices.Equal(rec.Tags, []string{"shop", "q1"}) || rec.DeletedAt != nil {
		t.Errorf("created record = %+v", rec)
	}
	if r.Header.Get("ETag") != `"1"` {
		t.Errorf("ETag of the created record = %q", r.Header.Get("ETag"))
	}
	one := records + "/" + rec.ID

	// Levels: READ reads, only MANAGE writes; outsiders and other tenants get 404.
	e.do(t, http.MethodGet, one, pt.Member.Token, nil).want(t, http.StatusOK)
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Analyst.Token, body), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPatch, one, pt.Member.Token, map[string]any{"amount": "1"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodDelete, one, pt.Analyst.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPost, one+"/restore", pt.Member.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodGet, one, pt.Outsider.Token, nil), api.ProblemNotFound)
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, one}, {http.MethodDelete, one},
		{http.MethodGet, other.financePath("/records/" + rec.ID)}, {http.MethodDelete, other.financePath("/records/" + rec.ID)},
		{http.MethodPost, other.financePath("/records/" + rec.ID + "/restore")}, {http.MethodGet, records},
	} {
		noLeak(t, wantProblemResponse(t, e.do(t, req.method, req.path, other.Owner.Token, nil), api.ProblemNotFound), rec.ID, "Till of March")
	}
	wantProblem(t, e.do(t, http.MethodPost, records, other.Owner.Token, body), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPatch, one, other.Owner.Token, map[string]any{"amount": "1"}), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPatch, other.financePath("/records/"+rec.ID), other.Owner.Token, map[string]any{"amount": "1"}), api.ProblemNotFound)
	// Bad input: each field named; nothing written.
	bad := recordBody("gift", "0", "EUR", "nope", "2030-02-30")
	bad["tags"] = []string{"Bad Tag"}
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, bad), api.ProblemValidation,
		"kind", "amount", "category_id", "occurred_on", "tags")
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, recordBody("income", "1", "ABC", sales.ID, "2030-01-01")),
		api.ProblemValidation, "currency")
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, recordBody("expense", "1", "EUR", sales.ID, "2030-01-01")),
		api.ProblemValidation, "category_id")
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, recordBody("income", "1", "EUR", uuid.NewString(), "2030-01-01")),
		api.ProblemValidation, "category_id")
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, map[string]any{"kind": "income"}),
		api.ProblemValidation, "amount", "currency", "category_id", "payment_source", "occurred_on")
	e.unchanged(t, before, "refused record requests")

	// GET sends the version as ETag; PATCH with a stale If-Match is 412.
	g := e.do(t, http.MethodGet, one, pt.Owner.Token, nil).want(t, http.StatusOK)
	etag := g.Header.Get("ETag")
	p := e.do(t, http.MethodPatch, one, pt.Owner.Token, map[string]any{"amount": "99.99", "kind": "expense", "category_id": rent.ID},
		withHeader("If-Match", etag)).want(t, http.StatusOK)
	p.decode(t, &rec)
	if rec.Amount != "99.99" || rec.Kind != "expense" || rec.CategoryID != rent.ID || rec.Version != 2 || p.Header.Get("ETag") != `"2"` {
		t.Errorf("patched = %+v, ETag %q", rec, p.Header.Get("ETag"))
	}
	wantProblem(t, e.do(t, http.MethodPatch, one, pt.Owner.Token, map[string]any{"amount": "1"}, withHeader("If-Match", etag)),
		api.ProblemPreconditionFailed)
	wantProblem(t, e.do(t, http.MethodPatch, one, pt.Owner.Token, map[string]any{"amount": "1"}, withHeader("If-Match", "soon")),
		api.ProblemValidation, "If-Match")
	wantProblem(t, e.do(t, http.MethodPatch, one, pt.Owner.Token, map[string]any{"kind": "income"}), api.ProblemValidation, "category_id")

	// Soft delete: gone for READ, listed with deleted=true for MANAGE only, restorable.
	e.do(t, http.MethodDelete, one, pt.Owner.Token, nil).want(t, http.StatusNoContent)
	wantProblem(t, e.do(t, http.MethodGet, one, pt.Member.Token, nil), api.ProblemNotFound)
	var pg page[record]
	e.do(t, http.MethodGet, records, pt.Owner.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 0 {
		t.Errorf("live list after delete = %+v", pg.Items)
	}
	e.do(t, http.MethodGet, records+"?deleted=true", pt.PAdmin.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != rec.ID || pg.Items[0].DeletedAt == nil {
		t.Errorf("deleted list = %+v", pg.Items)
	}
	wantProblem(t, e.do(t, http.MethodGet, records+"?deleted=true", pt.Member.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPatch, one, pt.Owner.Token, map[string]any{"amount": "1"}), api.ProblemConflict)
	e.do(t, http.MethodPost, one+"/restore", pt.Owner.Token, nil).want(t, http.StatusOK).decode(t, &rec)
	if rec.DeletedAt != nil || rec.Version != 4 {
		t.Errorf("restored = %+v", rec)
	}
	e.do(t, http.MethodGet, one, pt.Member.Token, nil).want(t, http.StatusOK)
}

// wantProblemResponse is wantProblem returning the response, for noLeak.
func wantProblemResponse(t testing.TB, r *response, kind api.ProblemKind) *response {
	t.Helper()
	wantProblem(t, r, kind)
	return r
}

func TestFinanceIdempotentCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Retry")
	sales := e.createCategory(t, pt, "income", "Sales")
	records := pt.financePath("/records")
	body := recordBody("income", "10", "EUR", sales.ID, "2030-01-01")
	key := withHeader("Idempotency-Key", "order-42")

	first := e.do(t, http.MethodPost, records, pt.Owner.Token, body, key).want(t, http.StatusCreated)
	again := e.do(t, http.MethodPost, records, pt.Owner.Token, body, key).want(t, http.StatusCreated)
	if string(first.Body) != string(again.Body) {
		t.Errorf("a retry answered differently:\n%s\n%s", first.Body, again.Body)
	}
	if n := e.count(t, `select count(*) from app.financial_records where project_id = $1`, pt.Project.ID); n != 1 {
		t.Errorf("%d records after a retried POST, want 1", n)
	}
	// Another body under the same key is refused; another user's same key is theirs.
	other := recordBody("income", "11", "EUR", sales.ID, "2030-01-01")
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, other, key), api.ProblemValidation, "Idempotency-Key")
	e.do(t, http.MethodPost, records, pt.PAdmin.Token, body, key).want(t, http.StatusCreated)
	wantProblem(t, e.do(t, http.MethodPost, records, pt.Owner.Token, body, withHeader("Idempotency-Key", "with space")),
		api.ProblemValidation, "Idempotency-Key")

	// A key is remembered for 24 hours; then it starts afresh.
	e.exec(t, `update app.finance_idempotency_keys set created_at = now() - interval '25 hours' where key = 'order-42' and user_id = $1`, pt.Owner.ID)
	e.do(t, http.MethodPost, records, pt.Owner.Token, other, key).want(t, http.StatusCreated)
	e.do(t, http.MethodPost, records, pt.Owner.Token, body, key).want(t, http.StatusUnprocessableEntity)

	// An expired key is forgotten by the caller's next keyed POST in the project; a live
	// key, and another user's expired key, stay.
	e.exec(t, `update app.finance_idempotency_keys set created_at = now() - interval '25 hours' where key = 'order-42'`)
	e.do(t, http.MethodPost, records, pt.Owner.Token, recordBody("income", "12", "EUR", sales.ID, "2030-01-01"), withHeader("Idempotency-Key", "order-43")).
		want(t, http.StatusCreated)
	keys := func(user string) int {
		return e.count(t, `select count(*) from app.finance_idempotency_keys where user_id = $1`, user)
	}
	if owner, padmin := keys(pt.Owner.ID), keys(pt.PAdmin.ID); owner != 1 || padmin != 1 {
		t.Errorf("after a keyed POST: the owner holds %d keys (want 1: order-43), the project admin %d (want 1: theirs, expired, untouched)", owner, padmin)
	}

	// Concurrent retries: one record.
	var reqs []*http.Request
	for range 8 {
		reqs = append(reqs, e.newRequest(t, http.MethodPost, records, pt.Owner.Token, body, withHeader("Idempotency-Key", "burst")))
	}
	if got := e.fireTogether(t, reqs); got[http.StatusCreated] != 8 {
		t.Errorf("concurrent retries answered %v, want 8 × 201", got)
	}
	if n := e.count(t, `select count(*) from app.financial_records where project_id = $1`, pt.Project.ID); n != 5 {
		t.Errorf("%d records, want 5", n)
	}
}

func TestFinanceRecordFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Filters")
	sales := e.createCategory(t, pt, "income", "Sales")
	rent := e.createCategory(t, pt, "expense", "Rent")
	mk := func(kind, amount, currency, cat, day, source, desc string, tags ...string) string {
		b := recordBody(kind, amount, currency, cat, day)
		b["payment_source"] = source
		b["description"] = desc
		b["tags"] = tags
		return e.createRecord(t, pt, b).ID
	}
	a := mk("income", "10", "EUR", sales.ID, "2030-01-05", "card", "Coffee beans", "shop", "food")
	b := mk("income", "20", "USD", sales.ID, "2030-01-06", "cash", "Tea 100%", "shop")
	c := mk("expense", "300", "EUR", rent.ID, "2030-02-01", "bank_transfer", "February rent", "office")
	d := mk("expense", "300", "EUR", rent.ID, "2030-02-01", "bank_transfer", "February rent twin", "office", "food")

	list := func(query string) []string {
		t.Helper()
		var pg page[record]
		e.do(t, http.MethodGet, pt.financePath("/records?"+query), pt.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
		var ids []string
		for _, r := range pg.Items {
			ids = append(ids, r.ID)
		}
		return ids
	}
	same := func(d2, c2 string) []string { // same day: id desc
		if d2 > c2 {
			return []string{d2, c2}
		}
		return []string{c2, d2}
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", append(same(d, c), b, a)},
		{"kind=income", []string{b, a}},
		{"category_id=" + rent.ID, same(d, c)},
		{"tags_any=food,office", append(same(d, c), a)},
		{"tags_all=shop,food", []string{a}},
		{"currency=USD", []string{b}},
		{"payment_source=cash", []string{b}},
		{"from=2030-01-06&to=2030-01-31", []string{b}},
		// "to" is inclusive: both records of its day (the walk starts after that day).
		{"to=2030-02-01", append(same(d, c), b, a)},
		{"to=2030-01-06", []string{b, a}},
		{"from=2030-02-01&to=2030-02-01", same(d, c)},
		{"min_amount=15&max_amount=20", []string{b}},
		{"q=" + url.QueryEscape("100%"), []string{b}},
		{"q=RENT+TWIN", []string{d}},
	} {
		if got := list(tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("records?%s = %v, want %v", tc.query, got, tc.want)
		}
	}

	// A keyset page after a cursor stays within "to", and "to" after the cursor changes nothing.
	var first page[record]
	e.do(t, http.MethodGet, pt.financePath("/records?limit=1&to=2030-01-31"), pt.Member.Token, nil).want(t, http.StatusOK).decode(t, &first)
	if len(first.Items) != 1 || first.Items[0].ID != b || first.NextCursor == nil {
		t.Fatalf("first page up to 2030-01-31: %+v", first)
	}
	if got := list("limit=5&to=2030-12-31&cursor=" + url.QueryEscape(*first.NextCursor)); !slices.Equal(got, []string{a}) {
		t.Errorf("after %s up to 2030-12-31: %v, want %v", *first.NextCursor, got, []string{a})
	}

	// Keyset pages of 1 walk the whole list in order, each record once.
	var walked []string
	for _, r := range walkPages[record](t, e, pt.financePath("/records?limit=1"), pt.Owner.Token, 10) {
		walked = append(walked, r.ID)
	}
	if want := list(""); !slices.Equal(walked, want) {
		t.Errorf("pages walked %v, want %v", walked, want)
	}

	for _, tc := range []struct{ query, field string }{
		{"limit=201", "limit"}, {"cursor=" + uuid.NewString(), "cursor"}, {"kind=gift", "kind"},
		{"tags_any=A", "tags_any"}, {"currency=eur", "currency"}, {"payment_source=barter", "payment_source"},
		{"from=2030-02-01&to=2030-01-01", "to"}, {"min_amount=5&max_amount=1", "max_amount"},
		{"max_amount=-1", "max_amount"}, {"q=+", "q"}, {"deleted=yes", "deleted"}, {"category_id=1", "category_id"},
	} {
		wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/records?"+tc.query), pt.Owner.Token, nil), api.ProblemValidation, tc.field)
	}
}

// The plan's monthly record limit answers 402 and writes nothing (the rollup included).
func TestFinanceRecordPlanLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Capped")
	sales := e.createCategory(t, pt, "income", "Sales")
	e.exec(t, `update platform.plan_limits set max_count = 2 where plan_code = 'free' and kind = 'financial_records_per_month'`)
	for range 2 {
		e.createRecord(t, pt, recordBody("income", "1", "EUR", sales.ID, "2030-01-01"))
	}
	p := wantProblem(t, e.do(t, http.MethodPost, pt.financePath("/records"), pt.Owner.Token,
		recordBody("income", "1", "EUR", sales.ID, "2030-01-01")), api.ProblemPlanLimitReached)
	if !strings.Contains(p.Detail, "2 financial records this month") {
		t.Errorf("the 402 does not say which limit: %q", p.Detail)
	}
	if n := e.count(t, `select coalesce(sum(record_count), 0)::int from app.finance_daily_totals where project_id = $1`, pt.Project.ID); n != 2 {
		t.Errorf("rollup counts %d records, want 2", n)
	}
}

// walkPages follows next_cursor from path (whose query names the limit) to the last
// page, at most max pages, and returns every item in order.
func walkPages[T any](t testing.TB, e *env, path, tok string, max int) []T {
	t.Helper()
	var items []T
	cursor := ""
	for range max {
		var pg page[T]
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		e.do(t, http.MethodGet, p, tok, nil).want(t, http.StatusOK).decode(t, &pg)
		items = append(items, pg.Items...)
		if pg.NextCursor == nil {
			return items
		}
		cursor = *pg.NextCursor
	}
	t.Fatalf("%s: more than %d pages", path, max)
	return nil
}

// Deleting a project, or the whole organization, takes its ledger, keys, rates and
// rollups with it, whatever order the cascades run in.
func TestFinanceGoesWithItsProjectAndOrganization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, whole := range []bool{false, true} {
		pt := e.newProjectTeam(t, "Doomed")
		sales := e.createCategory(t, pt, "income", "Sales")
		rent := e.createCategory(t, pt, "expense", "Rent")
		for i, by := range []user{pt.Owner, pt.PAdmin, pt.POwner} {
			b := recordBody("income", "10", "EUR", sales.ID, "2030-01-0"+strconv.Itoa(i+1))
			if i == 1 {
				b = recordBody("expense", "5", "USD", rent.ID, "2030-01-02")
			}
			e.do(t, http.MethodPost, pt.financePath("/records"), by.Token, b, withHeader("Idempotency-Key", "k"+strconv.Itoa(i))).
				want(t, http.StatusCreated)
		}
		e.do(t, http.MethodPut, "/v1/orgs/"+pt.Org.ID+"/exchange-rates", pt.Owner.Token,
			map[string]any{"date": "2030-01-01", "from_currency": "USD", "to_currency": "EUR", "rate": "0.9"}).want(t, http.StatusOK)
		if whole {
			e.deleteOrganization(t, pt.Owner, pt.Org.ID)
			e.purgeOrganization(t, pt.Org.ID)
		} else {
			e.do(t, http.MethodDelete, "/v1/orgs/"+pt.Org.ID+"/projects/"+pt.Project.ID, pt.Admin.Token, nil).want(t, http.StatusNoContent)
		}
		for _, table := range []string{"financial_records", "finance_categories", "finance_idempotency_keys",
			"finance_daily_totals", "finance_daily_currency_totals"} {
			if n := e.count(t, `select count(*) from app.`+table+` where project_id = $1`, pt.Project.ID); n != 0 {
				t.Errorf("whole org %v: %d rows left in app.%s", whole, n, table)
			}
		}
		if n := e.count(t, `select count(*) from app.exchange_rates where org_id = $1`, pt.Org.ID); whole && n != 0 {
			t.Errorf("%d exchange rates left after the organization", n)
		}
	}
}
