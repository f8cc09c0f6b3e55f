package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rowguard/rowguard/api"
)

// The cost of instant revocation. auth.begin_request reads the session row on every
// request (revoked? past its lifetime? idle?) in the same query that checks membership
// and suspension. To know what that read costs, the run installs a copy of
// begin_request without it — and with everything else: the same SECURITY DEFINER
// owner (rowguard_kernel), search_path, membership and suspension query, and settings;
// without its enable_seqscan = off too, which serves the session read alone —
// into a scratch schema, for the length of the run, and measures the two the same way:
//
//   - phase "unchecked": the direct phase's batch (same pool, same request id
//     parameter) calling the copy instead; throughput and CPU per request end to end;
//   - inside one backend: whole requests (begin_request, then the projects list), each
//     its own transaction, in alternating blocks with and without the check. Free of
//     the network, the client and the other processes' noise, this measures the check
//     itself; see revocationCost for the verdict.
//
// Both need the superuser URL (the private cluster, or -database-url).

// scratchSchema holds the copy and the timing procedure during a run; dropped after.
const scratchSchema = "rowguard_load"

// installRevocationProbe is run as the superuser. The copy must stay begin_request
// (sql/migrations, latest redefinition) minus the session read: see
// TestUncheckedCopyMatchesBeginRequest.
const installRevocationProbe = `
drop schema if exists rowguard_load cascade;
create schema rowguard_load;

create function rowguard_load.begin_request_unchecked(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_member    boolean;
  v_suspended boolean;
  v_set       text;
begin
  select p_org_id is null
           or (exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id)
               and exists (select from app.organizations o where o.id = p_org_id and o.deleted_at is null)),
         p_org_id is not null
           and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null)
    into v_member, v_suspended;
  if not v_member then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if v_suspended then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  v_set := pg_catalog.set_config('app.user_id', p_user_id::text, true);
  v_set := pg_catalog.set_config('app.session_id', p_session_id::text, true);
  v_set := pg_catalog.set_config('app.org_id', coalesce(p_org_id::text, ''), true);
end
$$;
alter function rowguard_load.begin_request_unchecked(uuid, uuid, uuid) owner to rowguard_kernel;

-- Whole requests as the caller (SECURITY INVOKER: the API role, under RLS), each its
-- own transaction (COMMIT: locks, snapshot and plan revalidation every time, as for a
-- real request): one block of p_n, with the check or without it. The client alternates
-- the blocks and reads the backend's CPU time around each (timeRequestsInBackend).
create procedure rowguard_load.time_block(p_user_id uuid, p_session_id uuid, p_org_id uuid,
  p_limit int, p_checked boolean, p_n int, inout wall_us float8 default null)
language plpgsql as $$
declare
  t0     timestamptz := clock_timestamp();
  v_body json;
begin
  for i in 1 .. p_n loop
    if p_checked then
      perform auth.begin_request(p_user_id, p_session_id, p_org_id), pg_catalog.set_config('app.request_id', 'timing', true);
    else
      perform rowguard_load.begin_request_unchecked(p_user_id, p_session_id, p_org_id), pg_catalog.set_config('app.request_id', 'timing', true);
    end if;
    v_body := api.list_projects(p_limit, null);
    commit;
  end loop;
  wall_us := extract(epoch from clock_timestamp() - t0) * 1e6;
end
$$;

grant usage on schema rowguard_load to rowguard_api;
grant execute on function rowguard_load.begin_request_unchecked(uuid, uuid, uuid) to rowguard_api;
grant execute on procedure rowguard_load.time_block(uuid, uuid, uuid, int, boolean, int, float8) to rowguard_api;
`

// installProbe creates the scratch schema; the returned function drops it.
func installProbe(ctx context.Context, adminURL string) (drop func(), err error) {
	if adminURL == "" {
		return nil, fmt.Errorf("phase unchecked needs the superuser URL (the private cluster, or -database-url) to install its copy of auth.begin_request")
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, installRevocationProbe); err != nil {
		return nil, fmt.Errorf("installing %s: %w", scratchSchema, err)
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		if conn, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = conn.Exec(ctx, `drop schema if exists `+scratchSchema+` cascade`)
			_ = conn.Close(ctx)
		}
	}, nil
}

