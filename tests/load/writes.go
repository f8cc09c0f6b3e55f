package main

// The write phases (-writes, issue 19): what creating a project, a financial record and
// a booking costs, and how much of it is our triggers.
//
//  1. At the database, one backend, its CPU time (/proc/<pid>/schedstat) around blocks
//     of whole requests, each its own transaction, rolled back (so that every block
//     sees the same tables and the same plan usage), in alternating order:
//     - "begin_request": auth.begin_request alone (subtracted from the others: the
//     figures below are per write, beyond the request's start);
//     - "API function": the API's statement (api.create_project, …): what the direct
//     batch runs;
//     - "INSERT, all triggers": the INSERT that function runs, as the serving role under
//     the table's policies, into the real table;
//     - "bare INSERT": the very same INSERT into a scratch copy of the table — same
//     columns, defaults, CHECKs, indexes, foreign keys (the composite tenant keys), RLS
//     policies (copied from pg_policies), ENABLE + FORCE RLS — with no trigger of ours;
//     - "+ <trigger>": the copy with that one trigger attached (pg_get_triggerdef):
//     each trigger's share.
//     The copy is a separate table rather than the real one with its triggers disabled:
//     ALTER TABLE … DISABLE TRIGGER (even inside a rolled-back transaction) is DDL that
//     invalidates the table's cached plans and relcache entry on every toggle, which
//     would charge replanning to whichever side came after it; session_replication_role
//     = replica would also skip the foreign-key checks (they are triggers too), which
//     are part of a bare insert. The copies are empty while the real tables hold the
//     seeded rows: the b-tree descents differ by a level at most.
//  2. End to end, per kind: -concurrency clients for -duration through the API (HTTP) and
//     then as the same batch directly (api.RequestBatch), committed; req/s (wall clock)
//     and CPU per write (this process + PostgreSQL). The pro plan's limits are raised
//     out of reach for these phases (the check still locks and counts) and the rows
//     created are deleted after each warm-up and phase.
//
// Every tenant is moved to the pro plan first: its limits exist, so the plan-limit
// triggers do their whole work (an unlimited plan returns early), with room for the
// end-to-end phases.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/api"
)

// writesSchema holds the copies and the timing procedure during a -writes run.
const writesSchema = "rowguard_load_writes"

// writeFixture is what a tenant's writes need: a project, an income category in it, a
// bookable service.
type writeFixture struct {
	projectID, categoryID, serviceID string
}

// writeKind is one kind of write: its table, the API's statement and the INSERT that
// statement runs (plpgsql, inside the timing procedure: v_i is the iteration, p_project,
// p_category, p_service the tenant's fixture; %s is the table).
type writeKind struct {
	name, table string
	apiCall     string // perform … (plpgsql)
	insert      string // insert into %s … (plpgsql); the copies get copyInsert if set
	copyInsert  string // for columns the serving role may not write but a trigger fills
}

var writeKinds = []writeKind{
	{
		name: "project", table: "app.projects",
		apiCall: `perform api.create_project('load write ' || v_tag, null)`,
		insert: `insert into %s (org_id, name, description, created_by)
		         values (app.current_org_id(), btrim('load write ' || v_tag), null, app.current_user_id())`,
	},
	{
		name: "record", table: "app.financial_records",
		apiCall: `perform api.create_financial_record(p_project, jsonb_build_object('kind', 'income', 'amount', '12.50',
		            'currency', 'EUR', 'category_id', p_category, 'payment_source', 'card',
		            'occurred_on', (current_date - mod(v_i, 700))::text, 'description', 'load write'), null)`,
		insert: `insert into %s (org_id, project_id, kind, amount, currency, category_id, tags, payment_source,
		                         payment_reference, occurred_on, description, created_by, updated_by)
		         values (app.current_org_id(), p_project, 'income', 12.50, 'EUR', p_category, '{}', 'card',
		                 null, current_date - mod(v_i, 700), 'load write', app.current_user_id(), app.current_user_id())`,
	},
	{
		name: "booking", table: "app.bookings",
		apiCall: `perform api.create_booking(p_service, timestamptz '2031-01-06 09:00Z' + v_i * interval '1 hour',
		            'Load Customer', 'load@example.com', null)`,
		insert: `insert into %s (org_id, service_id, starts_at, customer_name, customer_email, notes, created_by)
		         values (app.current_org_id(), p_service, timestamptz '2031-01-06 09:00Z' + v_i * interval '1 hour',
		                 btrim('Load Customer'), 'load@example.com', null, app.current_user_id())`,
		// ends_at is filled by the BEFORE INSERT trigger app.prepare_booking (no grant to
		// the serving role); a copy without it is given the same value.
		copyInsert: `insert into %s (org_id, service_id, starts_at, ends_at, customer_name, customer_email, notes, created_by)
		         values (app.current_org_id(), p_service, timestamptz '2031-01-06 09:00Z' + v_i * interval '1 hour',
		                 timestamptz '2031-01-06 09:30Z' + v_i * interval '1 hour',
		                 btrim('Load Customer'), 'load@example.com', null, app.current_user_id())`,
	},
}

