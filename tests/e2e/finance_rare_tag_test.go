package e2e

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A records page filtered by tags takes one of two paths (sql/api/finance.sql): the walk
// of the paging index, or, when the live records carrying the tags are few against the
// ledger (app.finance_tag_totals: n of them, n² below (limit + 1) × the ledger), the
// project's tag index (app.finance_tagged_record_ids) and then the rows in slices of that
// order. Both must give the list's answer, page by page: each filter here is walked
// through the API and compared with the same filter evaluated by plain SQL over the whole
// project; the tag counts make sure both paths run.
func TestFinanceRareTagPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Rare tags")
	sales := e.createCategory(t, pt, "income", "Sales")
	rent := e.createCategory(t, pt, "expense", "Rent")
	// This environment's database is its own (TestFinanceRecordPlanLimit lowers the limit).
	e.exec(t, `update platform.plan_limits set max_count = 1000000 where kind = 'financial_records_per_month'`)
	e.createProjectWithRecords(t, pt, "Rare elsewhere")
	// 12,000 records over 2,000 days (six a day: ties on occurred_on are broken by id):
	// "common" on 10,500 of them (the walk), "rare" on 20, "odd" on 30, "both" on 10 of
	// the "rare" ones (the tag index: in pages of 2 the walk would read 3 × 12,000 / n);
	// a few soft-deleted "rare" ones that no page may show; and
	// another project of the same organization whose "rare" records must not leak in.
	e.exec(t, `
		insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags,
		                                   payment_source, occurred_on, description, created_by, updated_by)
		select $1, $2, case when g % 3 = 0 then 'income' else 'expense' end::app.finance_kind, 1 + g % 97, 'EUR',
		       case when g % 3 = 0 then $3::uuid else $4::uuid end,
		       array_remove(array[case when g % 8 <> 0 then 'common' end,
		                          case when g % 600 = 7 then 'rare' end,
		                          case when g % 400 = 3 then 'odd' end,
		                          case when g % 1200 = 7 then 'both' end], null),
		       'card', date '2030-01-01' + g / 6, 'row ' || g, $5, $5
		  from generate_series(1, 12000) g`,
		pt.Org.ID, pt.Project.ID, sales.ID, rent.ID, pt.Owner.ID)
	// "slice": the newest 12 are expenses, the 48 before them income, so that a page of 2
	// incomes needs a second slice of ids (the first is 4 pages: 12) starting at a match.
	e.exec(t, `
		insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags,
		                                   payment_source, occurred_on, created_by, updated_by)
		select $1, $2, case when g <= 12 then 'expense' else 'income' end::app.finance_kind, 5, 'EUR',
		       case when g <= 12 then $4::uuid else $3::uuid end, '{slice}', 'card', date '2036-06-01' - g, $5, $5
		  from generate_series(1, 60) g`,
		pt.Org.ID, pt.Project.ID, sales.ID, rent.ID, pt.Owner.ID)
	e.exec(t, `update app.financial_records set deleted_at = now()
	            where project_id = $1 and 'rare' = any (tags) and description in ('row 607', 'row 4207', 'row 9607')`, pt.Project.ID)

	counts := map[string]int{}
	for _, tag := range []string{"common", "rare", "odd", "both", "slice"} {
		counts[tag] = e.count(t, `select coalesce(sum(record_count), 0)::int from app.finance_tag_totals where project_id = $1 and tag = $2`, pt.Project.ID, tag)
	}
	// The rule of sql/api/finance.sql, pages of 2: the lookup when n + 300 is below what
	// the walk reads, min(ledger, 3 × ledger / n).
	lookup := func(n int) bool { ledger := 12060; return n+300 < min(ledger, 3*ledger/max(n, 1)) }
	if lookup(counts["common"]) || !lookup(counts["rare"]) || !lookup(counts["odd"]) || !lookup(counts["slice"]) ||
		!lookup(counts["both"]) {
		t.Fatalf("the fixture does not reach both paths: %v", counts)
	}

	for _, tc := range []struct{ query, where string }{
		{"tags_any=rare", `tags && '{rare}'`},                                        // rare: the tag index
		{"tags_all=rare", `tags @> '{rare}'`},                                        // rare
		{"tags_any=common", `tags && '{common}'`},                                    // the walk
		{"tags_any=rare,odd", `tags && '{rare,odd}'`},                                // 100 ≤ 2,000: the tag index
		{"tags_any=rare,common", `tags && '{rare,common}'`},                          // the sum: the walk
		{"tags_all=rare,common", `tags @> '{rare,common}'`},                          // the least count is rare's
		{"tags_all=both,rare", `tags @> '{both,rare}'`},                              // rare
		{"tags_all=rare,nosuchtag", `tags @> '{rare,nosuchtag}'`},                    // a tag nobody carries: none
		{"tags_any=nosuchtag", `tags && '{nosuchtag}'`},                              // none
		{"tags_any=rare&tags_all=common", `tags && '{rare}' and tags @> '{common}'`}, // rare
		{"tags_any=odd&kind=income", `tags && '{odd}' and kind = 'income'`},          // slices that hold few matches
		{"tags_any=rare,odd&to=2030-08-01", `tags && '{rare,odd}' and occurred_on <= '2030-08-01'`},
		{"tags_any=rare,odd&from=2030-03-01&to=2030-09-01&min_amount=20", `tags && '{rare,odd}' and occurred_on between '2030-03-01' and '2030-09-01' and amount >= 20`},
		{"tags_any=rare,odd&min_amount=90", `tags && '{rare,odd}' and amount >= 90`}, // few per slice: several slices a page
		{"tags_any=slice&kind=income", `tags && '{slice}' and kind = 'income'`},      // slices: see above
		{"tags_any=odd&kind=income&min_amount=50", `tags && '{odd}' and kind = 'income' and amount >= 50`},
		{"tags_all=odd&min_amount=70", `tags @> '{odd}' and amount >= 70`},
		{"tags_any=rare&min_amount=40", `tags && '{rare}' and amount >= 40`},
		{"tags_any=odd&category_id=" + rent.ID, `tags && '{odd}' and category_id = '` + rent.ID + `'`},
	} {
		var got []string
		limit := "2"
		if strings.Contains(tc.query, "common") && !strings.Contains(tc.query, "tags_all") {
			limit = "197" // ~10,500 records
		}
		for _, r := range walkPages[record](t, e, pt.financePath("/records?limit="+limit+"&"+tc.query), pt.Member.Token, 400) {
			got = append(got, r.ID)
		}
		want := e.ids(t, `select id::text from app.financial_records
		                  where project_id = $1 and deleted_at is null and `+tc.where+`
		                  order by occurred_on desc, id desc`, pt.Project.ID)
		if !slices.Equal(got, want) {
			t.Errorf("records?%s: %d records paged, want %d (first differences: %v)", tc.query, len(got), len(want), firstDiff(got, want))
		}
	}

	// Soft-deleted records carrying a rare tag are MANAGE's, through the walk of their index.
	var deleted []string
	for _, r := range walkPages[record](t, e, pt.financePath("/records?limit=2&deleted=true&tags_any="+url.QueryEscape("rare")), pt.Owner.Token, 10) {
		deleted = append(deleted, r.ID)
	}
	if len(deleted) != 3 {
		t.Errorf("deleted=true&tags_any=rare: %d records, want the 3 soft-deleted ones", len(deleted))
	}
	// A VIEWER of another project of the organization gets 404 for this one, on either path.
	e.do(t, http.MethodGet, pt.financePath("/records?tags_any=rare"), pt.Outsider.Token, nil).want(t, http.StatusNotFound)
}

