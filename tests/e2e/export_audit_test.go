package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// exportEntries are the EXPORT entries of orgID's audit trail, oldest first.
func (e *env) exportEntries(t testing.TB, orgID string) []auditEntry {
	t.Helper()
	var out []auditEntry
	rows, err := e.admin.Query(context.Background(), `select table_name, row_id, actor_user_id::text, new_values
	   from app.audit_log where org_id = $1 and action = 'EXPORT' order by id`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a auditEntry
		if err := rows.Scan(&a.Table, &a.RowID, &a.ActorUserID, &a.New); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantExportEntry checks that the trail of orgID gained exactly one EXPORT entry since
// it held before entries: by who, of kind, on table/row.
func (e *env) wantExportEntry(t testing.TB, orgID string, before int, who user, kind, table, row string) auditEntry {
	t.Helper()
	got := e.exportEntries(t, orgID)
	if len(got) != before+1 {
		t.Fatalf("%s: %d export entries, want %d", kind, len(got), before+1)
	}
	a := got[len(got)-1]
	if a.Table != table || a.RowID == nil || *a.RowID != row || a.ActorUserID == nil || *a.ActorUserID != who.ID || a.New["export"] != kind {
		t.Errorf("%s: entry %+v, want %s %s by %s", kind, a, table, row, who.ID)
	}
	return a
}

// Issue 18: every export is on the organization's audit trail, one entry each, naming
// who exported what; refused exports leave none.
func TestExportsAreAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Audited exports")
	rival := e.newTenant(t, "Audited rival")
	cat := e.createCategory(t, pt, "income", "Sales")
	e.createRecord(t, pt, recordBody("income", "10.00", "EUR", cat.ID, "2030-01-01"))
	org := pt.Org.ID

	// The organization's archive: the OWNER, once; ADMIN 403, another tenant 404: nothing.
	n := len(e.exportEntries(t, org))
	e.do(t, http.MethodPost, "/v1/orgs/"+org+"/export", pt.Owner.Token, nil).want(t, http.StatusOK)
	e.wantExportEntry(t, org, n, pt.Owner, "organization", "app.organizations", org)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+org+"/export", pt.Admin.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+org+"/export", rival.Owner.Token, nil), api.ProblemNotFound)

	// The records as CSV: one entry naming the project and the query; the JSON list none.
	n = len(e.exportEntries(t, org))
	readCSV(t, e.do(t, http.MethodGet, pt.financePath("/records?format=csv&kind=income"), pt.Analyst.Token, nil), "records")
	a := e.wantExportEntry(t, org, n, pt.Analyst, "records", "app.projects", pt.Project.ID)
	if q, _ := a.New["query"].(map[string]any); q == nil || q["kind"] == nil || a.New["format"] != "csv" {
		t.Errorf("the entry does not say what was asked: %v", a.New)
	}
	e.do(t, http.MethodGet, pt.financePath("/records"), pt.Analyst.Token, nil).want(t, http.StatusOK)
	// Refused: soft-deleted records need finance MANAGE (403), an outsider of the project
	// (404), another tenant (404), bad input (422).
	wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/records?format=csv&deleted=true"), pt.Analyst.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/records?format=csv"), pt.Outsider.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/records?format=csv"), rival.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, pt.financePath("/records?format=csv&kind=gift"), pt.Analyst.Token, nil), api.ProblemValidation, "kind")
	if got := len(e.exportEntries(t, org)); got != n+1 {
		t.Errorf("refused exports left entries: %d, want %d", got, n+1)
	}
	readCSV(t, e.do(t, http.MethodGet, pt.financePath("/records?format=csv&deleted=true"), pt.Owner.Token, nil), "records")
	e.wantExportEntry(t, org, n+1, pt.Owner, "records.deleted", "app.projects", pt.Project.ID)

	// An analytics answer as CSV (by Accept): one entry; as JSON: none.
	n = len(e.exportEntries(t, org))
	readCSV(t, e.do(t, http.MethodGet, pt.financePath("/analytics/summary"), pt.Analyst.Token, nil, withHeader("Accept", "text/csv")), "summary")
	e.wantExportEntry(t, org, n, pt.Analyst, "analytics.summary", "app.projects", pt.Project.ID)
	e.do(t, http.MethodGet, pt.financePath("/analytics/summary"), pt.Analyst.Token, nil).want(t, http.StatusOK)
	if got := len(e.exportEntries(t, org)); got != n+1 {
		t.Errorf("a JSON answer left an export entry")
	}

	// OWNER and ADMIN read them in the trail, filtered by action.
	var p page[auditEntry]
	e.do(t, http.MethodGet, "/v1/orgs/"+org+"/audit?action=EXPORT", pt.Admin.Token, nil).want(t, http.StatusOK).decode(t, &p)
	if len(p.Items) != len(e.exportEntries(t, org)) {
		t.Errorf("GET /audit?action=EXPORT lists %d entries, want %d", len(p.Items), len(e.exportEntries(t, org)))
	}
}

// HEAD on a CSV export answers GET's status and headers from the permission check
// alone: the export does not run (the ledger is locked meanwhile: an export would wait
// for the lock) and nothing is written to the trail.
func TestHeadOnCSVExportRunsNoExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Head export")
	cat := e.createCategory(t, pt, "income", "Sales")
	e.createRecord(t, pt, recordBody("income", "10.00", "EUR", cat.ID, "2030-01-01"))
	org := pt.Org.ID
	get := e.do(t, http.MethodGet, pt.financePath("/records?format=csv"), pt.Analyst.Token, nil)
	readCSV(t, get, "records")
	n := len(e.exportEntries(t, org))

	// Nothing may read the ledger until the HEADs are answered.
	ctx := context.Background()
	tx, err := e.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `lock table app.financial_records, app.finance_daily_totals, app.finance_daily_currency_totals in access exclusive mode`); err != nil {
		t.Fatal(err)
	}
	head := func(path string, tok string, opts ...reqOption) *response {
		t.Helper()
		// A generous bound: an export would wait for the lock until the end of its own.
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		r, err := e.send(e.newRequest(t, http.MethodHead, path, tok, nil, opts...).WithContext(rctx))
		if err != nil {
			t.Fatalf("HEAD %s: %v (did it run the export?)", path, err)
		}
		return r
	}
	for _, c := range []struct {
		path string
		opts []reqOption
		file string
	}{
		{pt.financePath("/records?format=csv"), nil, "records-"},
		{pt.financePath("/records"), []reqOption{withHeader("Accept", "text/csv")}, "records-"},
		{pt.financePath("/analytics/summary?format=csv"), nil, "summary-"},
		{pt.financePath("/analytics/recent?format=csv"), nil, "recent-"},
	} {
		r := head(c.path, pt.Analyst.Token, c.opts...).want(t, http.StatusOK)
		if len(r.Body) != 0 || r.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
			r.Header.Get("Content-Length") != "" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") ||
			!strings.Contains(r.Header.Get("Content-Disposition"), c.file) {
			t.Errorf("HEAD %s: headers %v, body %q", c.path, r.Header, r.Body)
		}
	}
	// The same refusals as GET, still without touching the ledger.
	head(pt.financePath("/records?format=csv&deleted=true"), pt.Analyst.Token).want(t, http.StatusForbidden)
	head(pt.financePath("/records?format=csv"), pt.Outsider.Token).want(t, http.StatusNotFound)
	head(pt.financePath("/records?format=csv&kind=gift"), pt.Analyst.Token).want(t, http.StatusUnprocessableEntity)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(e.exportEntries(t, org)); got != n {
		t.Errorf("HEAD wrote %d export entries", got-n)
	}
}
