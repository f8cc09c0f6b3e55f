package main

// The finance scenarios (-finance): project ledgers of skewed sizes in one table, as
// multi-tenant data always is: the first seeded tenant's project holds 1,000,000
// records, the second's 100,000, every other tenant's 1,000 to 10,000 (spread
// log-uniformly); -finance-scale multiplies all of them (0.1 seeds a tenth). Records
// are spread like real ledgers: 4 income and 8 expense categories used unevenly (the
// first of a kind takes about half of it), 70 % expenses, three currencies (70/25/5 %),
// tags of very different frequencies (recurring 30 %, online 20 %, travel 10 %, shop
// 5 %, promo 2 %, audit 0.2 %), days over five years, denser towards today, amounts
// log-uniform from 1 to 50,000. Every organization has monthly USD→EUR and GBP→EUR
// rates over those years (for the summary in a base currency).
//
//  1. Scenarios on the largest ledger, each through the API and then as the same pgx
//     batch directly (api.RequestBatch with the handler's statement and argument types),
//     for -concurrency clients and -duration: "records-list" (GET …/records?limit=50),
//     "records-create" (POST …/records) and "trends" (GET …/analytics/trends, 24
//     months). Printed: req/s, p50, p99, and API/direct ratios of throughput and p50.
//  2. At the database, per tenant size: one client times -finance-samples requests of
//     each statement (the direct batch: begin_request + the API function) for the 1M
//     tenant, the 100k one, the largest and the smallest of the small ones, and all the
//     small ones in turn: list pages (first, middle, filtered four ways), trends,
//     summary (with and without a base currency), the category breakdown, the tag
//     list (GET …/tags, target ≤ 10 ms at 1M), the summary in EUR and the breakdown
//     over ragged edges (from the 2nd to the day before a month's last) and over
//     mid-month edges (from the 16th to the 15th: the most days left to the daily
//     rollups, an edge month being read as its days or as the month minus the others), and
//     last a record create (every trigger; each sample adds a record). The
//     targets: a first page ≤ 1 ms p50 for every size; analytics ≤ 3 ms p50 at 1M; no
//     statement slower for a small tenant than for a big one.
//  3. -finance-explain: the plans PostgreSQL chose inside api.list_financial_records
//     (auto_explain, nested statements, with ANALYZE) for the first page and a filtered
//     page of the smallest, a small, and the largest ledger.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/database"
)

// financeLedger is one tenant's project and what its requests need.
type financeLedger struct {
	t          *tenant
	projectID  string
	categories []string // 4 income, then 8 expense, most used first
	size       int      // records seeded
	from, to   string   // the trends window: 24 months up to today
}

// financeSizes are the ledgers' sizes for n tenants at scale: 1M, 100k, then n−2 from
// 1k to 10k, log-uniform (at least 60 records each: a middle page needs them).
func financeSizes(n int, scale float64) []int {
	sizes := make([]int, n)
	for i := range n {
		var f float64
		switch i {
		case 0:
			f = 1_000_000
		case 1:
			f = 100_000
		default:
			f = 1000
			if n > 3 {
				f = 1000 * math.Pow(10, float64(i-2)/float64(n-3))
			}
		}
		sizes[i] = max(60, int(math.Round(f*scale)))
	}
	return sizes
}

// sizeClass is a group of ledgers whose figures are reported together.
type sizeClass struct {
	label   string
	ledgers []*financeLedger
}

func sizeClasses(ls []*financeLedger) []sizeClass {
	cls := []sizeClass{{fmt.Sprintf("%d", ls[0].size), ls[:1]}}
	if len(ls) > 1 {
		cls = append(cls, sizeClass{fmt.Sprintf("%d", ls[1].size), ls[1:2]})
	}
	if small := ls[2:]; len(small) > 0 {
		cls = append(cls, sizeClass{fmt.Sprintf("%d", small[len(small)-1].size), small[len(small)-1:]},
			sizeClass{fmt.Sprintf("%d", small[0].size), small[:1]})
		if len(small) > 2 {
			cls = append(cls, sizeClass{fmt.Sprintf("%d-%d ×%d", small[0].size, small[len(small)-1].size, len(small)), small})
		}
	}
	return cls
}

