package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
)

// The cost of instant revocation. Phase "direct" sends the server's own batch, whose
// auth.begin_request reads the session row on every request (revoked? past its
// lifetime? idle? user disabled?). Phase "unchecked" sends the same batch with
// begin_request replaced by a copy that skips exactly that read and keeps the rest:
// the transaction-local settings and the membership check (through
// app.current_org_role, a SECURITY DEFINER lookup by primary key like begin_request's
// own). The copy is a temporary function (pg_temp) created on each connection of its
// own pool: nothing is added to the database. Their ratio, measured in the same run,
// is what the revocation check costs per request.

// uncheckedBeginRequest is auth.begin_request without the session and user check.
const uncheckedBeginRequest = `
create function pg_temp.begin_request_unchecked(p_user_id uuid, p_session_id uuid, p_org_id uuid)
returns void language plpgsql volatile as $$
declare
  v_set text;
begin
  v_set := set_config('app.user_id', p_user_id::text, true);
  v_set := set_config('app.session_id', p_session_id::text, true);
  v_set := set_config('app.org_id', coalesce(p_org_id::text, ''), true);
  if p_org_id is not null and app.current_org_role() is null then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
end
$$`

const uncheckedBeginRequestSQL = `select pg_temp.begin_request_unchecked($1::uuid, $2::uuid, $3::uuid)`

// timeBeginRequests times n calls of each begin_request inside one backend, in
// alternating blocks of 500, and returns the mean µs per call of each. Without the
// network, the client and the other processes' noise, the difference is the check.
const timeBeginRequests = `
create function pg_temp.time_begin_requests(p_user_id uuid, p_session_id uuid, p_org_id uuid, p_n int,
  out checked_us float8, out unchecked_us float8)
language plpgsql volatile as $$
declare
  t0 timestamptz;
  v_checked interval := '0';
  v_unchecked interval := '0';
begin
  for b in 1 .. greatest(p_n / 500, 1) loop
    t0 := clock_timestamp();
    for i in 1 .. 500 loop
      perform auth.begin_request(p_user_id, p_session_id, p_org_id);
    end loop;
    v_checked := v_checked + (clock_timestamp() - t0);
    t0 := clock_timestamp();
    for i in 1 .. 500 loop
      perform pg_temp.begin_request_unchecked(p_user_id, p_session_id, p_org_id);
    end loop;
    v_unchecked := v_unchecked + (clock_timestamp() - t0);
  end loop;
  checked_us := extract(epoch from v_checked) * 1e6 / (greatest(p_n / 500, 1) * 500);
  unchecked_us := extract(epoch from v_unchecked) * 1e6 / (greatest(p_n / 500, 1) * 500);
end
$$`

// checkCalls is how many calls of each timeBeginRequests makes.
const checkCalls = 20000

// timeCheckInSQL runs timeBeginRequests on a connection of the unchecked pool, as
// tenant t (a real, live session: the check does its full work).
func timeCheckInSQL(ctx context.Context, pool *pgxpool.Pool, t *tenant) (checked, unchecked float64, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, timeBeginRequests); err != nil {
		return 0, 0, err
	}
	// The settings the loop makes are transaction-local: they die with this statement.
	err = conn.QueryRow(ctx, `select checked_us, unchecked_us from pg_temp.time_begin_requests($1, $2, $3, $4)`,
		t.userID, t.sessionID, t.orgID, checkCalls).Scan(&checked, &unchecked)
	if _, derr := conn.Exec(ctx, `drop function pg_temp.time_begin_requests(uuid, uuid, uuid, int)`); err == nil {
		err = derr
	}
	return checked, unchecked, err
}

// revocationTarget: the check may cost at most this fraction of a request.
const revocationTarget = 0.05

// openUncheckedPool is a pool like the direct one whose connections carry the
// unchecked begin_request.
func openUncheckedPool(ctx context.Context, direct *pgxpool.Pool) (*pgxpool.Pool, error) {
	cfg := direct.Config().Copy()
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, uncheckedBeginRequest)
		return err
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// uncheckedOp lists a tenant's projects exactly as directOp does, without the check.
func uncheckedOp(pool *pgxpool.Pool, limit int) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		batch := &pgx.Batch{}
		batch.Queue(uncheckedBeginRequestSQL, t.userID, t.sessionID, t.orgID)
		batch.Queue(api.ListProjectsSQL, limit, nil)
		body, err := api.ReadRequestBatch(pool.SendBatch(ctx, batch))
		if err != nil {
			return "", fmt.Errorf("org %s: %w", t.orgID, err)
		}
		return checkPage(w, t, body, limit)
	}
}