// createProjectWithRecords makes a second project in pt's organization with records
// carrying "rare", so that a page of pt's project must leave them out.
func (e *env) createProjectWithRecords(t testing.TB, pt *projectTeam, name string) {
	t.Helper()
	var p struct {
		ID string `json:"id"`
	}
	e.do(t, http.MethodPost, "/v1/orgs/"+pt.Org.ID+"/projects", pt.Owner.Token, map[string]any{"name": name}).
		want(t, http.StatusCreated).decode(t, &p)
	var c category
	e.do(t, http.MethodPost, "/v1/orgs/"+pt.Org.ID+"/projects/"+p.ID+"/categories", pt.Owner.Token,
		map[string]any{"kind": "income", "name": "Elsewhere"}).want(t, http.StatusCreated).decode(t, &c)
	e.exec(t, `
		insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags,
		                                   payment_source, occurred_on, created_by, updated_by)
		select $1, $2, 'income', 1, 'EUR', $3, '{rare,odd,common}', 'card', date '2030-01-01' + g, $4, $4
		  from generate_series(1, 30) g`, pt.Org.ID, p.ID, c.ID, pt.Owner.ID)
}

// ids runs query (as the superuser) and returns its one text column.
func (e *env) ids(t testing.TB, query string, args ...any) []string {
	t.Helper()
	rows, err := e.admin.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// firstDiff names the first position where got and want differ.
func firstDiff(got, want []string) []string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			g, w := "(end)", "(end)"
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			return []string{"at " + strconv.Itoa(i), "got " + g, "want " + w}
		}
	}
	return nil
}