// adminConnection connects as the superuser a phase needs (flag names it, why says for
// what), or prints why it cannot.
func adminConnection(ctx context.Context, e *env, flag, why string, stdout io.Writer) (*pgx.Conn, bool) {
	if e.adminURL == "" {
		fmt.Fprintf(stdout, "load: %s needs the superuser URL (private cluster or -database-url) %s\n", flag, why)
		return nil, false
	}
	admin, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		fmt.Fprintf(stdout, "load: %s: %v\n", flag, err)
		return nil, false
	}
	return admin, true
}

func runFinance(ctx context.Context, cfg *config, e *env, tenants []*tenant, stdout io.Writer, progress func(string, ...any)) int {
	admin, ok := adminConnection(ctx, e, "-finance", "to seed the ledger", stdout)
	if !ok {
		return 2
	}
	defer admin.Close(context.Background())
	start := time.Now()
	ledgers, err := prepareLedgers(ctx, cfg, e, admin, tenants, progress)
	if err != nil {
		fmt.Fprintln(stdout, "load: -finance: preparing the ledgers:", err)
		return 2
	}
	total := 0
	for _, l := range ledgers {
		total += l.size
	}
	fmt.Fprintf(stdout, "finance: %d tenants' ledgers in one table, %d records (largest %d, then %d, the others %d to %d; -finance-scale %g), seeded in %.0fs\n\n",
		len(ledgers), total, ledgers[0].size, ledgers[min(1, len(ledgers)-1)].size, ledgers[min(2, len(ledgers)-1)].size, ledgers[len(ledgers)-1].size,
		cfg.financeScale, time.Since(start).Seconds())

	status := 0
	if cfg.duration > 0 && !cfg.financeDBOnly {
		status = financeScenarioRuns(ctx, cfg, e, ledgers[0], stdout)
	}

	classes := sizeClasses(ledgers)
	// One connection, its backend's CPU time read around every request (schedstat, ns):
	// the figure that does not move with the machine's load. Wall-clock beside it.
	conn, err := e.direct.Acquire(ctx)
	if err != nil {
		fmt.Fprintln(stdout, "load: -finance:", err)
		return 2
	}
	defer conn.Release()
	var pid int
	if err := conn.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
		fmt.Fprintln(stdout, "load: -finance:", err)
		return 2
	}
	_, _, cpuOK := schedStat(pid)
	header := fmt.Sprintf("%-30s", "statement \\ records")
	for _, c := range classes {
		header += fmt.Sprintf(" %20s", c.label)
	}
	var cpuLines, wallLines []string
	for si, name := range financeStatementNames {
		cpuLine, wallLine := fmt.Sprintf("%-30s", name), fmt.Sprintf("%-30s", name)
		for _, c := range classes {
			lat := make([]time.Duration, 0, cfg.financeSamples)
			cpu := make([]time.Duration, 0, cfg.financeSamples)
			stmts := make([]dbStatement, len(c.ledgers))
			for i, l := range c.ledgers {
				stmts[i] = dbStatements(ctx, admin, l)[si]
			}
			for k := range cfg.financeSamples {
				l, st := c.ledgers[k%len(c.ledgers)], stmts[k%len(c.ledgers)]
				c0, _, _ := schedStat(pid)
				t0 := time.Now()
				body, err := api.ReadRequestBatch(conn.SendBatch(ctx, api.RequestBatch(l.t.userID, l.t.sessionID, l.t.orgID, uuid.NewString(), st.sql, st.args...)))
				lat = append(lat, time.Since(t0))
				c1, _, ok := schedStat(pid)
				cpuOK = cpuOK && ok
				cpu = append(cpu, c1-c0)
				if err == nil && (len(body) == 0 || body[0] != '{') {
					err = errors.New("not a JSON object")
				}
				if err == nil && st.check != nil {
					if msg := st.check(body); msg != "" {
						err = errors.New(msg)
					}
				}
				if err != nil {
					fmt.Fprintf(stdout, "load: -finance: %s, ledger of %d: %v\n", name, l.size, err)
					return 1
				}
			}
			r, rc := &phaseResult{latencies: lat}, &phaseResult{latencies: cpu}
			wallLine += fmt.Sprintf(" %20s", fmt.Sprintf("%.2f (%.2f)", ms(r.percentile(0.5)), ms(r.percentile(0.99))))
			cpuLine += fmt.Sprintf(" %20s", fmt.Sprintf("%.3f (%.3f)", ms(rc.percentile(0.5)), ms(rc.percentile(0.99))))
		}
		cpuLines, wallLines = append(cpuLines, cpuLine), append(wallLines, wallLine)
	}
	if cpuOK {
		fmt.Fprintf(stdout, "\nat the database, per tenant size: the backend's CPU time per request (begin_request + the API function, one connection, %d samples each; p50 (p99) ms)\n", cfg.financeSamples)
		fmt.Fprintln(stdout, header)
		for _, l := range cpuLines {
			fmt.Fprintln(stdout, l)
		}
	}
	fmt.Fprintf(stdout, "\nthe same requests, wall-clock at the client (moves with the machine's load; p50 (p99) ms)\n")
	fmt.Fprintln(stdout, header)
	for _, l := range wallLines {
		fmt.Fprintln(stdout, l)
	}
	if cfg.financeExport {
		// The largest ledger and the smallest: a flat peak RSS across them is what
		// "bounded memory" means.
		for _, l := range []*financeLedger{ledgers[0], ledgers[len(ledgers)-1]} {
			if err := measureExport(ctx, e, l, l.size, stdout); err != nil {
				fmt.Fprintf(stdout, "load: -finance-export at %d rows: %v\n", l.size, err)
				return 1
			}
		}
	}
	if cfg.financeExplain {
		if err := explainLists(ctx, e, ledgers, stdout); err != nil {
			fmt.Fprintln(stdout, "load: -finance-explain:", err)
			return 2
		}
	}
	return status
}

