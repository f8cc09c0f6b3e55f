package main

// The finance scenarios (-finance): instead of the projects list, the ledger of one
// project of the first seeded tenant, with every other tenant holding a ledger too.
//
// 1. Scenarios, each through the API and then as the same pgx batch directly
//    (api.RequestBatch with the handler's statement and argument types), for
//    -concurrency clients and -duration: "records-list" (GET …/records?limit=50),
//    "records-create" (POST …/records) and "trends" (GET …/analytics/trends, 24 months).
//    Printed: req/s, p50, p99, and API/direct ratios of throughput and p50.
// 2. Scale: the ledger is grown with generate_series (as the superuser, triggers on, so
//    the rollup is kept as in production) to each size of -finance-sizes, and at each
//    size one client times -finance-samples requests of each statement at the database
//    (the direct batch: begin_request + the API function): the first list page, a page
//    in the middle (keyset cursor), a filtered page, trends over 24 months, the summary
//    the category breakdown and the tag list (GET …/tags). The target: list p50 flat
//    across sizes, analytics p50 ≤ 5 ms and the tag list ≤ 10 ms at 1,000,000 rows.

import (
	"github.com/google/uuid"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/api"
)

// financeLedger is the measured project and what its requests need.
type financeLedger struct {
	t          *tenant
	projectID  string
	categories []string // 4 income, then 4 expense
	from, to   string   // the trends window: 24 months up to today
}

func runFinance(ctx context.Context, cfg *config, e *env, tenants []*tenant, stdout io.Writer, progress func(string, ...any)) int {
	if e.adminURL == "" {
		fmt.Fprintln(stdout, "load: -finance needs the superuser URL (private cluster or -database-url) to seed the ledger")
		return 2
	}
	admin, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		fmt.Fprintln(stdout, "load: -finance:", err)
		return 2
	}
	defer admin.Close(context.Background())
	l, err := prepareLedgers(ctx, e, admin, tenants, progress)
	if err != nil {
		fmt.Fprintln(stdout, "load: -finance: preparing the ledgers:", err)
		return 2
	}

	status := 0
	fmt.Fprintf(stdout, "finance scenarios: %d clients, %s each (after %s warm-up), ledger of %d rows, %d other tenants with ledgers\n\n",
		cfg.concurrency, cfg.duration, cfg.warmup, financeSeedRows, len(tenants)-1)
	fmt.Fprintf(stdout, "%-16s %-7s %10s %9s %9s %7s\n", "scenario", "via", "req/s", "p50 ms", "p99 ms", "errors")
	for _, sc := range financeScenarios(e, l) {
		var res [2]*phaseResult
		for i, f := range []op{sc.api, sc.direct} {
			if cfg.warmup > 0 {
				drive(ctx, cfg, nil, cfg.warmup, f, []*tenant{l.t})
			}
			res[i] = drive(ctx, cfg, nil, cfg.duration, f, []*tenant{l.t})
			via := []string{"api", "direct"}[i]
			fmt.Fprintf(stdout, "%-16s %-7s %10.0f %9.2f %9.2f %7d\n", sc.name, via, res[i].rate(),
				ms(res[i].percentile(0.5)), ms(res[i].percentile(0.99)), res[i].errors+res[i].leaks)
			for _, m := range append(res[i].errorMsgs, res[i].leakMsgs...) {
				fmt.Fprintln(stdout, "    ", m)
			}
			if res[i].errors+res[i].leaks > 0 {
				status = 1
			}
		}
		fmt.Fprintf(stdout, "%-16s ratio   throughput api/direct %.2f, p50 api/direct %.2f\n", sc.name,
			res[0].rate()/res[1].rate(), float64(res[0].percentile(0.5))/float64(res[1].percentile(0.5)))
	}

	fmt.Fprintf(stdout, "\nat the database (direct batch, 1 client, %d samples each; ms)\n", cfg.financeSamples)
	fmt.Fprintf(stdout, "%-10s %-22s %8s %8s\n", "rows", "statement", "p50", "p99")
	for _, size := range cfg.financeSizes {
		progress("growing the ledger to %d rows", size)
		start := time.Now()
		if err := growLedger(ctx, admin, l, size); err != nil {
			fmt.Fprintln(stdout, "load: -finance: growing the ledger:", err)
			return 2
		}
		progress("grown in %.1fs", time.Since(start).Seconds())
		for _, st := range dbStatements(ctx, admin, l) {
			lat := make([]time.Duration, 0, cfg.financeSamples)
			for range cfg.financeSamples {
				t0 := time.Now()
				body, err := api.ReadRequestBatch(e.direct.SendBatch(ctx, api.RequestBatch(l.t.userID, l.t.sessionID, l.t.orgID, uuid.NewString(), st.sql, st.args...)))
				if err == nil && (len(body) == 0 || body[0] != '{') {
					err = errors.New("not a JSON object")
				}
				if err != nil {
					fmt.Fprintf(stdout, "load: -finance: %s at %d rows: %v\n", st.name, size, err)
					return 1
				}
				lat = append(lat, time.Since(t0))
			}
			r := &phaseResult{latencies: lat}
			fmt.Fprintf(stdout, "%-10d %-22s %8.2f %8.2f\n", size, st.name, ms(r.percentile(0.5)), ms(r.percentile(0.99)))
		}
		if cfg.financeExport {
			if err := measureExport(ctx, e, l, size, stdout); err != nil {
				fmt.Fprintf(stdout, "load: -finance-export at %d rows: %v\n", size, err)
				return 1
			}
		}
	}
	return status
}

