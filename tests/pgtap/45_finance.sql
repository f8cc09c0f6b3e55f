-- Finance: cross-tenant isolation of the ledger, its rollup and rates; the composite keys
-- (a record's category is of its project and kind); the rollup follows every insert,
-- update, soft delete, restore and hard delete in the same transaction; the plan limit.
begin;
create extension if not exists pgtap;
select plan(43);
\ir fixtures/tenants.sql
\ir fixtures/projects.sql
\ir fixtures/finance.sql

-- The rollups of a project as text (per category | per currency | per month and category),
-- for exact comparisons.
create function pg_temp.totals(p_project uuid) returns text language sql as $$
  select coalesce((select string_agg(format('%s %s %s %s %s', day, kind, currency, record_count, amount_sum), '; '
                                     order by day, kind, currency, category_id)
                     from app.finance_daily_totals where project_id = p_project), '')
         || ' | ' ||
         coalesce((select string_agg(format('%s %s %s %s %s', day, kind, currency, record_count, amount_sum), '; '
                                     order by day, kind, currency)
                     from app.finance_daily_currency_totals where project_id = p_project), '')
         || ' | ' ||
         coalesce((select string_agg(format('%s %s %s %s %s', month, kind, currency, record_count, amount_sum), '; '
                                     order by month, kind, currency, category_id)
                     from app.finance_monthly_totals where project_id = p_project), '')
         || ' | ' ||
         coalesce((select string_agg(format('%s %s %s %s %s', month, kind, currency, record_count, amount_sum), '; '
                                     order by month, kind, currency)
                     from app.finance_monthly_currency_totals where project_id = p_project), '')
$$;
-- The same computed from the ledger by brute force.
create function pg_temp.brute(p_project uuid) returns text language sql as $$
  select coalesce((select string_agg(format('%s %s %s %s %s', day, kind, currency, n, s), '; '
                                     order by day, kind, currency, category_id)
                     from (select occurred_on as day, kind, currency, category_id, count(*) as n, sum(amount) as s
                             from app.financial_records where project_id = p_project and deleted_at is null
                            group by 1, 2, 3, 4) x), '')
         || ' | ' ||
         coalesce((select string_agg(format('%s %s %s %s %s', day, kind, currency, n, s), '; '
                                     order by day, kind, currency)
                     from (select occurred_on as day, kind, currency, count(*) as n, sum(amount) as s
                             from app.financial_records where project_id = p_project and deleted_at is null
                            group by 1, 2, 3) x), '')
         || ' | ' ||
         coalesce((select string_agg(format('%s %s %s %s %s', month, kind, currency, n, s), '; '
                                     order by month, kind, currency, category_id)
                     from (select date_trunc('month', occurred_on)::date as month, kind, currency, category_id,
                                  count(*) as n, sum(amount) as s
                             from app.financial_records where project_id = p_project and deleted_at is null
                            group by 1, 2, 3, 4) x), '')
         || ' | ' ||
         coalesce((select string_agg(format('%s %s %s %s %s', month, kind, currency, n, s), '; '
                                     order by month, kind, currency)
                     from (select date_trunc('month', occurred_on)::date as month, kind, currency,
                                  count(*) as n, sum(amount) as s
                             from app.financial_records where project_id = p_project and deleted_at is null
                            group by 1, 2, 3) x), '')
$$;

-- ------------------------------------------------ alice (OWNER of A) sees nothing of B
select pg_temp.act_as(:alice, :org_a);
select is((select count(*) from app.financial_records where org_id = :org_b), 0::bigint, 'A cannot see B''s records');
select is((select count(*) from app.finance_categories where org_id = :org_b), 0::bigint, 'A cannot see B''s categories');
select is((select count(*) from app.finance_daily_totals where org_id = :org_b)
          + (select count(*) from app.finance_daily_currency_totals where org_id = :org_b), 0::bigint, 'A cannot see B''s rollups');
select is((select count(*) from app.finance_monthly_totals where org_id = :org_b), 0::bigint, 'A cannot see B''s monthly rollup');
select is((select count(*) from app.finance_monthly_totals where org_id = :org_a), 1::bigint, 'sanity: A sees its own monthly rollup');
select is((select count(*) from app.finance_monthly_currency_totals where org_id = :org_b), 0::bigint, 'A cannot see B''s per-currency monthly rollup');
select is((select count(*) from app.finance_monthly_currency_totals where org_id = :org_a), 1::bigint, 'sanity: A sees its own per-currency monthly rollup');
select throws_ok($$insert into app.finance_monthly_totals (org_id, project_id, month, kind, currency, category_id, record_count, amount_sum)
                   values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', '2030-03-01', 'income', 'EUR', 'aaaaaaaa-0000-4000-8000-0000000001c1', 1, 1)$$,
                 '42501', null, 'not even an OWNER writes the monthly rollup');
select is((select count(*) from app.financial_records), 2::bigint, 'sanity: alice (finance MANAGE) sees Apollo''s live and deleted records');
select throws_ok($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by)
                   values ('bbbbbbbb-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'income', 1, 'USD', 'bbbbbbbb-0000-4000-8000-0000000001c1', 'cash', '2030-01-01', app.current_user_id(), app.current_user_id())$$,
                 '42501', null, 'A cannot insert a record into B''s project');
select throws_ok($$insert into app.finance_categories (org_id, project_id, kind, name) values ('bbbbbbbb-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'income', 'planted')$$,
                 '42501', null, 'A cannot insert a category into B''s project');
select is_empty($$update app.financial_records set amount = 1, updated_by = app.current_user_id() where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$,
                'A cannot change B''s records');
select is_empty($$update app.finance_categories set name = 'pwned' where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$,
                'A cannot rename B''s categories');
select throws_ok($$insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate) values ('bbbbbbbb-0000-4000-8000-000000000000', '2030-01-01', 'USD', 'EUR', 1)$$,
                 '42501', null, 'A cannot enter B''s exchange rates');
select throws_ok(format('select api.get_financial_record(%L, %L)', :proj_b, :rec_b1), 'RG404', 'project not found',
                 'the API answers 404 for B''s record');
select throws_ok(format('select api.finance_summary(%L, null, null, null)', :proj_b), 'RG404', 'project not found',
                 'the API answers 404 for B''s analytics');
-- The list reads its page before the guard (the guard runs only for an empty page): the
-- answers are those of checking first.
select throws_ok(format('select api.list_financial_records(%L, 50, null, false, null, null, null, null, null, null, null, null, null, null, null)', :proj_b),
                 'RG404', 'project not found', 'the API answers 404 for B''s records list');
select throws_ok(format('select api.list_financial_records(%L, 50, null, false, null, null, null, null, ''ABC'', null, null, null, null, null, null)', :proj_b),
                 'RG404', 'project not found', '... 404 before the unknown currency''s 422');
select throws_ok(format('select api.list_financial_records(%L, 50, null, false, null, null, null, null, ''ABC'', null, null, null, null, null, null)', :proj_a),
                 'RG422', null, 'an unknown currency in A''s own project: 422');
select is((api.list_financial_records(:proj_a, 50, null, true, null, null, null, null, null, null, null, null, null, null, null)::jsonb -> 'items' -> 0 ->> 'id')::uuid,
          :rec_a2::uuid, 'finance MANAGE lists the deleted record');
select is((api.list_financial_records(:proj_a, 50, null, false, null, null, null, null, null, null, null, null, null, null, null)::json -> 'items' -> 0)::text,
          (select api.financial_record_json(r)::text from app.financial_records r where r.id = :rec_a1),
          'the first page writes a record as api.financial_record_json does, byte for byte');

-- ------------------------------------------------ forged context: bob names org A
select pg_temp.act_as(:bob, :org_a);
select is((select count(*) from app.financial_records), 0::bigint, 'a stranger with a forged context reads no record');
select is((select count(*) from app.finance_daily_totals), 0::bigint, '... and no rollup');
select is((select count(*) from app.finance_monthly_totals), 0::bigint, '... nor any monthly one');

-- ------------------------------------------------ levels through the API functions
select pg_temp.act_as(:vic, :org_a);
select throws_ok(format('select api.create_finance_category(%L, %L)', :proj_a, '{"kind":"income","name":"X"}'), 'RG403', null,
                 'a VIEWER (finance READ) cannot create a category: 403');
select is((api.list_financial_records(:proj_a, 50, null, false, null, null, null, null, null, null, null, null, null, null, null)::jsonb -> 'items' -> 0 ->> 'id')::uuid,
          :rec_a1::uuid, 'a VIEWER lists the live record');
select is(current_setting('enable_sort'), 'on', 'the list plans its page without sorts and puts the setting back');
select throws_ok(format('select api.list_financial_records(%L, 50, null, true, null, null, null, null, null, null, null, null, null, null, null)', :proj_a),
                 'RG403', null, 'a VIEWER cannot list deleted records: 403');
select pg_temp.act_as(:mary, :org_a);
select throws_ok(format('select api.finance_trends(%L, ''month'', ''2030-01-01'', ''2030-12-31'')', :proj_a), 'RG404', 'project not found',
                 'an org MEMBER outside Apollo gets 404 for its analytics');

-- ------------------------------------------------ composite keys
select pg_temp.act_as_superuser();
select throws_ok(format($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on)
                         values (%L, %L, 'expense', 1, 'EUR', %L, 'cash', '2030-01-01')$$, :org_a, :proj_a, :cat_sales),
                 '23503', null, 'a record''s category must be of its kind');
