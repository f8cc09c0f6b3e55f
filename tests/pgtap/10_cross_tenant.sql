-- Cross-tenant isolation, enforced by Postgres alone: alice (OWNER of org A) acts as the
-- API role would, and no table of org B is visible, insertable, updatable or deletable —
-- through USING and through WITH CHECK, with a genuine context and with a forged one.
begin;
create extension if not exists pgtap;
select plan(35);
\ir fixtures/tenants.sql

-- ------------------------------------------------ alice, acting in her own org A
select pg_temp.act_as(:alice, :org_a);
select is((select count(*) from app.projects where org_id = :org_b), 0::bigint, 'A cannot see B''s projects');
select is((select count(*) from app.organizations where id = :org_b), 0::bigint, 'A cannot see organization B');
select is((select count(*) from app.memberships where org_id = :org_b), 0::bigint, 'A cannot see B''s memberships');
select is((select count(*) from auth.users where id = :bob), 0::bigint, 'A cannot see B''s users');
select throws_ok($$select count(*) from auth.sessions$$, '42501', null, 'the API role reads no session row directly (only through auth.my_sessions)');
select is((select count(*) from app.projects), 1::bigint, 'sanity: alice sees her own project (the policy is not just deny-all)');
select is((select array_agg(email order by email) from auth.users), array['adam@acme.test', 'alice@acme.test', 'mary@acme.test'],
          'alice sees exactly the members of A');

-- INSERT: WITH CHECK refuses a row for B.
select throws_ok($$insert into app.projects (org_id, name) values ('bbbbbbbb-0000-4000-8000-000000000000', 'planted')$$,
                 '42501', null, 'A cannot insert a project into B');
-- UPDATE / DELETE: USING hides B's rows, so nothing is touched.
select is_empty($$update app.projects set name = 'pwned' where id = 'bbbbbbbb-0000-4000-8000-0000000000b1' returning id$$,
                'A cannot update B''s project');
select is_empty($$delete from app.projects where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$,
                'A cannot delete B''s projects');
select is_empty($$update app.organizations set name = 'pwned' where id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$,
                'A cannot rename organization B');
select throws_ok($$delete from app.organizations where id = 'bbbbbbbb-0000-4000-8000-000000000000'$$, '42501', null,
                 'A cannot delete organization B (nobody deletes through the API role: organizations are soft-deleted)');
select throws_ok($$insert into app.memberships (org_id, user_id, role) values ('bbbbbbbb-0000-4000-8000-000000000000', 'a1000000-0000-4000-8000-000000000001', 'OWNER')$$,
                 '42501', null, 'A cannot make herself a member of B');
select throws_ok($$insert into auth.sessions (user_id) values ('b1000000-0000-4000-8000-000000000001')$$,
                 '42501', null, 'A cannot open a session for B''s user');
select throws_ok($$insert into auth.users (id, email, password_hash) values ('d1000000-0000-4000-8000-000000000001', 'x@y.test', 'x')$$,
                 '42501', null, 'A cannot create a user other than herself');
select is_empty($$update auth.users set email = 'pwned@x.test' where id = 'b1000000-0000-4000-8000-000000000001' returning id$$,
                'A cannot change B''s user');

-- WITH CHECK on UPDATE: even with a column grant the API never has, a row cannot move to B.
-- The grants below are invisible to everyone else and rolled back.
select pg_temp.act_as_superuser();
-- lock: no table lock (requests read and write app.projects as usual); the grant rewrites
-- the org_id column's catalog row until the rollback, so only a concurrent GRANT or ALTER
-- of that column waits for this file.
grant update (org_id) on app.projects to rowguard_api;
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$update app.projects set org_id = 'bbbbbbbb-0000-4000-8000-000000000000' where id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$,
                 '42501', 'new row violates row-level security policy for table "projects"',
                 'A cannot move her project into B (WITH CHECK)');
-- ... and without that grant, the column privilege refuses first.
select pg_temp.act_as_superuser();
-- lock: as the grant above (the same catalog row).
revoke update (org_id) on app.projects from rowguard_api;
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$update app.projects set org_id = 'bbbbbbbb-0000-4000-8000-000000000000' where id = 'aaaaaaaa-0000-4000-8000-0000000000a1'$$,
                 '42501', null, 'the API role may not even write org_id');

-- WITH CHECK on memberships: even granted INSERT, the API role has no policy to add one.
select pg_temp.act_as_superuser();
-- lock: no table lock (requests read and write app.memberships as usual); the grant
-- rewrites the table's pg_class row until the rollback, so only a concurrent GRANT or
-- ALTER TABLE of app.memberships waits for this file.
grant insert on app.memberships to rowguard_api;
select pg_temp.act_as(:alice, :org_b);
select throws_ok($$insert into app.memberships (org_id, user_id, role) values ('bbbbbbbb-0000-4000-8000-000000000000', 'a1000000-0000-4000-8000-000000000001', 'OWNER')$$,
                 '42501', 'new row violates row-level security policy for table "memberships"',
                 'A cannot join B even with an INSERT grant (no policy allows it)');
select pg_temp.act_as_superuser();
-- lock: as the grant above (the same catalog row).
revoke insert on app.memberships from rowguard_api;

-- ------------------------------------------------ a forged context: the Go layer names org B
-- (as if the handler were bypassed and app.org_id set to a tenant alice is not in)
select pg_temp.act_as(:alice, :org_b);
select is((select count(*) from app.projects), 0::bigint, 'forged org B context: still no B project visible');
select throws_ok($$insert into app.projects (org_id, name) values ('bbbbbbbb-0000-4000-8000-000000000000', 'planted')$$,
                 '42501', null, 'forged org B context: cannot insert into B');
select is_empty($$update app.projects set name = 'pwned' returning id$$, 'forged org B context: cannot update B');
select is_empty($$delete from app.projects returning id$$, 'forged org B context: cannot delete from B');
select is_empty($$update app.organizations set name = 'pwned' where id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$,
                'forged org B context: cannot rename B');
select is((select count(*) from auth.users where id = :bob), 0::bigint, 'forged org B context: B''s users stay hidden');

-- ------------------------------------------------ nobody signed in
select pg_temp.act_as(null, null);
select is((select count(*) from app.projects) + (select count(*) from app.organizations)
          + (select count(*) from app.memberships) + (select count(*) from auth.users)
          + (select count(*) from auth.my_sessions()), 0::bigint, 'anonymous: every table is empty');
select throws_ok($$insert into app.organizations (name, slug) values ('x', 'x')$$, '42501', null,
                 'anonymous: cannot create an organization');

select pg_temp.act_as(null, :org_a);
select is((select count(*) from app.projects), 0::bigint, 'an org context without a user sees nothing');

-- ------------------------------------------------ sam, a member of nothing, naming org A
select pg_temp.act_as(:sam, :org_a);
select is((select count(*) from app.projects), 0::bigint, 'a stranger naming A sees no project');
select is((select count(*) from app.organizations), 0::bigint, 'a stranger sees no organization');
select is((select count(*) from app.memberships), 0::bigint, 'a stranger sees no membership');
select is((select array_agg(id) from auth.users), array[:sam::uuid], 'a stranger sees only himself');

-- ------------------------------------------------ nothing changed underneath
select pg_temp.act_as_superuser();
select is((select name from app.projects where id = :proj_b), 'Borealis', 'B''s project is untouched');
select is((select name from app.organizations where id = :org_b), 'Globex', 'organization B is untouched');
select is((select count(*) from app.memberships where org_id = :org_b), 1::bigint, 'B''s memberships are untouched');

select * from finish();
rollback;
