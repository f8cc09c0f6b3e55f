-- Role rules per table and command, inside one organization (org A):
-- OWNER alice, ADMIN adam, MEMBER mary. Who reads, who writes, who deletes.
begin;
create extension if not exists pgtap;
select plan(31);
\ir fixtures/tenants.sql

-- ------------------------------------------------ MEMBER
select pg_temp.act_as(:mary, :org_a);
select is((select count(*) from app.projects), 0::bigint, 'MEMBER reads no project she is not a member of (migration 006: projects are for org OWNER/ADMIN and project members)');
select is((select count(*) from app.organizations), 1::bigint, 'MEMBER reads her organization');
select is((select count(*) from app.memberships), 3::bigint, 'MEMBER reads every membership of her org');
select is((select count(*) from auth.users), 3::bigint, 'MEMBER reads her fellow members');
select throws_ok($$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'by mary')$$,
                 '42501', 'new row violates row-level security policy for table "projects"', 'MEMBER cannot create a project');
select is_empty($$update app.projects set name = 'renamed' returning id$$, 'MEMBER cannot update a project');
select is_empty($$delete from app.projects returning id$$, 'MEMBER cannot delete a project');
select is_empty($$update app.organizations set name = 'renamed' returning id$$, 'MEMBER cannot rename the organization');
select throws_ok($$delete from app.organizations$$, '42501', null, 'MEMBER cannot delete the organization');
select is_empty($$update app.memberships set role = 'OWNER' where user_id = 'a3000000-0000-4000-8000-000000000003' returning role$$,
                'MEMBER cannot promote herself');
select throws_ok($$select password_hash from auth.users$$, '42501', null, 'nobody reads password hashes through the API role');
select throws_ok($$update auth.users set status = 'active' where id = 'a3000000-0000-4000-8000-000000000003'$$,
                 '42501', null, 'a user cannot change her own status');
select is_empty($$update auth.users set email = 'x@acme.test' where id = 'a1000000-0000-4000-8000-000000000001' returning id$$,
                'a user cannot change a fellow member''s account');
select isnt_empty($$update auth.users set email = 'mary2@acme.test' where id = 'a3000000-0000-4000-8000-000000000003' returning id$$,
                  'a user changes her own account');
select is((select count(*) from auth.my_sessions()), 1::bigint, 'a user sees only her own session');

-- ------------------------------------------------ ADMIN
select pg_temp.act_as(:adam, :org_a);
select lives_ok($$insert into app.projects (org_id, name, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'by adam', 'a2000000-0000-4000-8000-000000000002')$$,
                'ADMIN creates a project');
select isnt_empty($$update app.projects set description = 'changed' where name = 'Apollo' returning id$$, 'ADMIN updates a project');
select isnt_empty($$delete from app.projects where name = 'by adam' returning id$$, 'ADMIN deletes a project');
select isnt_empty($$update app.organizations set name = 'Acme Inc' returning id$$, 'ADMIN renames the organization');
select throws_ok($$delete from app.organizations$$, '42501', null, 'ADMIN cannot delete the organization');
select throws_ok($$update app.memberships set role = 'OWNER' where user_id = 'a2000000-0000-4000-8000-000000000002'$$,
                 '42501', null, 'ADMIN cannot promote himself');

-- ------------------------------------------------ the role comes from the database, now
select pg_temp.act_as_superuser();
update app.memberships set role = 'MEMBER' where org_id = :org_a and user_id = :adam;
select pg_temp.act_as(:adam, :org_a);
select is_empty($$update app.projects set description = 'again' returning id$$, 'a demoted ADMIN loses write access at once');
select pg_temp.act_as_superuser();
delete from app.memberships where org_id = :org_a and user_id = :adam;
select pg_temp.act_as(:adam, :org_a);
select is((select count(*) from app.projects), 0::bigint, 'a removed member loses read access at once');
select is((select count(*) from app.organizations), 0::bigint, 'a removed member no longer sees the organization');

-- ------------------------------------------------ OWNER
select pg_temp.act_as(:alice, :org_a);
select lives_ok($$insert into app.projects (org_id, name) values ('aaaaaaaa-0000-4000-8000-000000000000', 'by alice')$$,
                'OWNER creates a project');
select lives_ok($$insert into app.organizations (name, slug) values ('Second', 'pgtap-fixture-second')$$,
                'any signed-in user founds an organization');
select is((select role::text from app.memberships m join app.organizations o on o.id = m.org_id
            where o.slug = 'pgtap-fixture-second' and m.user_id = :alice), 'OWNER', '... and becomes its OWNER');
select throws_ok($$delete from app.organizations where id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '42501', null,
                 'not even an OWNER deletes the organization directly (soft delete, then rowguard purge-deleted)');
select pg_temp.act_as_superuser();
-- What `rowguard purge-deleted` does to an organization soft-deleted over 30 days ago.
update app.organizations set deleted_at = now() - interval '31 days', deleted_by = :alice where id = :org_a;
select count(*) from app.purge_deleted_organizations();
select is((select count(*) from app.projects where org_id = :org_a), 0::bigint, 'purging an organization deletes its projects');
select is((select count(*) from app.memberships where org_id = :org_a), 0::bigint, '... and its memberships');
select is((select count(*) from app.projects where org_id = :org_b), 1::bigint, '... and nothing of another tenant');

select * from finish();
rollback;
