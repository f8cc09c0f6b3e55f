package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routeAnalytics: a project's analytics, all computed in SQL from the rollup.
func (s *Server) routeAnalytics(prefix string) {
	s.handle(http.MethodGet, prefix+"/summary", s.financeSummary, true)
	s.handle(http.MethodGet, prefix+"/categories", s.financeCategories, true)
	s.handle(http.MethodGet, prefix+"/trends", s.financeTrends, true)
	s.handle(http.MethodGet, prefix+"/recent", s.financeRecent, true)
}

// TrendsSQL is the statement of GET …/analytics/trends ($1 project, $2 interval,
// $3 from, $4 to, either NULL for the default); exported for tests/load.
const TrendsSQL = `select api.finance_trends($1::uuid, $2::text, $3::date, $4::date)`

// SummarySQL is the statement of GET …/analytics/summary; exported for tests/load.
const SummarySQL = `select api.finance_summary($1::uuid, $2::date, $3::date, $4::text)`

// periodParams reads from and to (dates, from ≤ to).
func periodParams(q *queryFilters) (from, to any) {
	from = q.get("from", checkDate)
	to = q.get("to", checkDate)
	q.ordered("from", "to", from, to, stringLess)
	return from, to
}

// GET …/analytics/summary?from&to&base[&format=csv]: the CSV holds the per-currency rows
// (the conversion into base is in the JSON answer only).
func (s *Server) financeSummary(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	from, to := periodParams(&q)
	base := q.get("base", checkCurrency)
	asCSV := wantsCSV(r, &q)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerAnalytics(w, r, asCSV, summaryCSV, SummarySQL, mux.Vars(r)["project_id"], from, to, base)
}

// GET …/analytics/categories?from&to&kind
func (s *Server) financeCategories(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	from, to := periodParams(&q)
	kind := q.get("kind", oneOf(FinanceKinds...))
	asCSV := wantsCSV(r, &q)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerAnalytics(w, r, asCSV, categoriesCSV, `select api.finance_category_breakdown($1::uuid, $2::date, $3::date, $4::app.finance_kind)`,
		mux.Vars(r)["project_id"], from, to, kind)
}

// GET …/analytics/trends?interval=month|week&from&to
func (s *Server) financeTrends(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	interval := q.get("interval", oneOf("month", "week"))
	if interval == nil {
		interval = "month"
	}
	from, to := periodParams(&q)
	asCSV := wantsCSV(r, &q)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerAnalytics(w, r, asCSV, trendsCSV, TrendsSQL, mux.Vars(r)["project_id"], interval, from, to)
}

// GET …/analytics/recent?limit
func (s *Server) financeRecent(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	limit := q.intParam("limit", 1, 50, 10)
	asCSV := wantsCSV(r, &q)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.answerAnalytics(w, r, asCSV, recentCSV, `select api.finance_recent($1::uuid, $2::int)`, mux.Vars(r)["project_id"], limit)
}
