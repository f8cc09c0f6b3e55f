package e2e

import (
	"encoding/csv"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// readCSV checks a CSV answer (content type, attachment name, CRLF line ends) and
// parses it: the header, then the rows.
func readCSV(t testing.TB, r *response, what string) (header []string, rows [][]string) {
	t.Helper()
	r.want(t, http.StatusOK)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/csv" {
		t.Fatalf("%s: Content-Type %q", r, r.Header.Get("Content-Type"))
	}
	disp, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || !strings.HasPrefix(params["filename"], what+"-") || !strings.HasSuffix(params["filename"], ".csv") {
		t.Errorf("%s: Content-Disposition %q", r.Path, r.Header.Get("Content-Disposition"))
	}
	if !strings.HasSuffix(string(r.Body), "\r\n") {
		t.Errorf("%s: the CSV does not end with CRLF: %q", r.Path, r.Body)
	}
	all, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil || len(all) == 0 {
		t.Fatalf("%s: not CSV (%v): %s", r.Path, err, r.Body)
	}
	return all[0], all[1:]
}

func TestFinanceCSVExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Exported")
	other := e.newProjectTeam(t, "Export rival")
	sales := e.createCategory(t, pt, "income", "Sales, \"retail\"")
	rent := e.createCategory(t, pt, "expense", "=Rent")
	nasty := []string{"=HYPERLINK(\"http://evil\",\"x\")", "+1+2", "-3-cmd", "@SUM(A1)", "a, b \"quoted\"\nsecond line", "plain"}
	var ids []string
	for i, d := range nasty {
		b := recordBody("income", "10.00", "EUR", sales.ID, "2030-01-0"+string(rune('1'+i)))
		b["description"] = d
		b["tags"] = []string{"shop", "n" + string(rune('0'+i))}
		ids = append(ids, e.createRecord(t, pt, b).ID)
	}
	exp := recordBody("expense", "99.50", "USD", rent.ID, "2030-02-01")
	exp["payment_reference"] = "-50"
	ids = append(ids, e.createRecord(t, pt, exp).ID)
	del := e.createRecord(t, pt, recordBody("expense", "1.00", "EUR", rent.ID, "2030-02-02"))
	e.do(t, http.MethodDelete, pt.financePath("/records/"+del.ID), pt.Owner.Token, nil).want(t, http.StatusNoContent)
	rivalCat := e.createCategory(t, other, "income", "Rival")
	e.createRecord(t, other, recordBody("income", "5.00", "EUR", rivalCat.ID, "2030-01-01"))

	path := pt.financePath("/records")
	// Finance READ (a project VIEWER) exports, by ?format=csv or by Accept.
	header, rows := readCSV(t, e.do(t, http.MethodGet, path+"?format=csv", pt.Member.Token, nil), "records")
	if !slices.Equal(header, api.RecordCSVHeader) {
		t.Errorf("header = %v", header)
	}
	if len(rows) != len(ids) {
		t.Fatalf("exported %d rows, want the %d live records", len(rows), len(ids))
	}
	_, viaAccept := readCSV(t, e.do(t, http.MethodGet, path, pt.Member.Token, nil, withHeader("Accept", "text/csv")), "records")
	if !slices.EqualFunc(rows, viaAccept, slices.Equal[[]string]) {
		t.Errorf("Accept: text/csv and ?format=csv differ")
	}
	col := func(name string) int { return slices.Index(header, name) }
	byID := map[string][]string{}
	for _, row := range rows {
		if len(row) != len(header) {
			t.Fatalf("row of %d cells: %v", len(row), row)
		}
		byID[row[col("id")]] = row
	}
	// Newest occurred_on first, as the list.
	if rows[0][col("id")] != ids[len(ids)-1] {
		t.Errorf("first row %v, want the newest record", rows[0])
	}
	// Formula injection defused; RFC 4180 quoting round-trips commas, quotes, newlines.
	wantDesc := []string{"'=HYPERLINK(\"http://evil\",\"x\")", "'+1+2", "'-3-cmd", "'@SUM(A1)", "a, b \"quoted\"\nsecond line", "plain"}
	for i, id := range ids[:len(nasty)] {
		row := byID[id]
		if row[col("description")] != wantDesc[i] || row[col("category_name")] != "Sales, \"retail\"" ||
			row[col("tags")] != "shop n"+string(rune('0'+i)) || row[col("amount")] != "10.00" {
			t.Errorf("row %d = %q", i, row)
		}
	}
	last := byID[ids[len(ids)-1]]
	if last[col("category_name")] != "'=Rent" || last[col("payment_reference")] != "-50" || last[col("kind")] != "expense" {
		t.Errorf("expense row = %q (a number stays a number, a formula is defused)", last)
	}
	// The same filters as the list.
	_, filtered := readCSV(t, e.do(t, http.MethodGet, path+"?format=csv&kind=income&tags_any=n1,n2&q=plain", pt.Member.Token, nil), "records")
	if len(filtered) != 0 {
		t.Errorf("kind+tags_any+q filtered export = %v", filtered)
	}
	_, filtered = readCSV(t, e.do(t, http.MethodGet, path+"?format=csv&tags_any=n1,n2", pt.Member.Token, nil), "records")
	if len(filtered) != 2 {
		t.Errorf("tags_any=n1,n2 exported %d rows, want 2", len(filtered))
	}
	// Soft-deleted records: finance MANAGE only, as the list.
	_, deleted := readCSV(t, e.do(t, http.MethodGet, path+"?format=csv&deleted=true", pt.PAdmin.Token, nil), "records")
	if len(deleted) != 1 || deleted[0][0] != del.ID {
		t.Errorf("deleted export = %v", deleted)
	}

	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodGet, path+"?format=csv&deleted=true", pt.Member.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodGet, path+"?format=csv", pt.Outsider.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, path+"?format=csv", other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, "/v1/orgs/"+other.Org.ID+"/projects/"+pt.Project.ID+"/records?format=csv", other.Owner.Token, nil),
		api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, path+"?format=xml", pt.Owner.Token, nil), api.ProblemValidation, "format")
	wantProblem(t, e.do(t, http.MethodGet, path+"?format=csv&limit=5&kind=gift", pt.Owner.Token, nil), api.ProblemValidation, "limit", "kind")
	wantProblem(t, e.do(t, http.MethodGet, path+"?format=csv&currency=XXQ", pt.Owner.Token, nil), api.ProblemValidation, "currency")
	e.unchanged(t, before, "refused exports")
	// ?format=json wins over Accept.
	var pg page[record]
	e.do(t, http.MethodGet, path+"?format=json", pt.Member.Token, nil, withHeader("Accept", "text/csv")).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != len(ids) {
		t.Errorf("format=json answered %d records", len(pg.Items))
	}

	// Analytics as CSV: analytics READ (the ANALYST), the same parameters.
	an := pt.financePath("/analytics")
	h, sum := readCSV(t, e.do(t, http.MethodGet, an+"/summary?format=csv&from=2030-01-01&to=2030-12-31", pt.Analyst.Token, nil), "summary")
	if !slices.Equal(h, []string{"currency", "income", "expense", "net", "income_count", "expense_count", "count"}) ||
		len(sum) != 2 || !hasRow(sum, "EUR", "60.00", "0.00", "60.00", "6", "0", "6") ||
		!hasRow(sum, "USD", "0.00", "99.50", "-99.50", "0", "1", "1") {
		t.Errorf("summary CSV = %v %v", h, sum)
	}
	h, cats := readCSV(t, e.do(t, http.MethodGet, an+"/categories?kind=expense", pt.Analyst.Token, nil, withHeader("Accept", "text/csv")), "categories")
	if len(cats) != 1 || cats[0][slices.Index(h, "name")] != "'=Rent" || cats[0][slices.Index(h, "total")] != "99.50" {
		t.Errorf("categories CSV = %v %v", h, cats)
	}
	h, trends := readCSV(t, e.do(t, http.MethodGet, an+"/trends?format=csv&interval=month&from=2030-01-01&to=2030-02-28", pt.Analyst.Token, nil), "trends")
	if !slices.Equal(h, []string{"period", "currency", "income", "expense", "net", "count"}) || len(trends) == 0 {
		t.Errorf("trends CSV = %v %v", h, trends)
	}
	h, recent := readCSV(t, e.do(t, http.MethodGet, an+"/recent?format=csv&limit=3", pt.Analyst.Token, nil), "recent")
	if len(recent) != 3 || slices.Contains(h, "category_name") || recent[0][0] != ids[len(ids)-1] {
		t.Errorf("recent CSV = %v %v", h, recent)
	}
	wantProblem(t, e.do(t, http.MethodGet, an+"/summary?format=csv", pt.Outsider.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, an+"/summary?format=csv", other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, an+"/trends?format=tsv", pt.Analyst.Token, nil), api.ProblemValidation, "format")
}

func hasRow(rows [][]string, cells ...string) bool {
	return slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, cells) })
}
