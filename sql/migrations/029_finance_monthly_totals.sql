-- The monthly rollup the analytics read for whole months (issue 19). The daily rollups
-- (013) hold a row per day × kind × currency (× category): a 24-month summary of a large
-- ledger summed ~4,000 of them, the category breakdown ~26,000. This table holds the same
-- sums per calendar month × kind × currency × category, so a period reads its whole months
-- here (≤ 12 categories × 3 currencies a month in practice) and only its partial first and
-- last months from the daily rollups. Like them it is written only by the statement
-- triggers of app.financial_records, in the same transaction as the records
-- (app.maintain_finance_totals, sql/kernel/finance.sql). The per-currency totals of a
-- month are this table summed over categories: no second monthly table, one more upsert
-- per write instead of two.
set local role rowguard_owner;

create table app.finance_monthly_totals (
  org_id       uuid not null,
  project_id   uuid not null,
  month        date not null,
  kind         app.finance_kind not null,
  currency     text not null,
  category_id  uuid not null,
  record_count bigint not null,
  amount_sum   numeric not null,
  primary key (org_id, project_id, month, kind, currency, category_id),
  constraint finance_monthly_totals_month_check check (month = date_trunc('month', month)::date),
  constraint finance_monthly_totals_currency_check check (app.is_iso_currency(currency)),
  constraint finance_monthly_totals_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade,
  constraint finance_monthly_totals_category_fkey foreign key (org_id, category_id)
    references app.finance_categories (org_id, id) on delete cascade
);
comment on table app.finance_monthly_totals is
  'Count and sum of the live financial records per project × calendar month (its first day) × kind × currency × category: app.finance_daily_totals summed per month. Written only by app.maintain_finance_totals; a row whose count reaches 0 is removed.';

reset role;

-- The existing ledgers, read as the migrating role: the owner is under FORCE ROW LEVEL
-- SECURITY and would see none of them (the same note as 023 and 026). From the daily
-- rollup, which already holds exactly the live records.
insert into app.finance_monthly_totals (org_id, project_id, month, kind, currency, category_id, record_count, amount_sum)
select t.org_id, t.project_id, date_trunc('month', t.day)::date, t.kind, t.currency, t.category_id,
       sum(t.record_count), sum(t.amount_sum)
  from app.finance_daily_totals t
 group by t.org_id, t.project_id, date_trunc('month', t.day)::date, t.kind, t.currency, t.category_id
having sum(t.record_count) <> 0;

---- create above / drop below ----

set local role rowguard_owner;
drop table app.finance_monthly_totals;
reset role;