func financeScenarioRuns(ctx context.Context, cfg *config, e *env, l *financeLedger, stdout io.Writer) int {
	status := 0
	fmt.Fprintf(stdout, "scenarios on the ledger of %d records: %d clients, %s each (after %s warm-up)\n", l.size, cfg.concurrency, cfg.duration, cfg.warmup)
	fmt.Fprintf(stdout, "%-16s %-7s %10s %9s %9s %7s\n", "scenario", "via", "req/s", "p50 ms", "p99 ms", "errors")
	results := map[string][2]*phaseResult{}
	for _, sc := range financeScenarios(e, l) {
		var res [2]*phaseResult
		for i, f := range []op{sc.api, sc.direct} {
			if cfg.warmup > 0 {
				drive(ctx, cfg, nil, cfg.warmup, f, []*tenant{l.t})
			}
			res[i] = drive(ctx, cfg, &e.cpu, cfg.duration, f, []*tenant{l.t})
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
		fmt.Fprintf(stdout, "%-16s ratio   wall-clock throughput api/direct %.2f, p50 api/direct %.2f\n", sc.name,
			res[0].rate()/res[1].rate(), float64(res[0].percentile(0.5))/float64(res[1].percentile(0.5)))
		results[sc.name] = res
	}
	// The records page against the projects page, both of 50, same run (issue 19: the
	// target is ≥ 0.7). The CPU ratio (CPU per projects page over CPU per records page:
	// this process + PostgreSQL) is the throughput ratio with the machine to themselves.
	if rec, prj := results["records-list"], results["projects-list"]; rec[0] != nil && prj[0] != nil {
		for i, via := range []string{"api", "direct"} {
			line := fmt.Sprintf("records page / projects page (%s): wall-clock throughput %.2f", via, rec[i].rate()/prj[i].rate())
			if r, p := cpuMicros(rec[i]), cpuMicros(prj[i]); r > 0 && p > 0 {
				line += fmt.Sprintf("; CPU per page %.0f vs %.0f µs: CPU ratio %.2f (target ≥ 0.70)", r, p, p/r)
				// Where the difference is: this process (client and, in-process, the API
				// server) and PostgreSQL (every process of the cluster).
				self := func(r *phaseResult) float64 { return float64(r.cpu.Self) / 1e3 / float64(len(r.latencies)) }
				pg := func(r *phaseResult) float64 { return float64(r.cpu.Postgres) / 1e3 / float64(len(r.latencies)) }
				line += fmt.Sprintf("; this process %.0f vs %.0f, PostgreSQL %.0f vs %.0f", self(rec[i]), self(prj[i]), pg(rec[i]), pg(prj[i]))
			}
			fmt.Fprintln(stdout, line)
		}
	}
	return status
}

func prepareLedgers(ctx context.Context, cfg *config, e *env, admin *pgx.Conn, tenants []*tenant, progress func(string, ...any)) ([]*financeLedger, error) {
	// Unlimited plans: the ledgers are far beyond the free plan's monthly records.
	if _, err := admin.Exec(ctx, `update app.subscriptions set plan_code = 'business'`); err != nil {
		return nil, err
	}
	// Monthly rates to EUR over the ledgers' five years, for every organization.
	if _, err := admin.Exec(ctx, `
		insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate)
		select o.id, d::date, c.cur, 'EUR', c.base + 0.05 * sin(extract(epoch from d) / 1e7)
		  from app.organizations o
		 cross join generate_series(date_trunc('month', current_date) - interval '61 months', current_date, interval '1 month') d
		 cross join (values ('USD', 0.9), ('GBP', 1.15)) c(cur, base)
		on conflict do nothing`); err != nil {
		return nil, err
	}
	// The largest ledger's tenant gets 50 projects: the projects page of 50 that the
	// records page is compared with.
	if t := tenants[0]; len(t.projects) < 50 {
		for j := len(t.projects); j < 50; j++ {
			var p struct {
				ID string `json:"id"`
			}
			body := map[string]any{"name": fmt.Sprintf("Yardstick %d", j), "description": "seeded by tests/load -finance"}
			if err := postJSON(ctx, e, "/v1/orgs/"+t.orgID+"/projects", t.auth, body, &p, http.StatusCreated); err != nil {
				return nil, fmt.Errorf("project in org %s: %w", t.orgID, err)
			}
			t.projects[p.ID] = true
		}
	}
	sizes := financeSizes(len(tenants), cfg.financeScale)
	ledgers := make([]*financeLedger, len(tenants))
	now := time.Now().UTC()
	to := now.Format(time.DateOnly)
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -23, 0).Format(time.DateOnly)
	for i, t := range tenants {
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range t.projects {
				if !yield(id) {
					return
				}
			}
		})
		l := &financeLedger{t: t, projectID: ids[0], from: from, to: to}
		for j := range 12 {
			kind := "expense"
			if j < 4 {
				kind = "income"
			}
			var c struct {
				ID string `json:"id"`
			}
			body := map[string]any{"kind": kind, "name": kind + " " + strconv.Itoa(j)}
			if err := postJSON(ctx, e, "/v1/orgs/"+t.orgID+"/projects/"+l.projectID+"/categories", t.auth, body, &c, http.StatusCreated); err != nil {
				return nil, fmt.Errorf("category in org %s: %w", t.orgID, err)
			}
			l.categories = append(l.categories, c.ID)
		}
		ledgers[i] = l
	}
	// The big ones first: the small ones then land on a table already skewed (the
	// order does not matter to the plans; statistics are taken at the end).
	for i, l := range ledgers {
		if i < 2 || i%10 == 0 {
			progress("seeding ledger %d/%d: %d records", i+1, len(ledgers), sizes[i])
		}
		if err := growLedger(ctx, admin, l, sizes[i]); err != nil {
			return nil, err
		}
	}
	// Every table the seeding wrote, not only the ledgers and their rollups: the audit
	// trail got a row per seeded record (1.3M at full scale), and left to autovacuum it
	// was vacuumed and analyzed a minute or so later, inside whichever phase ran then —
	// the first ones, records-list and projects-list, whose PostgreSQL CPU counts every
	// process of the cluster (at 0.1 scale 0.3 s of an autovacuum worker inside the
	// projects page's API phase, ~70 µs a page). The checkpoint writes the seeding's
	// dirty buffers now rather than during a phase.
	progress("vacuum analyze, checkpoint")
	if _, err := admin.Exec(ctx, `vacuum analyze`); err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, `checkpoint`); err != nil {
		return nil, err
	}
	return ledgers, nil
}