select throws_ok(format($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on)
                         values (%L, %L, 'income', 1, 'EUR', %L, 'cash', '2030-01-01')$$, :org_a, :proj_a2, :cat_sales),
                 '23503', null, 'a record''s category must be of its project');
select throws_ok(format($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on)
                         values (%L, %L, 'income', 1, 'EUR', %L, 'cash', '2030-01-01')$$, :org_b, :proj_b, :cat_sales),
                 '23503', null, 'a record cannot take another tenant''s category');
select throws_ok(format($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on)
                         values (%L, %L, 'income', 1, 'ABC', %L, 'cash', '2030-01-01')$$, :org_a, :proj_a, :cat_sales),
                 '23514', null, 'currency must be ISO 4217');
select throws_ok(format($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on)
                         values (%L, %L, 'income', 0, 'EUR', %L, 'cash', '2030-01-01')$$, :org_a, :proj_a, :cat_sales),
                 '23514', null, 'amount must be positive');

-- ------------------------------------------------ the rollup follows the ledger
select is(pg_temp.totals(:proj_a), '2030-03-01 income EUR 1 120.50 | 2030-03-01 income EUR 1 120.50 | 2030-03-01 income EUR 1 120.50 | 2030-03-01 income EUR 1 120.50',
          'the fixture''s rollups: only the live record');
