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
begin
  perform set_config('app.user_id', p_user_id::text, true);
  perform set_config('app.session_id', p_session_id::text, true);
  perform set_config('app.org_id', coalesce(p_org_id::text, ''), true);
  if p_org_id is not null and app.current_org_role() is null then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
end
$$`

const uncheckedBeginRequestSQL = `select pg_temp.begin_request_unchecked($1::uuid, $2::uuid, $3::uuid)`

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
type revocationCost struct {
	// ThroughputRatio is req/s with the check over req/s without it.
	ThroughputRatio float64 `json:"throughput_checked_over_unchecked"`
	// CostPercent is 100 × (1 − ThroughputRatio): the share of a request's
	// throughput the check takes.
	CostPercent float64 `json:"cost_percent_of_throughput"`
	// CPUCostPercent is the extra CPU (this process + PostgreSQL) per request with
	// the check, in percent of the unchecked request's. 0 when not measured.
	CPUCostPercent float64 `json:"cost_percent_of_cpu,omitempty"`
	P50Ratio       float64 `json:"p50_checked_over_unchecked"`
	TargetPercent  float64 `json:"target_percent"`
}

func newRevocationCost(checked, unchecked *phaseReport) *revocationCost {
	if checked == nil || unchecked == nil || unchecked.ReqPerSec <= 0 || unchecked.P50ms <= 0 {
		return nil
	}
	c := &revocationCost{
		ThroughputRatio: round(checked.ReqPerSec/unchecked.ReqPerSec, 3),
		P50Ratio:        round(checked.P50ms/unchecked.P50ms, 3),
		TargetPercent:   100 * revocationTarget,
	}
	c.CostPercent = round(100*(1-checked.ReqPerSec/unchecked.ReqPerSec), 1)
	if a, b := checked.CPU, unchecked.CPU; a != nil && b != nil && a.PostgresMicros > 0 && b.PostgresMicros > 0 {
		with, without := a.SelfMicros+a.PostgresMicros, b.SelfMicros+b.PostgresMicros
		c.CPUCostPercent = round(100*(with-without)/without, 1)
	}
	return c
}

func (c *revocationCost) writeText(w io.Writer) {
	verdict := "meets"
	if c.CostPercent > c.TargetPercent {
		verdict = "ABOVE"
	}
	fmt.Fprintf(w, "revocation check (direct vs unchecked)  throughput %.3f → cost %.1f%% (%s the %.0f%% target)   p50 %.2f×",
		c.ThroughputRatio, c.CostPercent, verdict, c.TargetPercent, c.P50Ratio)
	if c.CPUCostPercent != 0 {
		fmt.Fprintf(w, "   CPU per request %+.1f%%", c.CPUCostPercent)
	}
	fmt.Fprintln(w)
}