// revocationCost compares phase "direct" (with the check) to "unchecked".
//
// The verdict is on CPU per request (this process + PostgreSQL) when it was measured:
// the check's own cost. Throughput is reported too, but on a shared machine it moves
// with the other processes' load (the CPU table's "other processes" column), which
// differs between phases by more than the check costs.
type revocationCost struct {
	// CPUCostPercent is the extra CPU per request with the check, in percent of the
	// unchecked request's. Nil when not measured.
	CPUCostPercent *float64 `json:"cost_percent_of_cpu,omitempty"`
	// ThroughputRatio is req/s with the check over req/s without it, and
	// ThroughputCostPercent 100 × (1 − ThroughputRatio).
	ThroughputRatio       float64 `json:"throughput_checked_over_unchecked"`
	ThroughputCostPercent float64 `json:"cost_percent_of_throughput"`
	P50Ratio              float64 `json:"p50_checked_over_unchecked"`
	// InSQL is the check timed inside one backend (timeBeginRequests): µs per call
	// with and without it, and the difference as a share of a direct request's CPU.
	InSQL         *checkInSQL `json:"in_sql,omitempty"`
	OthersPercent [2]float64  `json:"other_processes_percent_checked_unchecked,omitempty"`
	TargetPercent float64     `json:"target_percent"`
}

type checkInSQL struct {
	Calls           int     `json:"calls_each"`
	CheckedMicros   float64 `json:"checked_us_per_call"`
	UncheckedMicros float64 `json:"unchecked_us_per_call"`
	// CostPercent is (checked − unchecked) over the direct request's CPU per request.
	CostPercent float64 `json:"cost_percent_of_direct_request_cpu,omitempty"`
}

func newRevocationCost(checked, unchecked *phaseReport) *revocationCost {
	if checked == nil || unchecked == nil || unchecked.ReqPerSec <= 0 || unchecked.P50ms <= 0 {
		return nil
	}
	c := &revocationCost{
		ThroughputRatio:       round(checked.ReqPerSec/unchecked.ReqPerSec, 3),
		ThroughputCostPercent: round(100*(1-checked.ReqPerSec/unchecked.ReqPerSec), 1),
		P50Ratio:              round(checked.P50ms/unchecked.P50ms, 3),
		TargetPercent:         100 * revocationTarget,
	}
	if a, b := checked.CPU, unchecked.CPU; a != nil && b != nil && a.PostgresMicros > 0 && b.PostgresMicros > 0 {
		with, without := a.SelfMicros+a.PostgresMicros, b.SelfMicros+b.PostgresMicros
		cost := round(100*(with-without)/without, 1)
		c.CPUCostPercent = &cost
		c.OthersPercent = [2]float64{a.OthersPercent, b.OthersPercent}
	}
	return c
}

// addInSQL records timeCheckInSQL's figures, relative to the direct phase's CPU per request.
func (c *revocationCost) addInSQL(checkedMicros, uncheckedMicros float64, direct *phaseReport) {
	in := &checkInSQL{Calls: checkCalls, CheckedMicros: round(checkedMicros, 2), UncheckedMicros: round(uncheckedMicros, 2)}
	if direct != nil && direct.CPU != nil && direct.CPU.PostgresMicros > 0 {
		in.CostPercent = round(100*(checkedMicros-uncheckedMicros)/(direct.CPU.SelfMicros+direct.CPU.PostgresMicros), 1)
	}
	c.InSQL = in
}

func (c *revocationCost) writeText(w io.Writer) {
	cost, basis := c.ThroughputCostPercent, "throughput"
	if c.CPUCostPercent != nil {
		cost, basis = *c.CPUCostPercent, "CPU per request"
	}
	verdict := "meets"
	if cost > c.TargetPercent {
		verdict = "ABOVE"
	}
	fmt.Fprintf(w, "revocation check (direct vs unchecked)  %s %+.1f%% (%s the %.0f%% target)   throughput %.3f (%+.1f%%)   p50 %.2f×\n",
		basis, cost, verdict, c.TargetPercent, c.ThroughputRatio, -c.ThroughputCostPercent, c.P50Ratio)
	if in := c.InSQL; in != nil {
		fmt.Fprintf(w, "            in SQL, one backend, %d calls each: begin_request %.1f µs, without the check %.1f µs: %+.1f µs per request",
			in.Calls, in.CheckedMicros, in.UncheckedMicros, in.CheckedMicros-in.UncheckedMicros)
		if in.CostPercent != 0 {
			fmt.Fprintf(w, " = %.1f%% of a direct request's CPU", in.CostPercent)
		}
		fmt.Fprintln(w)
	}
	if c.CPUCostPercent != nil {
		fmt.Fprintf(w, "            other processes took %.0f%% / %.0f%% of the machine during direct / unchecked: throughput moves with that\n",
			c.OthersPercent[0], c.OthersPercent[1])
	}
}
