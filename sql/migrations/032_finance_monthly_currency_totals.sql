-- The monthly rollup without the category (issue 19), beside 029's: what the summary and
-- the monthly trends read for a period's months. 029 chose one monthly table (the
-- per-currency totals of a month being its rows summed over categories); measured, those
-- sums cost more than the read: a 24-month period of a large ledger summed ~860 rows per
-- request (24 months × kinds × currencies × 12 categories), and a summary in a base
-- currency sorted them all to convert each month at its rate. This table holds 24 × kinds ×
-- currencies (~144) for the same period, as app.finance_daily_currency_totals does for the
-- days. Written only by the statement triggers of app.financial_records, in the same
-- transaction as the records and the other rollups (app.maintain_finance_totals,
-- sql/kernel/finance.sql): one more upsert in the same statement.
set local role rowguard_owner;

create table app.finance_monthly_currency_totals (
  org_id       uuid not null,
  project_id   uuid not null,
  month        date not null,
  kind         app.finance_kind not null,
  currency     text not null,
  record_count bigint not null,
  amount_sum   numeric not null,
  primary key (org_id, project_id, month, kind, currency),
  constraint finance_monthly_currency_totals_month_check check (month = date_trunc('month', month)::date),
  constraint finance_monthly_currency_totals_currency_check check (app.is_iso_currency(currency)),
  constraint finance_monthly_currency_totals_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade
);
comment on table app.finance_monthly_currency_totals is
  'Count and sum of the live financial records per project × calendar month (its first day) × kind × currency: app.finance_monthly_totals summed over categories. Written only by app.maintain_finance_totals; a row whose count reaches 0 is removed.';

reset role;

-- The existing ledgers, read as the migrating role (the owner is under FORCE ROW LEVEL
-- SECURITY and would see none of them: the same note as 023, 026 and 029), from the
-- monthly rollup, which already holds exactly the live records.
insert into app.finance_monthly_currency_totals (org_id, project_id, month, kind, currency, record_count, amount_sum)
select t.org_id, t.project_id, t.month, t.kind, t.currency, sum(t.record_count), sum(t.amount_sum)
  from app.finance_monthly_totals t
 group by t.org_id, t.project_id, t.month, t.kind, t.currency
having sum(t.record_count) <> 0;

---- create above / drop below ----

set local role rowguard_owner;
drop table app.finance_monthly_currency_totals;
reset role;
