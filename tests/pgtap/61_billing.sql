-- Billing: subscriptions are tenant rows like any other; the catalogue is readable by
-- signed-in users; plan limits are enforced by the database whoever inserts; the
-- kernel's usage and webhook tables are out of the API role's reach.
begin;
create extension if not exists pgtap;
select plan(31);
\ir fixtures/tenants.sql

select is((select plan_code from app.subscriptions where org_id = :org_a), 'free', 'a new organization starts on the free plan (trigger)');
-- The catalogue as the superuser reads it (a deployment may price more plans or kinds).
create temp table catalogue as
  select 'plans' as what, code as name from platform.plans
  union all select 'free limits', kind from platform.plan_limits where plan_code = 'free'
  union all select 'kinds', kind from platform.limit_kinds;
grant select on pg_temp.catalogue to rowguard_api;

-- ------------------------------------------------ who reads what
select pg_temp.act_as(:mary, :org_a);
select is((select count(*) from app.subscriptions), 1::bigint, 'a MEMBER reads her organization''s subscription');
select is((select count(*) from app.subscriptions where org_id = :org_b), 0::bigint, 'A cannot read B''s subscription');
select is((select count(*) from platform.plans), (select count(*) from pg_temp.catalogue where what = 'plans'),
          'a signed-in user reads the plan catalogue');
select is((select count(*) from platform.plan_limits where plan_code = 'free'), (select count(*) from pg_temp.catalogue where what = 'free limits'),
          '... and every limit of a plan');
select throws_ok($$update platform.plan_limits set max_count = 1000000$$, '42501', null, 'no tenant changes a limit');
select throws_ok($$insert into platform.limit_kinds values ('anything', 'app.projects', false, 'x')$$, '42501', null, 'no tenant adds a limit kind');
select is_empty($$update app.subscriptions set plan_code = 'business' returning org_id$$, 'no tenant changes its own plan, not even in SQL');
select throws_ok($$insert into app.subscriptions (org_id, plan_code) values ('aaaaaaaa-0000-4000-8000-000000000000', 'business')$$, '42501', null,
                 'no tenant writes a subscription');
select throws_ok($$select count(*) from platform.webhook_events$$, '42501', null, 'the API role cannot read the provider''s events');
select throws_ok($$select app.count_usage('bbbbbbbb-0000-4000-8000-000000000000', k) from platform.limit_kinds k$$, '42501', null,
                 'the API role cannot count another tenant''s rows through the kernel');
select throws_ok($$select app.plan_usage('bbbbbbbb-0000-4000-8000-000000000000')$$, 'RG404', 'organization not found',
                 'plan_usage of another tenant answers "not found"');
select is(json_array_length(app.plan_usage(:org_a)), (select count(*)::int from pg_temp.catalogue where what = 'kinds'),
          'plan_usage of her own organization lists every limit kind');
select is(app.is_platform_admin(), false, 'a tenant member is not a platform admin');
select throws_ok($$update auth.users set is_platform_admin = true where id = 'a3000000-0000-4000-8000-000000000003'$$, '42501', null,
                 'nobody makes themselves platform admin through the API role');
select pg_temp.act_as(:sam, :org_a);
select is((select count(*) from app.subscriptions), 0::bigint, 'a stranger naming A reads no subscription');
select pg_temp.act_as(null, null);
select is((select count(*) from platform.plans), 0::bigint, 'anonymous reads no catalogue');

-- ------------------------------------------------ limits hold for every writer
select pg_temp.act_as_superuser();
update platform.plan_limits set max_count = 1 where plan_code = 'free' and kind = 'projects';
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'second')$$,
                 'RG402', 'the free plan allows 1 projects; upgrade the plan to add more', 'the OWNER hits the projects limit');
select pg_temp.act_as_superuser();
select throws_ok($$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'second')$$,
                 'RG402', null, 'even the superuser''s insert counts (a trigger, not a check in the API)');
select set_config('app.user_id', :sam, true);
insert into app.organizations (id, name, slug) values ('cccccccc-0000-4000-8000-000000000000', 'Sam''s', 'pgtap-fixture-sams');
select lives_ok($$insert into app.projects (org_id, name) values ('cccccccc-0000-4000-8000-000000000000', 'first')$$,
                'the limit is per organization: a new one still has room');
update app.subscriptions set plan_code = 'business' where org_id = :org_a;
select pg_temp.act_as(:alice, :org_a);
select lives_ok($$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'second')$$,
                'the business plan has no projects limit');
select is((select u->>'used' from json_array_elements(app.plan_usage(:org_a)) u where u->>'kind' = 'projects'), '2',
          'plan_usage counts the projects');
select is((select u->>'limit' from json_array_elements(app.plan_usage(:org_a)) u where u->>'kind' = 'projects'), null,
          'unlimited reads as null');

-- ------------------------------------------------ checkout: OWNER only; the webhook once
select pg_temp.act_as_superuser();
update app.subscriptions set plan_code = 'free' where org_id = :org_a;
select pg_temp.act_as(:adam, :org_a);
select throws_ok($$insert into app.checkout_sessions (org_id, plan_code, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'pro', 'a2000000-0000-4000-8000-000000000002')$$,
                 '42501', null, 'an ADMIN cannot start a checkout');
select pg_temp.act_as(:alice, :org_a);
select lives_ok($$insert into app.checkout_sessions (org_id, plan_code, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'pro', 'a1000000-0000-4000-8000-000000000001')$$,
                'the OWNER starts a checkout');
select throws_ok($$insert into app.checkout_sessions (org_id, plan_code, created_by) values ('bbbbbbbb-0000-4000-8000-000000000000', 'pro', 'a1000000-0000-4000-8000-000000000001')$$,
                 '42501', null, 'not for another organization');
select id as checkout_a from app.checkout_sessions \gset
select pg_temp.act_as(:mary, :org_a);
select is((select count(*) from app.checkout_sessions), 0::bigint, 'a MEMBER does not see checkout sessions');
select pg_temp.act_as(null, null);
select is(app.apply_payment_event('evt_pgtap_1', 'checkout.session.completed', :'checkout_a', 'cus_1', 'sub_1')->>'outcome',
          'plan changed to pro', 'a verified completed checkout moves the organization to its plan');
select is(app.apply_payment_event('evt_pgtap_1', 'checkout.session.completed', :'checkout_a', 'cus_1', 'sub_1')->>'outcome',
          'duplicate', 'the same event id again changes nothing');
select is(app.apply_payment_event('evt_pgtap_2', 'checkout.session.completed', :'checkout_a', 'cus_1', 'sub_1')->>'outcome',
          'ignored: no open checkout session with this reference', 'a completed checkout cannot be completed twice');
select pg_temp.act_as_superuser();
select is((select plan_code || ' ' || provider_subscription_id from app.subscriptions where org_id = :org_a), 'pro sub_1',
          'A is on pro with the provider''s subscription id');

select * from finish();
rollback;