// financeSeedRows is the ledger's size for the scenarios (and each other tenant's).
const financeSeedRows = 10_000

func prepareLedgers(ctx context.Context, e *env, admin *pgx.Conn, tenants []*tenant, progress func(string, ...any)) (*financeLedger, error) {
	// Unlimited plans: the ledgers are far beyond the free plan's monthly records.
	if _, err := admin.Exec(ctx, `update app.subscriptions set plan_code = 'business'`); err != nil {
		return nil, err
	}
	var ledger *financeLedger
	for i, t := range tenants {
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range t.projects {
				if !yield(id) {
					return
				}
			}
		})
		l := &financeLedger{t: t, projectID: ids[0]}
		for j, kind := range []string{"income", "income", "income", "income", "expense", "expense", "expense", "expense"} {
			var c struct {
				ID string `json:"id"`
			}
			body := map[string]any{"kind": kind, "name": kind + " " + strconv.Itoa(j)}
			if err := postJSON(ctx, e, "/v1/orgs/"+t.orgID+"/projects/"+l.projectID+"/categories", t.auth, body, &c, http.StatusCreated); err != nil {
				return nil, fmt.Errorf("category in org %s: %w", t.orgID, err)
			}
			l.categories = append(l.categories, c.ID)
		}
		size := financeSeedRows
		if i > 0 {
			size = financeSeedRows / 10 // other tenants: present, and smaller
		}
		if err := growLedger(ctx, admin, l, size); err != nil {
			return nil, err
		}
		if i == 0 {
			ledger = l
		}
	}
	now := time.Now().UTC()
	ledger.to = now.Format(time.DateOnly)
	ledger.from = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -23, 0).Format(time.DateOnly)
	progress("ledgers seeded: %d rows in the measured project, %d in each of %d others", financeSeedRows, financeSeedRows/10, len(tenants)-1)
	return ledger, nil
}

// growLedger inserts rows until the project holds size records: amounts, currencies,
// categories, tags and days (two years back from today) spread by the row number, in
// statements of 100,000 rows (one rollup pass each).
func growLedger(ctx context.Context, admin *pgx.Conn, l *financeLedger, size int) error {
	var have int
	if err := admin.QueryRow(ctx, `select count(*) from app.financial_records where project_id = $1`, l.projectID).Scan(&have); err != nil {
		return err
	}
	for have < size {
		n := min(size-have, 100_000)
		_, err := admin.Exec(ctx, `
			insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags,
			                                   payment_source, occurred_on, description, created_by, updated_by)
			select $1, $2, case when g % 8 < 4 then 'income' else 'expense' end::app.finance_kind,
			       (g::bigint * 7919 % 100000 + 1) / 100.0, (array['EUR', 'USD', 'GBP'])[1 + g % 3], ($3::uuid[])[1 + g % 8],
			       case when g % 10 = 0 then array['shop'] when g % 10 = 1 then array['online', 'promo'] else '{}' end,
			       (array['cash', 'card', 'bank_transfer'])[1 + g % 3]::app.payment_source,
			       current_date - (g::bigint * 31 % 730)::int, 'seeded row ' || g, $4, $4
			  from generate_series($5::int, $6::int) g`,
			l.t.orgID, l.projectID, l.categories, l.t.userID, have+1, have+n)
		if err != nil {
			return err
		}
		have += n
	}
	_, err := admin.Exec(ctx, `vacuum analyze app.financial_records, app.finance_daily_totals`)
	return err
}

type financeScenario struct {
	name        string
	api, direct op
}

