-- A currency is an ISO 4217 code wherever it appears (migration 023): every currency
-- column carries the same CHECK (app.is_iso_currency), so a code refused for a financial
-- record is refused for a service, a plan, a rate and a rollup row too; a currency given
-- as a filter is held to the same rule (api.require_currency). And the checkout asks
-- for the OWNER before anything else (api.require_checkout_role).
begin;
create extension if not exists pgtap;
select plan(22);
\ir fixtures/tenants.sql
\ir fixtures/projects.sql
\ir fixtures/finance.sql

-- ------------------------------------------------ the catalog: every currency column
-- A column named currency or *_currency in a table of the rowguard schemas without a
-- CHECK of its own calling app.is_iso_currency.
select is_empty($$
  select format('%s.%s', c.oid::regclass, a.attname)
    from pg_catalog.pg_attribute a
    join pg_catalog.pg_class c on c.oid = a.attrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('auth', 'app', 'platform') and c.relkind in ('r', 'p')
     and (a.attname = 'currency' or a.attname like '%\_currency') and not a.attisdropped
     and not exists (select from pg_catalog.pg_constraint k
                      where k.conrelid = c.oid and k.contype = 'c' and k.convalidated
                        and k.conkey = array[a.attnum]
                        and pg_catalog.pg_get_constraintdef(k.oid) like '%is_iso_currency(' || a.attname || ')%')
$$, 'every currency column has a validated CHECK calling app.is_iso_currency on it alone');
select ok((select count(*) from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
            where c.relnamespace::regnamespace::text in ('app', 'platform')
              and (a.attname = 'currency' or a.attname like '%\_currency')) >= 7,
          'the catalog check sees the currency columns (services, plans, records, rates, rollups)');

-- ------------------------------------------------ the rule: what a record refuses, everything refuses
select ok(app.is_iso_currency('EUR') and app.is_iso_currency('XAU'), 'EUR and XAU are ISO 4217');
select ok(not app.is_iso_currency('XXQ') and not app.is_iso_currency('XTS') and not app.is_iso_currency('eur'),
          'XXQ (unassigned), XTS (testing) and eur (lower case) are not');

select pg_temp.act_as(:alice, :org_a);
select throws_ok($$insert into app.services (org_id, name, duration_minutes, price, currency) values ('aaaaaaaa-0000-4000-8000-000000000000', 'Priced in XXQ', 10, 1, 'XXQ')$$,
                 '23514', null, 'a service in XXQ is refused (it was accepted before migration 023)');
select lives_ok($$insert into app.services (org_id, name, duration_minutes, price, currency) values ('aaaaaaaa-0000-4000-8000-000000000000', 'Priced in CHF', 10, 1, 'CHF')$$,
                'a service in CHF is accepted');
select throws_ok($$update app.services set currency = 'XXQ' where name = 'Priced in CHF'$$,
                 '23514', null, 'a service cannot be moved to XXQ either');
select throws_ok($$insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'income', 1, 'XXQ', 'aaaaaaaa-0000-4000-8000-0000000001c1', 'cash', '2030-01-01', app.current_user_id(), app.current_user_id())$$,
                 '23514', null, 'a financial record in XXQ is refused');
select throws_ok($$insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate) values ('aaaaaaaa-0000-4000-8000-000000000000', '2030-05-01', 'XXQ', 'EUR', 1)$$,
                 '23514', null, 'an exchange rate from XXQ is refused');
select throws_ok($$insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate) values ('aaaaaaaa-0000-4000-8000-000000000000', '2030-05-01', 'EUR', 'XXQ', 1)$$,
                 '23514', null, 'an exchange rate to XXQ is refused');

-- The names the API turns into the field of its 422 (<table>_<field>_check).
select pg_temp.act_as_superuser();
select results_eq($$select conname::text collate "default" from pg_catalog.pg_constraint
                    where conname::text in ('services_currency_check', 'plans_currency_check', 'financial_records_currency_check',
                                      'exchange_rates_from_currency_check', 'exchange_rates_to_currency_check',
                                      'finance_daily_totals_currency_check', 'finance_daily_currency_totals_currency_check',
                                      'finance_monthly_totals_currency_check', 'finance_monthly_currency_totals_currency_check')
                      and pg_catalog.pg_get_constraintdef(oid) like '%is_iso_currency%'
                    order by 1$$,
                  $$values ('exchange_rates_from_currency_check'), ('exchange_rates_to_currency_check'),
                           ('finance_daily_currency_totals_currency_check'), ('finance_daily_totals_currency_check'),
                           ('finance_monthly_currency_totals_currency_check'), ('finance_monthly_totals_currency_check'),
                           ('financial_records_currency_check'), ('plans_currency_check'), ('services_currency_check')$$,
                  'each currency CHECK is named <table>_<column>_check and calls app.is_iso_currency');
select throws_ok($$insert into platform.plans (code, name, price, currency, position) values ('pgtap_xxq', 'XXQ plan', 1, 'XXQ', 99)$$,
                 '23514', null, 'a plan in XXQ is refused, even to the superuser');
select throws_ok($$insert into app.finance_daily_currency_totals (org_id, project_id, day, kind, currency, record_count, amount_sum) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', '2031-01-01', 'income', 'XXQ', 1, 1)$$,
                 '23514', null, 'a rollup row in XXQ is refused');
select throws_ok($$insert into app.finance_daily_totals (org_id, project_id, day, kind, currency, category_id, record_count, amount_sum) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', '2031-01-01', 'income', 'XXQ', 'aaaaaaaa-0000-4000-8000-0000000001c1', 1, 1)$$,
                 '23514', null, 'a rollup row per category in XXQ is refused');

-- ------------------------------------------------ a currency given as a filter
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$select api.require_currency('XXQ', 'base')$$, 'RG422', 'not an ISO 4217 currency code',
                 'api.require_currency refuses XXQ');
select lives_ok($$select api.require_currency('EUR', 'base'), api.require_currency(null, 'base')$$,
                'api.require_currency lets EUR and an absent filter through');
select throws_ok($$select api.list_exchange_rates(10, null, 'XXQ', null)$$, 'RG422', null,
                 'listing the rates from XXQ is a 422, not an empty page');
select throws_ok($$select api.delete_exchange_rate('EUR', 'XXQ', '2030-01-01')$$, 'RG422', null,
                 'deleting a rate to XXQ is a 422, not a 404');
select throws_ok(format('select api.finance_summary(%L, null, null, %L)', :proj_a, 'XXQ'), 'RG422', null,
                 'a summary in base XXQ is a 422');

-- ------------------------------------------------ checkout: the OWNER first
select pg_temp.act_as(:mary, :org_a);
select throws_ok($$select api.require_checkout_role()$$, 'RG403', 'only an OWNER starts a checkout',
                 'a MEMBER may not start a checkout');
select throws_ok($$select api.start_checkout('no-such-plan')$$, 'RG403', null,
                 'a MEMBER hears 403 before the plan is looked at');
select pg_temp.act_as(:alice, :org_a);
select is(api.require_checkout_role()::text, null, 'the OWNER may');

select * from finish();
rollback;