// u is a pseudo-random number in [0, 1) from the row number g (a multiplicative hash;
// each multiplier its own stream), so that a ledger's rows are the same on every run.
func u(mult uint32) string {
	return fmt.Sprintf("((g::bigint * %d) %% 4294967296)::float8 / 4294967296", mult)
}

// growLedgerSQL inserts rows $5..$6 of a ledger ($1 org, $2 project, $3 categories: 4
// income then 8 expense, $4 the author), spread as the doc comment at the top says.
var growLedgerSQL = `
insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags,
                                   payment_source, occurred_on, description, created_by, updated_by)
select $1, $2, x.kind, round((exp(x.u8 * ln(50000)))::numeric, 2) + 0.01,
       case when x.u7 < 0.70 then 'EUR' when x.u7 < 0.95 then 'USD' else 'GBP' end,
       ($3::uuid[])[case when x.kind = 'income' then 1 + floor(4 * x.u2 ^ 3)::int else 5 + floor(8 * x.u2 ^ 3)::int end],
       array_remove(array[case when x.u3 < 0.30 then 'recurring' end,
                          case when x.u5 < 0.20 then 'online' when x.u5 < 0.25 then 'shop' end,
                          case when x.u3 >= 0.90 then 'travel' end,
                          case when x.u6 < 0.02 then 'promo' when x.u6 >= 0.998 then 'audit' end], null),
       (case when x.u8 * 7 - floor(x.u8 * 7) < 0.2 then 'cash' when x.u8 * 7 - floor(x.u8 * 7) < 0.8 then 'card' else 'bank_transfer' end)::app.payment_source,
       current_date - floor(1826 * x.u4 ^ 2)::int, 'seeded row ' || x.g, $4, $4
  from (select g, (case when ` + u(2654435761) + ` < 0.3 then 'income' else 'expense' end)::app.finance_kind as kind,
               ` + u(2246822519) + ` as u2, ` + u(3266489917) + ` as u3, ` + u(668265263) + ` as u4,
               ` + u(374761393) + ` as u5, ` + u(2870177450) + ` as u6, ` + u(1103515245) + ` as u7,
               ` + u(4049345443) + ` as u8
          from generate_series($5::int, $6::int) g) x`

