-- Finance: record versions (If-Match) and the rollups analytics read (daily, and monthly
-- for the months of a period: migrations 029 and 032).
-- Part of the kernel code package (install.sql).

create or replace function app.bump_financial_record_version() returns trigger
language plpgsql as $$
begin
  new.version := old.version + 1;
  new.updated_at := now();
  return new;
end
$$;
comment on function app.bump_financial_record_version() is 'BEFORE UPDATE on financial_records: version + 1 and updated_at now, whatever the client sent.';

set local role rowguard_kernel;

create or replace function app.maintain_finance_totals() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_orgs     uuid[];
  v_projects uuid[];
  v_days     date[];
begin
  -- The four rollups in one statement, per kind of trigger (a trigger on INSERT has no
  -- old_rows, one on DELETE no new_rows): static statements, so PL/pgSQL keeps their
  -- plans (the function is compiled per trigger). One dynamic statement served the three
  -- and was planned again at every write (~0.8 ms a record, tests/load -writes). The three
  -- copies differ only in where the deltas come from: change them together.
  -- Sorted, so concurrent statements lock rollup rows in one order (no deadlock). Rows of
  -- a project being deleted are skipped (the exists): its rollup goes with it; an INSERT
  -- can only add rows to a project that exists (their foreign key), so it skips the test.
  -- The keys whose count fell to 0 come back for the clean-up below (days and months in
  -- one array: a month is its first day, and each clean-up only removes rows whose count
  -- is 0).
  if tg_op = 'INSERT' then
    with deltas as (
      select d.* from (select n.org_id, n.project_id, n.occurred_on as day, n.kind, n.currency, n.category_id,
                    1 as n, n.amount
               from new_rows n where n.deleted_at is null) d),
    by_category as (
      insert into app.finance_daily_totals as t
             (org_id, project_id, day, kind, currency, category_id, record_count, amount_sum)
      select d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id, sum(d.n), sum(d.amount)
        from deltas d
       group by d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id
      on conflict (org_id, project_id, day, kind, currency, category_id) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.day, t.record_count),
    by_currency as (
      insert into app.finance_daily_currency_totals as t
             (org_id, project_id, day, kind, currency, record_count, amount_sum)
      select d.org_id, d.project_id, d.day, d.kind, d.currency, sum(d.n), sum(d.amount)
        from deltas d
       group by d.org_id, d.project_id, d.day, d.kind, d.currency
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by d.org_id, d.project_id, d.day, d.kind, d.currency
      on conflict (org_id, project_id, day, kind, currency) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.day, t.record_count),
    by_month as (
      insert into app.finance_monthly_totals as t
             (org_id, project_id, month, kind, currency, category_id, record_count, amount_sum)
      select d.org_id, d.project_id, pg_catalog.date_trunc('month', d.day)::date, d.kind, d.currency, d.category_id,
             sum(d.n), sum(d.amount)
        from deltas d
       group by 1, 2, 3, 4, 5, 6
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by 1, 2, 3, 4, 5, 6
      on conflict (org_id, project_id, month, kind, currency, category_id) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.month, t.record_count),
    by_month_currency as (
      insert into app.finance_monthly_currency_totals as t
             (org_id, project_id, month, kind, currency, record_count, amount_sum)
      select d.org_id, d.project_id, pg_catalog.date_trunc('month', d.day)::date, d.kind, d.currency,
             sum(d.n), sum(d.amount)
        from deltas d
       group by 1, 2, 3, 4, 5
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by 1, 2, 3, 4, 5
      on conflict (org_id, project_id, month, kind, currency) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.month, t.record_count),
    emptied as (
      select u.org_id, u.project_id, u.day from by_category u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.day from by_currency u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.month from by_month u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.month from by_month_currency u where u.record_count = 0)
    select pg_catalog.array_agg(distinct u.org_id), pg_catalog.array_agg(distinct u.project_id),
           pg_catalog.array_agg(distinct u.day)
      into v_orgs, v_projects, v_days
      from emptied u;
  elsif tg_op = 'DELETE' then
    with deltas as (
      select d.* from (select o.org_id, o.project_id, o.occurred_on as day, o.kind, o.currency, o.category_id,
                    -1 as n, -o.amount as amount
               from old_rows o where o.deleted_at is null) d
       where exists (select from app.projects p where p.org_id = d.org_id and p.id = d.project_id)),
    by_category as (
      insert into app.finance_daily_totals as t
             (org_id, project_id, day, kind, currency, category_id, record_count, amount_sum)
      select d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id, sum(d.n), sum(d.amount)
        from deltas d
       group by d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id
      on conflict (org_id, project_id, day, kind, currency, category_id) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.day, t.record_count),
    by_currency as (
      insert into app.finance_daily_currency_totals as t
             (org_id, project_id, day, kind, currency, record_count, amount_sum)
      select d.org_id, d.project_id, d.day, d.kind, d.currency, sum(d.n), sum(d.amount)
        from deltas d
       group by d.org_id, d.project_id, d.day, d.kind, d.currency
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by d.org_id, d.project_id, d.day, d.kind, d.currency
      on conflict (org_id, project_id, day, kind, currency) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.day, t.record_count),
    by_month as (
      insert into app.finance_monthly_totals as t
             (org_id, project_id, month, kind, currency, category_id, record_count, amount_sum)
      select d.org_id, d.project_id, pg_catalog.date_trunc('month', d.day)::date, d.kind, d.currency, d.category_id,
             sum(d.n), sum(d.amount)
        from deltas d
       group by 1, 2, 3, 4, 5, 6
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by 1, 2, 3, 4, 5, 6
      on conflict (org_id, project_id, month, kind, currency, category_id) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.month, t.record_count),
    by_month_currency as (
      insert into app.finance_monthly_currency_totals as t
             (org_id, project_id, month, kind, currency, record_count, amount_sum)
      select d.org_id, d.project_id, pg_catalog.date_trunc('month', d.day)::date, d.kind, d.currency,
             sum(d.n), sum(d.amount)
        from deltas d
       group by 1, 2, 3, 4, 5
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by 1, 2, 3, 4, 5
      on conflict (org_id, project_id, month, kind, currency) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.month, t.record_count),
    emptied as (
      select u.org_id, u.project_id, u.day from by_category u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.day from by_currency u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.month from by_month u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.month from by_month_currency u where u.record_count = 0)
    select pg_catalog.array_agg(distinct u.org_id), pg_catalog.array_agg(distinct u.project_id),
           pg_catalog.array_agg(distinct u.day)
      into v_orgs, v_projects, v_days
      from emptied u;
  else
    with deltas as (
      select d.* from (select o.org_id, o.project_id, o.occurred_on as day, o.kind, o.currency, o.category_id,
                    -1 as n, -o.amount as amount
               from old_rows o where o.deleted_at is null
             union all
             select n.org_id, n.project_id, n.occurred_on as day, n.kind, n.currency, n.category_id,
                    1 as n, n.amount
               from new_rows n where n.deleted_at is null) d
       where exists (select from app.projects p where p.org_id = d.org_id and p.id = d.project_id)),
    by_category as (
      insert into app.finance_daily_totals as t
             (org_id, project_id, day, kind, currency, category_id, record_count, amount_sum)
      select d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id, sum(d.n), sum(d.amount)
        from deltas d
       group by d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by d.org_id, d.project_id, d.day, d.kind, d.currency, d.category_id
      on conflict (org_id, project_id, day, kind, currency, category_id) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.day, t.record_count),
    by_currency as (
      insert into app.finance_daily_currency_totals as t
             (org_id, project_id, day, kind, currency, record_count, amount_sum)
      select d.org_id, d.project_id, d.day, d.kind, d.currency, sum(d.n), sum(d.amount)
        from deltas d
       group by d.org_id, d.project_id, d.day, d.kind, d.currency
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by d.org_id, d.project_id, d.day, d.kind, d.currency
      on conflict (org_id, project_id, day, kind, currency) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.day, t.record_count),
    by_month as (
      insert into app.finance_monthly_totals as t
             (org_id, project_id, month, kind, currency, category_id, record_count, amount_sum)
      select d.org_id, d.project_id, pg_catalog.date_trunc('month', d.day)::date, d.kind, d.currency, d.category_id,
             sum(d.n), sum(d.amount)
        from deltas d
       group by 1, 2, 3, 4, 5, 6
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by 1, 2, 3, 4, 5, 6
      on conflict (org_id, project_id, month, kind, currency, category_id) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.month, t.record_count),
    by_month_currency as (
      insert into app.finance_monthly_currency_totals as t
             (org_id, project_id, month, kind, currency, record_count, amount_sum)
      select d.org_id, d.project_id, pg_catalog.date_trunc('month', d.day)::date, d.kind, d.currency,
             sum(d.n), sum(d.amount)
        from deltas d
       group by 1, 2, 3, 4, 5
      having sum(d.n) <> 0 or sum(d.amount) <> 0
       order by 1, 2, 3, 4, 5
      on conflict (org_id, project_id, month, kind, currency) do update
         set record_count = t.record_count + excluded.record_count,
             amount_sum   = t.amount_sum + excluded.amount_sum
      returning t.org_id, t.project_id, t.month, t.record_count),
    emptied as (
      select u.org_id, u.project_id, u.day from by_category u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.day from by_currency u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.month from by_month u where u.record_count = 0
      union all
      select u.org_id, u.project_id, u.month from by_month_currency u where u.record_count = 0)
    select pg_catalog.array_agg(distinct u.org_id), pg_catalog.array_agg(distinct u.project_id),
           pg_catalog.array_agg(distinct u.day)
      into v_orgs, v_projects, v_days
      from emptied u;
  end if;

  -- A rollup row whose records all left (deleted, moved) goes too.
  if v_projects is not null then
    delete from app.finance_daily_totals t
     where t.org_id = any (v_orgs) and t.project_id = any (v_projects) and t.day = any (v_days)
       and t.record_count = 0;
    delete from app.finance_daily_currency_totals t
     where t.org_id = any (v_orgs) and t.project_id = any (v_projects) and t.day = any (v_days)
       and t.record_count = 0;
    delete from app.finance_monthly_totals t
     where t.org_id = any (v_orgs) and t.project_id = any (v_projects) and t.month = any (v_days)
       and t.record_count = 0;
    delete from app.finance_monthly_currency_totals t
     where t.org_id = any (v_orgs) and t.project_id = any (v_projects) and t.month = any (v_days)
       and t.record_count = 0;
  end if;
  return null;
end
$$;
comment on function app.maintain_finance_totals() is
  'AFTER INSERT / UPDATE / DELETE (per statement) on financial_records: applies the change of the live rows to app.finance_daily_totals, app.finance_daily_currency_totals, app.finance_monthly_totals and app.finance_monthly_currency_totals in the same transaction.';
grant execute on function app.maintain_finance_totals() to rowguard_owner;

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger financial_records_bump_version before update on app.financial_records
  for each row execute function app.bump_financial_record_version();
create or replace trigger financial_records_totals_delete after delete on app.financial_records
  referencing old table as old_rows
  for each statement execute function app.maintain_finance_totals();
create or replace trigger financial_records_totals_insert after insert on app.financial_records
  referencing new table as new_rows
  for each statement execute function app.maintain_finance_totals();
create or replace trigger financial_records_totals_update after update on app.financial_records
  referencing old table as old_rows new table as new_rows
  for each statement execute function app.maintain_finance_totals();