// uncheckedBeginRequestSQL is api.BeginRequestSQL calling the copy: the same
// parameters (the request id included) and the same shape.
var uncheckedBeginRequestSQL = func() string {
	const real, copy = "auth.begin_request(", scratchSchema + ".begin_request_unchecked("
	if !strings.Contains(api.BeginRequestSQL, real) {
		panic("tests/load: api.BeginRequestSQL no longer calls " + real)
	}
	return strings.Replace(api.BeginRequestSQL, real, copy, 1)
}()

// uncheckedOp lists a tenant's projects exactly as directOp does, on the same pool,
// without the check.
func uncheckedOp(pool *pgxpool.Pool, limit int) op {
	return func(ctx context.Context, w *worker, t *tenant) (string, error) {
		batch := &pgx.Batch{}
		batch.Queue(uncheckedBeginRequestSQL, t.userID, t.sessionID, t.orgID, uuid.NewString())
		batch.Queue(api.ListProjectsSQL, limit, nil)
		body, err := api.ReadRequestBatch(pool.SendBatch(ctx, batch))
		if err != nil {
			return "", fmt.Errorf("org %s: %w", t.orgID, err)
		}
		return checkPage(w, t, body, limit)
	}
}

// backendBlocks blocks of backendBlockSize requests each way are timed inside one backend.
const (
	backendBlocks    = 100
	backendBlockSize = 100
)

// backendTiming is what timeRequestsInBackend measured, µs per request.
type backendTiming struct {
	// CPU: the backend's own time on a CPU (/proc/<pid>/schedstat), summed over the
	// blocks; MedianCostCPU the median over block pairs of (checked − unchecked). Zero
	// (CPUOK false) when the backend is not a process of this machine that we can read.
	CPUOK                      bool
	CheckedCPU, UncheckedCPU   float64
	MedianCostCPU              float64
	CheckedWait, UncheckedWait float64 // time the backend waited for a CPU (runqueue)
	// Wall: clock time inside the backend (what the verdict used to be).
	CheckedWall, UncheckedWall float64
}

// timeRequestsInBackend runs rowguard_load.time_block on one connection of pool (the
// API role) as tenant t — a real, live session, so the check does its full work — in
// alternating blocks with and without the check (the order flips every pair), and
// reads the backend's CPU time (pg_backend_pid's /proc/<pid>/schedstat) around each
// block. CPU time, unlike wall time, does not count the time the backend waits for a
// CPU, so the figure does not move with whatever else the machine runs.
func timeRequestsInBackend(ctx context.Context, pool *pgxpool.Pool, t *tenant, limit int) (backendTiming, error) {
	var bt backendTiming
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return bt, err
	}
	defer conn.Release()
	var pid int
	if err := conn.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
		return bt, err
	}
	// A backend of another machine (-database-url) has no /proc entry here, or another
	// process's: only a local postgres process counts.
	comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	_, _, bt.CPUOK = schedStat(pid)
	bt.CPUOK = bt.CPUOK && strings.TrimSpace(string(comm)) == "postgres"
	var costs []float64 // per pair, µs per request
	var wall [2]float64
	var cpu, wait [2]time.Duration
	for b := range backendBlocks {
		var pair [2]time.Duration
		order := []bool{true, false}
		if b%2 == 1 {
			order = []bool{false, true}
		}
		for _, checked := range order {
			i := 1
			if checked {
				i = 0
			}
			c0, w0, _ := schedStat(pid)
			var us float64
			if err := conn.QueryRow(ctx, `call rowguard_load.time_block($1, $2, $3, $4, $5, $6)`,
				t.userID, t.sessionID, t.orgID, limit, checked, backendBlockSize).Scan(&us); err != nil {
				return bt, err
			}
			c1, w1, ok := schedStat(pid)
			bt.CPUOK = bt.CPUOK && ok
			wall[i] += us
			pair[i] = c1 - c0
			cpu[i] += c1 - c0
			wait[i] += w1 - w0
		}
		costs = append(costs, float64(pair[0]-pair[1])/1e3/backendBlockSize)
	}
	n := float64(backendBlocks * backendBlockSize)
	bt.CheckedWall, bt.UncheckedWall = wall[0]/n, wall[1]/n
	if bt.CPUOK {
		bt.CheckedCPU, bt.UncheckedCPU = float64(cpu[0])/1e3/n, float64(cpu[1])/1e3/n
		bt.CheckedWait, bt.UncheckedWait = float64(wait[0])/1e3/n, float64(wait[1])/1e3/n
		bt.MedianCostCPU = median(costs)
	}
	return bt, nil
}