func financeScenarios(e *env, l *financeLedger) []financeScenario {
	base := e.baseURL + "/v1/orgs/" + l.t.orgID + "/projects/" + l.projectID
	listArgs := func() []any {
		return []any{l.projectID, 50, nil, false, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
	}
	body := func(w *worker) map[string]any {
		return map[string]any{"kind": "income", "amount": strconv.Itoa(1+w.rng.IntN(999)) + ".50", "currency": "EUR",
			"category_id": l.categories[w.rng.IntN(4)], "payment_source": "card",
			"occurred_on": time.Now().UTC().AddDate(0, 0, -w.rng.IntN(700)).Format(time.DateOnly)}
	}
	return []financeScenario{
		{"records-list",
			httpOp(e, http.MethodGet, base+"/records?limit=50", nil, checkRecordPage(l, 50)),
			directOp2(e, api.ListRecordsSQL, func(*worker) []any { return listArgs() }, checkRecordPage(l, 50))},
		{"records-create",
			httpOp(e, http.MethodPost, base+"/records", body, checkCreated(l)),
			directOp2(e, api.CreateRecordSQL, func(w *worker) []any {
				b, _ := json.Marshal(body(w))
				return []any{l.projectID, string(b), nil}
			}, checkCreated(l))},
		{"trends",
			httpOp(e, http.MethodGet, base+"/analytics/trends?interval=month&from="+l.from+"&to="+l.to, nil, checkTrends),
			directOp2(e, api.TrendsSQL, func(*worker) []any { return []any{l.projectID, "month", l.from, l.to} }, checkTrends)},
	}
}

// httpOp sends one request as the ledger's tenant and checks the 2xx JSON answer.
func httpOp(e *env, method, url string, body func(*worker) map[string]any, check func([]byte) string) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body(w))
			rd = strings.NewReader(string(b))
		}
		req, err := http.NewRequestWithContext(ctx, method, url, rd)
		if err != nil {
			return "", err
		}
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		status, err := e.sendAs(w, t, req)
		if err != nil {
			return "", err
		}
		if status/100 != 2 {
			return "", fmt.Errorf("%s %s: status %d: %s", method, url, status, truncate(w.buf.String(), 200))
		}
		return check(w.buf.Bytes()), nil
	}
}

// directOp2 sends the API's transaction for a statement without HTTP.
func directOp2(e *env, sql string, args func(*worker) []any, check func([]byte) string) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		body, err := api.ReadRequestBatch(e.direct.SendBatch(ctx, api.RequestBatch(t.userID, t.sessionID, t.orgID, uuid.NewString(), sql, args(w)...)))
		if err != nil {
			return "", err
		}
		return check(body), nil
	}
}

// checkRecordPage: a full page, every record of the ledger's project (else a leak).
func checkRecordPage(l *financeLedger, limit int) func([]byte) string {
	return func(body []byte) string {
		var pg struct {
			Items []struct {
				ProjectID string `json:"project_id"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &pg); err != nil || len(pg.Items) != limit {
			return "bad page: " + truncate(string(body), 200)
		}
		for _, it := range pg.Items {
			if it.ProjectID != l.projectID {
				return "record of project " + it.ProjectID + " in the ledger of " + l.projectID
			}
		}
		return ""
	}
}

func checkCreated(l *financeLedger) func([]byte) string {
	return func(body []byte) string {
		var rec struct {
			ProjectID string `json:"project_id"`
		}
		if json.Unmarshal(body, &rec) != nil || rec.ProjectID != l.projectID {
			return "created record answer: " + truncate(string(body), 200)
		}
		return ""
	}
}

// checkTrends: 24 months × 3 currencies, gap-filled.
func checkTrends(body []byte) string {
	var tr struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || len(tr.Items) != 24*3 {
		return fmt.Sprintf("trends: %d items: %s", len(tr.Items), truncate(string(body), 200))
	}
	return ""
}

type dbStatement struct {
	name string
	sql  string
	args []any
}

// dbStatements are timed at each ledger size. The middle page's cursor is the
// record in the middle of the ledger's order.
func dbStatements(ctx context.Context, admin *pgx.Conn, l *financeLedger) []dbStatement {
	none := func(extra ...any) []any {
		args := []any{l.projectID, 50, nil, false, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
		for i := 0; i+1 < len(extra); i += 2 {
			args[extra[i].(int)] = extra[i+1]
		}
		return args
	}
	var cursor any
	_ = admin.QueryRow(ctx, `select occurred_on::text || '_' || id::text from (
	    select occurred_on, id, row_number() over (order by occurred_on desc, id desc) n, count(*) over () c
	      from app.financial_records where project_id = $1 and deleted_at is null) x where n = c / 2`, l.projectID).Scan(&cursor)
	return []dbStatement{
		{"list first page", api.ListRecordsSQL, none()},
		{"list middle page", api.ListRecordsSQL, none(2, cursor)},
		{"list income, tag shop", api.ListRecordsSQL, none(4, "income", 6, []string{"shop"})},
		{"trends 24 months", api.TrendsSQL, []any{l.projectID, "month", l.from, l.to}},
		{"summary 24 months", api.SummarySQL, []any{l.projectID, l.from, l.to, nil}},
		{"categories 24 months", `select api.finance_category_breakdown($1::uuid, $2::date, $3::date, $4::app.finance_kind)`,
			[]any{l.projectID, l.from, l.to, nil}},
		{"tags list", api.ListTagsSQL, []any{l.projectID}},
	}
}
