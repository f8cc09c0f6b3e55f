-- Platform admins: they read tenants and change plan and standing through explicit
-- policies, and nothing else of a tenant; their actions are audited append-only; the
-- flag is set only by the kernel function the command line calls; a suspended
-- organization answers its members RGS03.
begin;
create extension if not exists pgtap;
select plan(31);
\ir fixtures/tenants.sql
\ir fixtures/bookings.sql
-- One financial record in Apollo, for the admin not to read.
insert into app.finance_categories (org_id, project_id, id, kind, name)
  values (:org_a, :proj_a, 'aaaaaaaa-0000-4000-8000-0000000001c1', 'income', 'Sales');
insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, payment_source, occurred_on, created_by, updated_by)
  values (:org_a, :proj_a, 'income', 10, 'EUR', 'aaaaaaaa-0000-4000-8000-0000000001c1', 'cash', '2030-01-01', :alice, :alice);

-- sam (member of nothing) becomes platform admin, as `rowguard admin grant` does.
select is(auth.set_platform_admin('SAM@nowhere.test', true), :sam::uuid, 'set_platform_admin finds the user by email, any case');
select is((select actor || ' ' || action from platform.admin_audit where details->>'user_id' = :sam), 'command line admin.grant',
          '... and audits the grant');

-- ------------------------------------------------ what the admin reads
select pg_temp.act_as(:sam, null);
select is(app.is_platform_admin(), true, 'sam is a platform admin');
select is((select count(*) from app.organizations where id in (:org_a, :org_b)), 2::bigint, 'the admin reads every tenant');
select is((select count(*) from app.subscriptions where org_id in (:org_a, :org_b)), 2::bigint, 'the admin reads every tenant''s subscription');
select is(json_array_length(app.plan_usage(:org_b)), (select count(*)::int from platform.limit_kinds), 'the admin reads a tenant''s usage counts');
-- ... and nothing of their business, even naming the org.
select pg_temp.act_as(:sam, :org_a);
select is((select count(*) from app.projects), 0::bigint, 'the admin reads no project');
select is((select count(*) from app.services), 0::bigint, 'the admin reads no service');
select is((select count(*) from app.bookings), 0::bigint, 'the admin reads no booking');
select is((select count(*) from app.memberships), 0::bigint, 'the admin reads no membership');
select is((select array_agg(id) from auth.users), array[:sam::uuid], 'the admin reads no tenant user');
select is((select count(*) from app.checkout_sessions), 0::bigint, 'the admin reads no checkout session');
select is((select count(*) from app.financial_records), 0::bigint, 'the admin reads no financial record');
select is_empty($$update app.services set price = 0 returning id$$, 'the admin changes no service');
select is_empty($$update app.bookings set status = 'cancelled' returning id$$, 'the admin cancels no booking');
select throws_ok($$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'by admin')$$,
                 '42501', null, 'the admin creates no project in a tenant');
select is_empty($$update app.organizations set name = 'pwned' returning id$$, 'the admin renames no tenant');
select throws_ok($$update auth.users set is_platform_admin = true where id = 'a1000000-0000-4000-8000-000000000001'$$,
                 '42501', null, 'the admin cannot make anyone else admin through the API role');
select throws_ok($$select auth.set_platform_admin('alice@acme.test', true)$$, '42501', null,
                 'the API role cannot call the command-line function');

-- ------------------------------------------------ what the admin changes, audited
select pg_temp.act_as(:sam, null);
select is((api.admin_set_plan(:org_b, 'pro')::jsonb)->>'plan', 'pro', 'the admin changes B''s plan');
select is((api.admin_set_suspended(:org_b, true, 'unpaid')::jsonb)->>'suspended', 'true', 'the admin suspends B');
-- Sorted by action, not id: uuid_v7 ids made within one millisecond do not sort in
-- the order they were made (their low bits are random).
select is((select array_agg(action order by action) from platform.admin_audit where org_id = :org_b),
          array['tenant.get', 'tenant.get', 'tenant.plan', 'tenant.suspend'], 'each admin action is audited');
select throws_ok($$update platform.admin_audit set action = 'nothing'$$, '42501', null, 'the audit cannot be rewritten through the API role');
select pg_temp.act_as_superuser();
select throws_ok($$update platform.admin_audit set action = 'nothing' where org_id = 'bbbbbbbb-0000-4000-8000-000000000000'$$,
                 'RG403', 'platform.admin_audit is append-only', 'not even by the superuser');
select throws_ok($$delete from platform.admin_audit where org_id = 'bbbbbbbb-0000-4000-8000-000000000000'$$, 'RG403', null, 'nor deleted');
-- TRUNCATE would first take an ACCESS EXCLUSIVE lock on the live table (stalling every
-- admin action of a deployment until the trigger refuses): the catalog shows instead that
-- the same refusal runs before any TRUNCATE.
select ok(exists (select from pg_trigger
                   where tgrelid = 'platform.admin_audit'::regclass and tgfoid = 'platform.refuse_audit_change'::regproc
                     and tgtype & (2 | 32) = (2 | 32) and tgenabled in ('O', 'A')),
          'nor truncated: a BEFORE TRUNCATE trigger runs the same refusal');

-- ------------------------------------------------ non-admins
select pg_temp.act_as(:alice, :org_a);
select is((select count(*) from platform.admin_audit), 0::bigint, 'a tenant OWNER reads no audit');
select throws_ok($$select api.admin_list_tenants(50, null, null)$$, 'RG403', null, 'a tenant OWNER is refused the admin API');
select is((select count(*) from app.organizations where id = :org_b), 0::bigint, 'an OWNER still sees no other tenant');

-- ------------------------------------------------ suspension in begin_request
select pg_temp.act_as_superuser();
select id as bob_sid from auth.sessions where user_id = :bob \gset
select id as alice_sid from auth.sessions where user_id = :alice \gset
set local role rowguard_api;
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :bob, :'bob_sid', :org_b), 'RGS03', null,
                 'a member of a suspended organization is refused');
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :alice, :'alice_sid', :org_b), 'RG404', 'organization not found',
                 'a stranger still gets "not found": suspension is not disclosed');

select * from finish();
rollback;