// revocationTarget: the check may cost at most this fraction of a request.
const revocationTarget = 0.05

// revocationCost compares requests with the check to requests without it.
//
// The check's cost is measured where it happens: in one backend, whole requests with
// and without it, same run (Backend). The verdict divides that difference by what a
// direct request costs in the same run (CPU of the load client and of PostgreSQL per
// request: the request without HTTP, the smallest denominator of a whole request);
// the share of the in-backend request time alone, and of an API request's CPU, are
// reported beside it. The end-to-end phases direct and unchecked are reported too,
// round by round: on a shared 2-core machine they move between rounds by more than the
// check costs, which is why they are not the verdict.
type revocationCost struct {
	Backend *backendCost `json:"backend,omitempty"`
	// ThroughputRatio is req/s with the check over req/s without it, summed over
	// rounds; RoundRatios the same per round; ThroughputCostPercent 100 × (1 − ratio).
	ThroughputRatio       float64   `json:"throughput_checked_over_unchecked"`
	RoundRatios           []float64 `json:"throughput_ratio_per_round,omitempty"`
	ThroughputCostPercent float64   `json:"cost_percent_of_throughput"`
	P50Ratio              float64   `json:"p50_checked_over_unchecked"`
	// CPUCostPercent is the extra CPU per request of phase direct over phase
	// unchecked (this process and PostgreSQL), in percent. Nil when not measured.
	CPUCostPercent *float64   `json:"cost_percent_of_cpu,omitempty"`
	OthersPercent  [2]float64 `json:"other_processes_percent_checked_unchecked,omitempty"`
	TargetPercent  float64    `json:"target_percent"`
}