// writeVariant is one measured way of doing a kind's write.
type writeVariant struct {
	label string // printed
	key   string // the procedure's branch
	sql   string // plpgsql statement(s)
}

// installWriteProbe creates the copies and the timing procedure (as the superuser) and
// returns each kind's variants.
func installWriteProbe(ctx context.Context, admin *pgx.Conn) (map[string][]writeVariant, error) {
	if _, err := admin.Exec(ctx, `drop schema if exists `+writesSchema+` cascade; create schema `+writesSchema+`;
		grant usage on schema `+writesSchema+` to rowguard_api`); err != nil {
		return nil, err
	}
	variants := map[string][]writeVariant{}
	var branches []string
	for _, k := range writeKinds {
		copyInsert := k.copyInsert
		if copyInsert == "" {
			copyInsert = k.insert
		}
		// The table's own triggers that fire on INSERT (not the internal foreign-key ones).
		rows, err := admin.Query(ctx, `select t.tgname, pg_get_triggerdef(t.oid) from pg_trigger t
			where t.tgrelid = $1::regclass and not t.tgisinternal and t.tgtype & 4 <> 0 order by t.tgname`, k.table)
		if err != nil {
			return nil, err
		}
		type trig struct{ name, def string }
		var trigs []trig
		for rows.Next() {
			var t trig
			if err := rows.Scan(&t.name, &t.def); err != nil {
				return nil, err
			}
			trigs = append(trigs, t)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		vs := []writeVariant{
			{"API function (the direct batch's statement)", k.name + ":api", k.apiCall},
			{"INSERT into " + k.table + ", all triggers", k.name + ":table", fmt.Sprintf(k.insert, k.table)},
		}
		copies := []string{""}
		for _, t := range trigs {
			copies = append(copies, t.name)
		}
		for i, trigName := range copies {
			cp := fmt.Sprintf("%s.%s_%d", writesSchema, k.name, i)
			if err := copyTable(ctx, admin, k.table, cp); err != nil {
				return nil, fmt.Errorf("copying %s: %w", k.table, err)
			}
			if trigName == "" {
				vs = append(vs, writeVariant{"bare INSERT (a copy: same policies, keys, indexes; no trigger)", k.name + ":bare", fmt.Sprintf(copyInsert, cp)})
				continue
			}
			def := trigs[i-1].def
			on := " ON " + k.table + " "
			if !strings.Contains(def, on) {
				return nil, fmt.Errorf("trigger %s: %q has no %q", trigName, def, on)
			}
			if _, err := admin.Exec(ctx, strings.Replace(def, on, " ON "+cp+" ", 1)); err != nil {
				return nil, fmt.Errorf("trigger %s on the copy: %w", trigName, err)
			}
			vs = append(vs, writeVariant{"  + " + trigName, k.name + ":" + trigName, fmt.Sprintf(copyInsert, cp)})
		}
		variants[k.name] = vs
		for _, v := range vs {
			branches = append(branches, fmt.Sprintf("when %s then\n      %s;", quoteLiteral(v.key), v.sql))
		}
	}
	proc := `
create procedure ` + writesSchema + `.time_block(p_user_id uuid, p_session_id uuid, p_org_id uuid, p_variant text,
  p_n int, p_project uuid, p_category uuid, p_service uuid)
language plpgsql as $$
declare
  v_tag text;
begin
  for v_i in 1 .. p_n loop
    perform auth.begin_request(p_user_id, p_session_id, p_org_id), pg_catalog.set_config('app.request_id', 'timing', true);
    v_tag := gen_random_uuid()::text;
    case p_variant
    when 'begin' then null;
    ` + strings.Join(branches, "\n    ") + `
    end case;
    rollback;
  end loop;
end
$$;
grant execute on procedure ` + writesSchema + `.time_block(uuid, uuid, uuid, text, int, uuid, uuid, uuid) to rowguard_api;`
	if _, err := admin.Exec(ctx, proc); err != nil {
		return nil, fmt.Errorf("the timing procedure: %w", err)
	}
	return variants, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// copyTable makes dst a copy of src: columns, defaults, CHECKs, indexes (LIKE … INCLUDING
// ALL), its foreign keys, its RLS policies, ENABLE + FORCE RLS, and the serving role's
// SELECT and INSERT. No trigger.
func copyTable(ctx context.Context, admin *pgx.Conn, src, dst string) error {
	_, err := admin.Exec(ctx, `
do $$
declare
  r record;
begin
  execute format('create table %s (like %s including all)', '`+dst+`', '`+src+`');
  for r in select c.conname, pg_get_constraintdef(c.oid) as def from pg_constraint c
            where c.conrelid = '`+src+`'::regclass and c.contype = 'f' loop
    execute format('alter table %s add constraint %I %s', '`+dst+`', r.conname, r.def);
  end loop;
  for r in select p.polname, p.polpermissive, p.polcmd,
                  pg_get_expr(p.polqual, p.polrelid) as qual, pg_get_expr(p.polwithcheck, p.polrelid) as chk,
                  array(select case when o = 0 then 'public' else quote_ident(pg_get_userbyid(o)) end
                          from unnest(p.polroles) o) as roles
             from pg_policy p where p.polrelid = '`+src+`'::regclass loop
    execute format('create policy %I on %s as %s for %s to %s%s%s', r.polname, '`+dst+`',
                   case when r.polpermissive then 'permissive' else 'restrictive' end,
                   case r.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                                 when 'd' then 'delete' else 'all' end,
                   array_to_string(r.roles, ', '),
                   coalesce(' using (' || r.qual || ')', ''), coalesce(' with check (' || r.chk || ')', ''));
  end loop;
  execute format('alter table %s enable row level security', '`+dst+`');
  execute format('alter table %s force row level security', '`+dst+`');
  execute format('grant select, insert on %s to rowguard_api', '`+dst+`');
end
$$`)
	return err
}

// writeFixtures gives every tenant an income category in its first project and a
// bookable service (capacity 1000: the end-to-end phases never fill a slot), through
// the API.
func writeFixtures(ctx context.Context, cfg *config, e *env, tenants []*tenant) (map[*tenant]*writeFixture, error) {
	fx := make(map[*tenant]*writeFixture, len(tenants))
	for _, t := range tenants {
		fx[t] = &writeFixture{projectID: slices.Sorted(func(yield func(string) bool) {
			for id := range t.projects {
				if !yield(id) {
					return
				}
			}
		})[0]}
	}
	err := parallel(ctx, cfg.seedWorkers, len(tenants), func(ctx context.Context, i int) error {
		t := tenants[i]
		f := fx[t]
		var c struct {
			ID string `json:"id"`
		}
		if err := postJSON(ctx, e, "/v1/orgs/"+t.orgID+"/projects/"+f.projectID+"/categories", t.auth,
			map[string]any{"kind": "income", "name": "load income"}, &c, http.StatusCreated); err != nil {
			return fmt.Errorf("category in org %s: %w", t.orgID, err)
		}
		f.categoryID = c.ID
		var s struct {
			ID string `json:"id"`
		}
		if err := postJSON(ctx, e, "/v1/orgs/"+t.orgID+"/services", t.auth,
			map[string]any{"name": "Load service", "duration_minutes": 30, "price": "10.00", "currency": "EUR", "capacity": 1000},
			&s, http.StatusCreated); err != nil {
			return fmt.Errorf("service in org %s: %w", t.orgID, err)
		}
		f.serviceID = s.ID
		return nil
	})
	return fx, err
}

// writeBlocks blocks of writeBlockSize writes are timed per variant, in rotating order.
const (
	writeBlocks    = 30
	writeBlockSize = 40
)

func runWrites(ctx context.Context, cfg *config, e *env, tenants []*tenant, stdout io.Writer, progress func(string, ...any)) int {
	admin, ok := adminConnection(ctx, e, "-writes", "for its table copies", stdout)
	if !ok {
		return 2
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, `update app.subscriptions set plan_code = 'pro'`); err != nil {
		fmt.Fprintln(stdout, "load: -writes:", err)
		return 2
	}
	fx, err := writeFixtures(ctx, cfg, e, tenants)
	if err != nil {
		fmt.Fprintln(stdout, "load: -writes: fixtures:", err)
		return 2
	}
	variants, err := installWriteProbe(ctx, admin)
	if err != nil {
		fmt.Fprintln(stdout, "load: -writes:", err)
		return 2
	}
	defer func() {
		_, _ = admin.Exec(context.WithoutCancel(ctx), `drop schema if exists `+writesSchema+` cascade`)
	}()
	if _, err := admin.Exec(ctx, `analyze`); err != nil {
		fmt.Fprintln(stdout, "load: -writes:", err)
		return 2
	}

	progress("timing writes inside one backend: %d blocks of %d per variant", writeBlocks, writeBlockSize)
	if err := timeWritesInBackend(ctx, e, tenants[0], fx[tenants[0]], variants, stdout); err != nil {
		fmt.Fprintln(stdout, "load: -writes:", err)
		return 2
	}

	// The end-to-end phases commit hundreds of rows per tenant and second: the pro plan's
	// limits are raised out of reach in this throw-away database (the check still does
	// all its work: the lock and the count), and what a phase created is deleted after
	// its warm-up and after it.
	if _, err := admin.Exec(ctx, `update platform.plan_limits set max_count = 100000000 where plan_code = 'pro'`); err != nil {
		fmt.Fprintln(stdout, "load: -writes:", err)
		return 2
	}
	status := 0
	fmt.Fprintf(stdout, "\nend to end, committed: %d clients, %s each (after %s warm-up); CPU = this process (client + in-process API) + PostgreSQL\n",
		cfg.concurrency, cfg.duration, cfg.warmup)
	fmt.Fprintf(stdout, "%-8s %-7s %10s %9s %9s %7s %14s %14s\n", "write", "via", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/write", "of it Postgres")
	for _, sc := range writeScenarios(e, fx) {
		var res [2]*phaseResult
		for i, f := range []op{sc.api, sc.direct} {
			if cfg.warmup > 0 {
				drive(ctx, cfg, nil, cfg.warmup, f, tenants)
				if _, err := admin.Exec(ctx, sc.cleanup); err != nil {
					fmt.Fprintln(stdout, "load: -writes: cleanup:", err)
					return 2
				}
			}
			res[i] = drive(ctx, cfg, &e.cpu, cfg.duration, f, tenants)
			if _, err := admin.Exec(ctx, sc.cleanup); err != nil {
				fmt.Fprintln(stdout, "load: -writes: cleanup:", err)
				return 2
			}
			cpu, pg := writeCPUColumns(res[i])
			fmt.Fprintf(stdout, "%-8s %-7s %10.0f %9.2f %9.2f %7d %14s %14s\n", sc.name, []string{"api", "direct"}[i], res[i].rate(),
				ms(res[i].percentile(0.5)), ms(res[i].percentile(0.99)), res[i].errors+res[i].leaks, cpu, pg)
			for _, m := range append(res[i].errorMsgs, res[i].leakMsgs...) {
				fmt.Fprintln(stdout, "    ", m)
			}
			if res[i].errors+res[i].leaks > 0 {
				status = 1
			}
		}
		line := fmt.Sprintf("%-8s ratio   wall-clock throughput api/direct %.2f", sc.name, res[0].rate()/res[1].rate())
		if a, d := cpuMicros(res[0]), cpuMicros(res[1]); a > 0 && d > 0 {
			line += fmt.Sprintf("; CPU per write direct/api %.2f (the verdict: the throughput ratio with the machine to themselves)", d/a)
		}
		fmt.Fprintln(stdout, line)
	}
	return status
}

// cpuMicros is a phase's CPU per request (this process + PostgreSQL), µs, or 0.
func cpuMicros(r *phaseResult) float64 {
	n := len(r.latencies)
	if !r.cpuOK || n == 0 || r.cpu.Postgres <= 0 {
		return 0
	}
	return float64(r.cpu.Self+r.cpu.Postgres) / 1e3 / float64(n)
}

func writeCPUColumns(r *phaseResult) (all, pg string) {
	a := cpuMicros(r)
	if a == 0 {
		return "-", "-"
	}
	return fmt.Sprintf("%.0f", a), fmt.Sprintf("%.0f", float64(r.cpu.Postgres)/1e3/float64(len(r.latencies)))
}

// timeWritesInBackend runs the timing procedure on one connection of the direct pool as
// tenant t, kind after kind, its variants in rotating order, and prints the medians.
func timeWritesInBackend(ctx context.Context, e *env, t *tenant, f *writeFixture, variants map[string][]writeVariant, stdout io.Writer) error {
	conn, err := e.direct.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var pid int
	if err := conn.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
		return err
	}
	comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if _, _, ok := schedStat(pid); !ok || strings.TrimSpace(string(comm)) != "postgres" {
		return fmt.Errorf("the backend's CPU time cannot be read here (not a local PostgreSQL process)")
	}
	block := func(key string) (time.Duration, error) {
		c0, _, _ := schedStat(pid)
		_, err := conn.Exec(ctx, `call `+writesSchema+`.time_block($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.userID, t.sessionID, t.orgID, key, writeBlockSize, f.projectID, f.categoryID, f.serviceID)
		c1, _, _ := schedStat(pid)
		return c1 - c0, err
	}
	fmt.Fprintf(stdout, "writes at the database: the backend's CPU time per write, beyond begin_request (one backend; %d blocks of %d whole requests per line, each its own transaction, rolled back; median of the blocks, µs)\n",
		writeBlocks, writeBlockSize)
	for _, k := range writeKinds {
		vs := append([]writeVariant{{"begin_request alone", "begin", ""}}, variants[k.name]...)
		per := make([][]float64, len(vs))
		for i := range vs { // warm the plans
			if _, err := block(vs[i].key); err != nil {
				return fmt.Errorf("%s, %s: %w", k.name, vs[i].label, err)
			}
		}
		for b := range writeBlocks {
			for j := range vs {
				i := (j + b) % len(vs)
				d, err := block(vs[i].key)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", k.name, vs[i].label, err)
				}
				per[i] = append(per[i], float64(d)/1e3/writeBlockSize)
			}
		}
		med := make([]float64, len(vs))
		for i := range vs {
			med[i] = median(per[i])
		}
		begin := med[0]
		bare, table := 0.0, 0.0
		for i, v := range vs {
			switch {
			case strings.HasSuffix(v.key, ":bare"):
				bare = med[i] - begin
			case strings.HasSuffix(v.key, ":table"):
				table = med[i] - begin
			}
		}
		fmt.Fprintf(stdout, "\n%s (%s): begin_request alone %.1f µs\n", k.name, k.table, begin)
		for i, v := range vs[1:] {
			x := med[i+1] - begin
			switch {
			case strings.HasPrefix(v.label, "  + "):
				fmt.Fprintf(stdout, "  %-62s %8.1f   trigger %+7.1f = %5.1f%% of the bare INSERT\n", v.label, x, x-bare, 100*(x-bare)/bare)
			default:
				fmt.Fprintf(stdout, "  %-62s %8.1f\n", v.label, x)
			}
		}
		fmt.Fprintf(stdout, "  %s: all triggers %+.1f µs per write = %.1f%% of the bare INSERT (target ≤ 15%%)\n", k.name, table-bare, 100*(table-bare)/bare)
	}
	return nil
}

type writeScenario struct {
	name        string
	api, direct op
	cleanup     string // superuser SQL deleting what the phase created
}

func writeScenarios(e *env, fx map[*tenant]*writeFixture) []writeScenario {
	recordBody := func(w *worker, f *writeFixture) map[string]any {
		return map[string]any{"kind": "income", "amount": strconv.Itoa(1+w.rng.IntN(999)) + ".50", "currency": "EUR",
			"category_id": f.categoryID, "payment_source": "card", "description": "load write",
			"occurred_on": time.Now().UTC().AddDate(0, 0, -w.rng.IntN(700)).Format(time.DateOnly)}
	}
	startsAt := func(w *worker) string {
		return time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC).Add(time.Duration(w.rng.IntN(1_000_000)) * time.Hour).Format(time.RFC3339)
	}
	post := func(path func(t *tenant) string, body func(w *worker, t *tenant) map[string]any) op {
		return func(ctx context.Context, w *worker, t *tenant) (string, error) {
			b, _ := json.Marshal(body(w, t))
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.baseURL+path(t), strings.NewReader(string(b)))
			if err != nil {
				return "", err
			}
			req.Header.Set("Content-Type", "application/json")
			status, err := e.sendAs(w, t, req)
			if err != nil {
				return "", err
			}
			if status != http.StatusCreated {
				return "", fmt.Errorf("POST %s: status %d: %s", path(t), status, truncate(w.buf.String(), 200))
			}
			return checkWritten(t, w.buf.Bytes()), nil
		}
	}
	direct := func(sql string, args func(w *worker, t *tenant) []any) op {
		return func(ctx context.Context, w *worker, t *tenant) (string, error) {
			body, err := api.ReadRequestBatch(e.direct.SendBatch(ctx, api.RequestBatch(t.userID, t.sessionID, t.orgID, uuid.NewString(), sql, args(w, t)...)))
			if err != nil {
				return "", err
			}
			return checkWritten(t, body), nil
		}
	}
	return []writeScenario{
		{"project",
			post(func(t *tenant) string { return "/v1/orgs/" + t.orgID + "/projects" },
				func(*worker, *tenant) map[string]any { return map[string]any{"name": "load write " + uuid.NewString()} }),
			direct(api.CreateProjectSQL, func(*worker, *tenant) []any { return []any{"load write " + uuid.NewString(), nil} }),
			`delete from app.projects where name like 'load write %'`},
		{"record",
			post(func(t *tenant) string { return "/v1/orgs/" + t.orgID + "/projects/" + fx[t].projectID + "/records" },
				func(w *worker, t *tenant) map[string]any { return recordBody(w, fx[t]) }),
			direct(api.CreateRecordSQL, func(w *worker, t *tenant) []any {
				b, _ := json.Marshal(recordBody(w, fx[t]))
				return []any{fx[t].projectID, string(b), nil}
			}),
			`delete from app.financial_records where description = 'load write'`},
		{"booking",
			post(func(t *tenant) string { return "/v1/orgs/" + t.orgID + "/bookings" },
				func(w *worker, t *tenant) map[string]any {
					return map[string]any{"service_id": fx[t].serviceID, "starts_at": startsAt(w),
						"customer": map[string]any{"name": "Load Customer", "email": "load@example.com"}}
				}),
			direct(api.CreateBookingSQL, func(w *worker, t *tenant) []any {
				return []any{fx[t].serviceID, startsAt(w), "Load Customer", "load@example.com", nil}
			}),
			`delete from app.bookings where customer_email = 'load@example.com'`},
	}
}

// checkWritten: the created row's answer names the tenant's organization (records name
// their project; their organization is the project's).
func checkWritten(t *tenant, body []byte) string {
	var row struct {
		OrgID     string `json:"org_id"`
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(body, &row); err != nil {
		return "bad answer: " + truncate(string(body), 200)
	}
	if row.OrgID != "" && row.OrgID != t.orgID {
		return "row of org " + row.OrgID + " written for org " + t.orgID
	}
	return ""
}