select pg_temp.act_as(:alice, :org_a);
insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by)
select :org_a, :proj_a, 'income', 10 * g, 'EUR', :cat_sales, 'cash', date '2030-03-01' + (g % 3), app.current_user_id(), app.current_user_id()
  from generate_series(1, 9) g;
update app.financial_records set amount = amount + 1, occurred_on = occurred_on + 1, updated_by = app.current_user_id()
 where project_id = :proj_a and amount in (10, 20, 30);
update app.financial_records set kind = 'expense', category_id = :cat_rent, currency = 'USD', updated_by = app.current_user_id()
 where project_id = :proj_a and amount in (40, 50);
update app.financial_records set occurred_on = '2030-04-30', updated_by = app.current_user_id() where project_id = :proj_a and amount in (80, 90);
update app.financial_records set occurred_on = '2030-02-28', updated_by = app.current_user_id() where project_id = :proj_a and amount = 90;
update app.financial_records set deleted_at = now(), updated_by = app.current_user_id() where project_id = :proj_a and amount in (60, 120.50);
update app.financial_records set deleted_at = null, updated_by = app.current_user_id() where id = :rec_a2;
select pg_temp.act_as_superuser();
select is(pg_temp.totals(:proj_a), pg_temp.brute(:proj_a), 'after inserts, moves, soft deletes and a restore the rollup equals the ledger');
select is((select count(*) from app.finance_daily_totals where project_id = :proj_a and record_count = 0)
          + (select count(*) from app.finance_daily_currency_totals where project_id = :proj_a and record_count = 0)
          + (select count(*) from app.finance_monthly_totals where project_id = :proj_a and record_count = 0)
          + (select count(*) from app.finance_monthly_currency_totals where project_id = :proj_a and record_count = 0), 0::bigint,
          'no empty rollup row is left behind');
select is((select version from app.financial_records where id = :rec_a2), 3, 'every change raises the version (rec_a2: moved, then restored)');
delete from app.financial_records where id = :rec_a1;
update app.financial_records set deleted_at = null where id = :rec_a1;
select is(pg_temp.totals(:proj_a), pg_temp.brute(:proj_a), 'a hard delete (of a soft-deleted row) keeps them equal');
delete from app.financial_records where project_id = :proj_a and amount = 70;
select is(pg_temp.totals(:proj_a), pg_temp.brute(:proj_a), 'a hard delete of a live row too');
delete from app.projects where id = :proj_a;
select is((select count(*) from app.finance_daily_totals where project_id = :proj_a)
          + (select count(*) from app.finance_daily_currency_totals where project_id = :proj_a)
          + (select count(*) from app.finance_monthly_totals where project_id = :proj_a)
          + (select count(*) from app.finance_monthly_currency_totals where project_id = :proj_a), 0::bigint, 'deleting the project deletes its ledger and rollups');
select is(pg_temp.totals(:proj_b), pg_temp.brute(:proj_b), 'B''s rollup is untouched and right');

-- ------------------------------------------------ the plan limit
update platform.plan_limits set max_count = (select count(*) from app.financial_records where org_id = :org_b)
 where plan_code = 'free' and kind = 'financial_records_per_month';
select pg_temp.act_as(:bob, :org_b);
select throws_ok(format($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by)
                         values (%L, %L, 'income', 1, 'USD', %L, 'cash', '2030-01-01', %L, %L)$$, :org_b, :proj_b, :cat_fees, :bob, :bob),
                 'RG402', null, 'the free plan''s monthly record limit refuses one more');

select * from finish();
rollback;