type backendCost struct {
	Requests int `json:"requests_each"`
	// Measure is "cpu" (the backend's CPU time: the verdict) or "wall" (clock time in
	// the backend, when its CPU time cannot be read: moves with the machine's load).
	Measure         string  `json:"measure"`
	CheckedMicros   float64 `json:"checked_us_per_request"`
	UncheckedMicros float64 `json:"unchecked_us_per_request"`
	// CostMicros is the median over alternating block pairs of checked − unchecked.
	CostMicros float64 `json:"cost_us_per_request"`
	// Wall-clock inside the backend, and (CPU measure) the time it waited for a CPU.
	CheckedWallMicros   float64 `json:"checked_wall_us_per_request"`
	UncheckedWallMicros float64 `json:"unchecked_wall_us_per_request"`
	WaitMicros          float64 `json:"runqueue_wait_us_per_request,omitempty"`
	// The cost as a share of: the in-backend request without the check; a direct
	// request's CPU (the verdict); an API request's CPU. Zero when unknown.
	PercentOfBackend       float64 `json:"cost_percent_of_backend"`
	PercentOfDirectRequest float64 `json:"cost_percent_of_direct_request_cpu,omitempty"`
	PercentOfAPIRequest    float64 `json:"cost_percent_of_api_request_cpu,omitempty"`
	DirectRequestMicros    float64 `json:"direct_request_cpu_us,omitempty"`
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

// requestCPU is a phase's CPU per request (this process + PostgreSQL), or 0.
func requestCPU(p *phaseReport) float64 {
	if p == nil || p.CPU == nil || p.CPU.PostgresMicros <= 0 {
		return 0
	}
	return p.CPU.SelfMicros + p.CPU.PostgresMicros
}

func (c *revocationCost) addBackend(bt backendTiming, direct, api *phaseReport) {
	b := &backendCost{
		Requests:            backendBlocks * backendBlockSize,
		Measure:             "wall",
		CheckedMicros:       round(bt.CheckedWall, 1),
		UncheckedMicros:     round(bt.UncheckedWall, 1),
		CostMicros:          round(bt.CheckedWall-bt.UncheckedWall, 1),
		CheckedWallMicros:   round(bt.CheckedWall, 1),
		UncheckedWallMicros: round(bt.UncheckedWall, 1),
	}
	if bt.CPUOK {
		b.Measure = "cpu"
		b.CheckedMicros, b.UncheckedMicros = round(bt.CheckedCPU, 1), round(bt.UncheckedCPU, 1)
		b.CostMicros = round(bt.MedianCostCPU, 1)
		b.WaitMicros = round((bt.CheckedWait+bt.UncheckedWait)/2, 1)
	}
	cost := b.CostMicros
	if b.UncheckedMicros > 0 {
		b.PercentOfBackend = round(100*cost/b.UncheckedMicros, 1)
	}
	if d := requestCPU(direct); d > 0 {
		b.DirectRequestMicros = round(d, 0)
		b.PercentOfDirectRequest = round(100*cost/d, 1)
	}
	if a := requestCPU(api); a > 0 {
		b.PercentOfAPIRequest = round(100*cost/a, 1)
	}
	c.Backend = b
}

func (c *revocationCost) writeText(w io.Writer) {
	fmt.Fprintf(w, "revocation check (same run; target ≤ %.0f%% of a request)\n", c.TargetPercent)
	if b := c.Backend; b != nil {
		if b.Measure == "cpu" {
			fmt.Fprintf(w, "  %+.1f µs of backend CPU per request (median of %d alternating block pairs; %d whole requests each way, own transactions; mean %.1f vs %.1f µs CPU)\n",
				b.CostMicros, backendBlocks, b.Requests, b.CheckedMicros, b.UncheckedMicros)
			fmt.Fprintf(w, "    wall-clock in the backend, not the verdict: %.1f vs %.1f µs, of which %.1f µs waiting for a CPU\n",
				b.CheckedWallMicros, b.UncheckedWallMicros, b.WaitMicros)
		} else {
			fmt.Fprintf(w, "  %+.1f µs per request WALL-CLOCK (the backend's CPU time cannot be read here: this moves with the machine's load): one backend, %d whole requests each way, alternating (%.1f vs %.1f µs)\n",
				b.CostMicros, b.Requests, b.CheckedMicros, b.UncheckedMicros)
		}
		if b.PercentOfDirectRequest != 0 {
			verdict := "meets"
			if b.PercentOfDirectRequest > c.TargetPercent {
				verdict = "ABOVE"
			}
			fmt.Fprintf(w, "  = %.1f%% of a direct request's CPU (%.0f µs, load client + PostgreSQL): %s the target\n",
				b.PercentOfDirectRequest, b.DirectRequestMicros, verdict)
		}
		fmt.Fprintf(w, "    (%.1f%% of the in-backend request alone", b.PercentOfBackend)
		if b.PercentOfAPIRequest != 0 {
			fmt.Fprintf(w, "; %.1f%% of an API request's CPU", b.PercentOfAPIRequest)
		}
		fmt.Fprintln(w, ")")
	}
	fmt.Fprintf(w, "  end to end, phase direct vs unchecked: throughput %.3f (%+.1f%%)", c.ThroughputRatio, -c.ThroughputCostPercent)
	if len(c.RoundRatios) > 1 {
		fmt.Fprintf(w, ", per round")
		for _, r := range c.RoundRatios {
			fmt.Fprintf(w, " %.3f", r)
		}
	}
	if c.CPUCostPercent != nil {
		fmt.Fprintf(w, "; CPU per request %+.1f%%", *c.CPUCostPercent)
	}
	fmt.Fprintf(w, "; p50 %.2f×\n", c.P50Ratio)
	if c.CPUCostPercent != nil {
		fmt.Fprintf(w, "  other processes took %.0f%% / %.0f%% of the machine during direct / unchecked: the end-to-end figures move with that\n",
			c.OthersPercent[0], c.OthersPercent[1])
	}
}