// growLedger inserts rows until the project holds size records, in statements of
// 100,000 rows (as the superuser, triggers on: one rollup pass each, as in production).
func growLedger(ctx context.Context, admin *pgx.Conn, l *financeLedger, size int) error {
	var have int
	if err := admin.QueryRow(ctx, `select count(*) from app.financial_records where project_id = $1`, l.projectID).Scan(&have); err != nil {
		return err
	}
	for have < size {
		n := min(size-have, 100_000)
		if _, err := admin.Exec(ctx, growLedgerSQL, l.t.orgID, l.projectID, l.categories, l.t.userID, have+1, have+n); err != nil {
			return err
		}
		have += n
	}
	l.size = have
	return nil
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
		// The yardstick of the records page: a page of 50 projects of the same tenant
		// (prepareLedgers gives it 50).
		{"projects-list",
			httpOp(e, http.MethodGet, e.baseURL+"/v1/orgs/"+l.t.orgID+"/projects?limit=50", nil, checkProjectPage(l.t, 50)),
			directOp2(e, api.ListProjectsSQL, func(*worker) []any { return []any{50, nil} }, checkProjectPage(l.t, 50))},
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

// checkProjectPage: a full page of the tenant's projects (else a leak).
func checkProjectPage(t *tenant, limit int) func([]byte) string {
	return func(body []byte) string {
		var pg pageDoc
		if err := json.Unmarshal(body, &pg); err != nil || len(pg.Items) != limit {
			return "bad page: " + truncate(string(body), 200)
		}
		for _, it := range pg.Items {
			if it.OrgID != t.orgID {
				return "project of org " + it.OrgID + " in the page of org " + t.orgID
			}
		}
		return ""
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
	name  string
	sql   string
	args  []any
	check func([]byte) string
}

// financeStatementNames are dbStatements' names, in order.
var financeStatementNames = []string{
	"list first page", "list middle page", "list income, tag shop", "list rare category",
	"list tag audit (0.2%)", "list one month", "trends 24 months", "summary 24 months",
	"summary 24 months, base EUR", "categories 24 months", "tags list",
	"summary 23 months ragged, EUR", "categories 23 months ragged",
	"summary 23 months mid-month, EUR", "categories 23 months mid-month", "record create",
}

// dbStatements are timed for each ledger, named as financeStatementNames. The middle
// page's cursor is the record in the middle of the ledger's order.
func dbStatements(ctx context.Context, admin *pgx.Conn, l *financeLedger) []dbStatement {
	list := func(extra ...any) []any {
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
	now := time.Now().UTC()
	monthFrom := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -13, 0)
	monthTo := monthFrom.AddDate(0, 1, -1)
	// Analytics read whole months from the monthly rollup and the partial first and last
	// months day by day: the worst case is two months that are almost whole (from the
	// 2nd of a month to the day before the last of another; here 22 whole months between).
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	raggedFrom := first.AddDate(0, -23, 1).Format(time.DateOnly)
	raggedTo := first.AddDate(0, 0, -2).Format(time.DateOnly)
	// And the edges that leave the most days to the daily rollup when an edge month may be
	// read as the month minus its days outside: from the 16th of a month to the 15th.
	midFrom := first.AddDate(0, -23, 15).Format(time.DateOnly)
	midTo := first.AddDate(0, -1, 14).Format(time.DateOnly)
	own := checkProjectRecords(l)
	return []dbStatement{
		{financeStatementNames[0], api.ListRecordsSQL, list(), own},
		{financeStatementNames[1], api.ListRecordsSQL, list(2, cursor), own},
		{financeStatementNames[2], api.ListRecordsSQL, list(4, "income", 7, []string{"shop"}), own},
		{financeStatementNames[3], api.ListRecordsSQL, list(5, l.categories[11]), own},
		{financeStatementNames[4], api.ListRecordsSQL, list(6, []string{"audit"}), own},
		{financeStatementNames[5], api.ListRecordsSQL, list(10, monthFrom.Format(time.DateOnly), 11, monthTo.Format(time.DateOnly)), own},
		{financeStatementNames[6], api.TrendsSQL, []any{l.projectID, "month", l.from, l.to}, nil},
		{financeStatementNames[7], api.SummarySQL, []any{l.projectID, l.from, l.to, nil}, nil},
		{financeStatementNames[8], api.SummarySQL, []any{l.projectID, l.from, l.to, "EUR"}, nil},
		{financeStatementNames[9], `select api.finance_category_breakdown($1::uuid, $2::date, $3::date, $4::app.finance_kind)`,
			[]any{l.projectID, l.from, l.to, nil}, nil},
		{financeStatementNames[10], api.ListTagsSQL, []any{l.projectID}, nil},
		{financeStatementNames[11], api.SummarySQL, []any{l.projectID, raggedFrom, raggedTo, "EUR"}, nil},
		{financeStatementNames[12], `select api.finance_category_breakdown($1::uuid, $2::date, $3::date, $4::app.finance_kind)`,
			[]any{l.projectID, raggedFrom, raggedTo, nil}, nil},
		{financeStatementNames[13], api.SummarySQL, []any{l.projectID, midFrom, midTo, "EUR"}, nil},
		{financeStatementNames[14], `select api.finance_category_breakdown($1::uuid, $2::date, $3::date, $4::app.finance_kind)`,
			[]any{l.projectID, midFrom, midTo, nil}, nil},
		// Last: every sample adds a record (an expense 40 days back, the rollups' rows
		// exist already), so what it costs is the write with all its triggers.
		{financeStatementNames[15], api.CreateRecordSQL, []any{l.projectID, fmt.Sprintf(
			`{"kind":"expense","amount":"12.34","currency":"EUR","category_id":%q,"payment_source":"card","occurred_on":%q}`,
			l.categories[4], now.AddDate(0, 0, -40).Format(time.DateOnly)), nil}, checkCreated(l)},
	}
}

// checkProjectRecords: a page (of any size) of the ledger's project's records only.
func checkProjectRecords(l *financeLedger) func([]byte) string {
	return func(body []byte) string {
		var pg struct {
			Items []struct {
				ProjectID string `json:"project_id"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &pg); err != nil {
			return "bad page: " + truncate(string(body), 200)
		}
		for _, it := range pg.Items {
			if it.ProjectID != l.projectID {
				return "LEAK: record of project " + it.ProjectID + " in the ledger of " + l.projectID
			}
		}
		return ""
	}
}

// explainLists prints the plans chosen inside api.list_financial_records (auto_explain
// of the nested statements, ANALYZE, sent back as notices) for the first page and two
// filtered pages of the smallest ledger, the largest small one, the 100k and the 1M, run as the
// serving role with the tenant's request context, exactly as the API would.
func explainLists(ctx context.Context, e *env, ledgers []*financeLedger, stdout io.Writer) error {
	cfg, err := pgx.ParseConfig(e.adminURL)
	if err != nil {
		return err
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `load 'auto_explain'`); err != nil {
		return err
	}
	for _, set := range []string{"auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
		"auto_explain.log_analyze = on", "auto_explain.log_buffers = on", "auto_explain.log_timing = on",
		"auto_explain.log_level = notice", "client_min_messages = notice"} {
		if _, err := conn.Exec(ctx, "set "+set); err != nil {
			return err
		}
	}
	picks := []*financeLedger{ledgers[len(ledgers)-1], ledgers[min(2, len(ledgers)-1)], ledgers[min(1, len(ledgers)-1)], ledgers[0]}
	for _, l := range slices.Compact(picks) {
		sts := dbStatements(ctx, conn, l)
		for _, st := range []dbStatement{sts[0], sts[2], sts[3]} {
			notices = notices[:0]
			tx, err := conn.Begin(ctx)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			b.Queue(`set local role ` + database.DevLoginRole)
			rb := api.RequestBatch(l.t.userID, l.t.sessionID, l.t.orgID, uuid.NewString(), st.sql, st.args...)
			for _, q := range rb.QueuedQueries {
				b.Queue(q.SQL, q.Arguments...)
			}
			err = tx.SendBatch(ctx, b).Close()
			_ = tx.Rollback(ctx)
			if err != nil {
				return fmt.Errorf("%s, ledger of %d: %w", st.name, l.size, err)
			}
			fmt.Fprintf(stdout, "\n--- %s, ledger of %d records: plans inside the function\n", st.name, l.size)
			for _, n := range notices {
				if strings.Contains(n, "financial_records") && strings.Contains(n, "Query Text") {
					fmt.Fprintln(stdout, n)
				}
			}
		}
	}
	return nil
}
