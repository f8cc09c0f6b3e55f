-- Project RBAC (migration 006): cross-tenant isolation of the new tables, the matrix
-- helpers, the kernel functions (last OWNER, accepting and declining invitations).
-- Who may do what per role is 41_role_matrix.sql (generated from one expectation table).
begin;
create extension if not exists pgtap;
select plan(49);
\ir fixtures/tenants.sql
\ir fixtures/projects.sql

-- ------------------------------------------------ cross-tenant: org A's owner vs org B
select pg_temp.act_as(:alice, :org_a);
select is((select count(*) from app.invitations where org_id = :org_b), 0::bigint, 'A cannot see B''s invitations');
select is((select count(*) from app.invitation_projects where org_id = :org_b), 0::bigint, 'A cannot see B''s invitation grants');
select is((select count(*) from app.project_members where org_id = :org_b), 0::bigint, 'A cannot see B''s project members');
select is((select count(*) from app.invitations), 1::bigint, 'sanity: alice sees her own org''s invitation');
select throws_ok($$insert into app.project_members (org_id, project_id, user_id, role) values ('bbbbbbbb-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'a1000000-0000-4000-8000-000000000001', 'OWNER')$$,
                 '42501', null, 'A cannot make herself a member of B''s project');
select throws_ok($$insert into app.project_members (org_id, project_id, user_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'aa000000-0000-4000-8000-00000000000a', 'VIEWER')$$,
                 '42501', null, 'A cannot attach B''s project to her org (RLS refuses before the tenant key would)');
select throws_ok($$insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by) values ('bbbbbbbb-0000-4000-8000-000000000000', 'x@y.test', 'OWNER', sha256('t'), now() + interval '1 day', 'a1000000-0000-4000-8000-000000000001')$$,
                 '42501', null, 'A cannot invite into B');
select throws_ok($$insert into app.invitation_projects (org_id, invitation_id, project_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000f1', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'VIEWER')$$,
                 '42501', null, 'A cannot grant B''s project in her own invitation');
select is_empty($$update app.invitations set revoked_at = now() where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$, 'A cannot revoke B''s invitation');
select is_empty($$update app.project_members set role = 'VIEWER' where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning user_id$$, 'A cannot change B''s project members');
select is_empty($$delete from app.project_members where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning user_id$$, 'A cannot remove B''s project members');
select throws_ok($$select token_hash from app.invitations$$, '42501', null, 'nobody reads invitation token hashes through the API role');

-- The tenant keys themselves: a row of A can never point into B, whoever writes it.
select pg_temp.act_as_superuser();
select throws_ok($$insert into app.project_members (org_id, project_id, user_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'a1000000-0000-4000-8000-000000000001', 'VIEWER')$$,
                 '23503', null, 'tenant key: a project membership of A cannot name B''s project (even as superuser)');
select throws_ok($$insert into app.project_members (org_id, project_id, user_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'b1000000-0000-4000-8000-000000000001', 'VIEWER')$$,
                 '23503', null, 'tenant key: only a member of the organization can be a member of its project');
select throws_ok($$insert into app.invitation_projects (org_id, invitation_id, project_id, role) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000f1', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'VIEWER')$$,
                 '23503', null, 'tenant key: an invitation of A cannot grant B''s project (even as superuser)');

-- ------------------------------------------------ the stranger and the forged context
select pg_temp.act_as(:bob, :org_a);
select is((select count(*) from app.project_members), 0::bigint, 'forged org A context: bob sees no project member of A');
select is((select count(*) from app.invitations), 0::bigint, 'forged org A context: bob sees no invitation of A');
select is(app.my_project_ids(), '{}'::uuid[], 'forged org A context: bob acts in no project of A');

-- ------------------------------------------------ the matrix helpers, about the caller
select pg_temp.act_as(:mary, :org_a);
select is(app.my_project_ids(), '{}'::uuid[], 'an org MEMBER in no project acts in none');
select pg_temp.act_as(:ana, :org_a);
select is((select array[role::text, finance::text, analytics::text] from app.my_project_permissions()),
          array['ANALYST', 'READ', 'MANAGE'], 'ANALYST: finance READ, analytics MANAGE (role defaults)');
select is(app.my_domain_project_ids('analytics', 'MANAGE'), array[:proj_a]::uuid[], 'ANALYST manages analytics of Apollo');
select is(app.my_domain_project_ids('finance', 'MANAGE'), '{}'::uuid[], '... but not its finance');
select is((select count(*) from app.projects), 1::bigint, 'ANALYST sees Apollo only, not Artemis');
select pg_temp.act_as_superuser();
update app.project_members set finance = 'NONE' where user_id = :ana;
select pg_temp.act_as(:ana, :org_a);
select is(app.my_domain_project_ids('finance', 'READ'), '{}'::uuid[], 'an explicit override lowers a default (finance NONE)');
select pg_temp.act_as(:adam, :org_a);
select is((select array_agg(role::text || '/' || finance || '/' || analytics order by project_id) from app.my_project_permissions()),
          array['ADMIN/MANAGE/MANAGE', 'ADMIN/MANAGE/MANAGE'], 'an org ADMIN acts as project ADMIN in every project');
select pg_temp.act_as_superuser();
insert into app.project_members (org_id, project_id, user_id, role) values (:org_a, :proj_a2, :adam, 'OWNER');
select pg_temp.act_as(:adam, :org_a);
select is((select role::text from app.my_project_permissions() where project_id = :proj_a2), 'OWNER',
          'org ADMIN + project OWNER membership: the greater role wins');
select ok(app.within_my_project_permission(:proj_a, 'ADMIN', 'MANAGE', null), 'an ADMIN may grant ADMIN with finance MANAGE');
select ok(not app.within_my_project_permission(:proj_a, 'OWNER', null, null), 'an ADMIN may not grant OWNER');

-- ------------------------------------------------ invitations: the invitee
select pg_temp.act_as(:ivy, null);
select is((select count(*) from app.invitations), 2::bigint, 'the invitee reads the invitations addressed to her verified email (from A and B)');
select is((select count(*) from app.invitation_projects), 2::bigint, '... and their project grants');
select pg_temp.act_as(:sam, null);
select throws_ok($$select app.accept_invitation(sha256('token-b'))$$, 'RG404', 'invitation not found',
                 'another account cannot accept it, even with the token');
select pg_temp.act_as_superuser();
insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by)
values (:org_a, 'sam@nowhere.test', 'MEMBER', sha256('token-sam'), now() + interval '1 day', :alice);
select pg_temp.act_as(:sam, null);
select is((select count(*) from app.invitations), 0::bigint, 'an invitation to an unverified email is not listed to its owner');
select pg_temp.act_as_superuser();
update auth.users set email_verified_at = now() where id = :sam;
select pg_temp.act_as(:sam, null);
select is((select count(*) from app.invitations), 1::bigint, '... and is, once the email is verified');
select pg_temp.act_as(:ivy, null);
select throws_ok($$select app.accept_invitation(sha256('wrong'))$$, 'RG404', 'invitation not found', 'an unknown token is not found');
select is(app.accept_invitation(sha256('token-b')), :org_b::uuid, 'the invitee accepts with the token');
select pg_temp.act_as(:ivy, :org_b);
select is((select array[role::text, finance::text, analytics::text] from app.my_project_permissions()),
          array['ANALYST', 'READ', 'MANAGE'], '... and holds exactly the granted project role in Borealis');
select is((select role::text from app.memberships where user_id = :ivy), 'MEMBER', '... and the invited org role');
select throws_ok($$select app.accept_invitation(sha256('token-b'))$$, 'RG409', 'this invitation is accepted', 'a token works once');
select pg_temp.act_as_superuser();
update app.invitations set expires_at = now() - interval '1 second' where id = :inv_a;
select pg_temp.act_as(:ivy, null);
select throws_ok($$select app.decline_invitation(sha256('token-a'))$$, 'RG409', 'this invitation is expired', 'an expired invitation cannot be used');
select pg_temp.act_as_superuser();
update app.invitations set revoked_at = now(), expires_at = now() + interval '1 day' where id = :inv_a;
select pg_temp.act_as(:ivy, null);
select throws_ok($$select app.accept_invitation(sha256('token-a'))$$, 'RG409', 'this invitation is revoked', 'a revoked invitation cannot be used');
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$update app.invitations set revoked_at = null where id = 'aaaaaaaa-0000-4000-8000-0000000000f1'$$,
                 'RG409', 'this invitation is revoked', 'a revoked invitation cannot be reopened, even with the column grant');
select pg_temp.act_as(:bob, :org_b);
select throws_ok($$update app.invitations set token_hash = sha256('again'), expires_at = now() + interval '1 day' where id = 'bbbbbbbb-0000-4000-8000-0000000000f1'$$,
                 'RG409', 'this invitation is accepted', 'an accepted invitation cannot be re-tokened');

-- ------------------------------------------------ an invitation stands only while its inviter could send it
select pg_temp.act_as_superuser();
-- Demoting otto (the last OWNER besides alice) is a step-up act (migration 020): alice's
-- session reauthenticated a moment ago.
insert into auth.sessions (id, user_id, reauthenticated_at) values ('a1000000-5e55-4000-8000-000000000001', :alice, now());
select set_config('app.session_id', 'a1000000-5e55-4000-8000-000000000001', true);
insert into app.invitations (org_id, id, email, role, token_hash, expires_at, invited_by) values
  (:org_a, 'aaaaaaaa-0000-4000-8000-0000000000f2', 'o1@lapse.test', 'OWNER',  sha256('lapse-1'), now() + interval '1 day', :otto),
  (:org_a, 'aaaaaaaa-0000-4000-8000-0000000000f3', 'o2@lapse.test', 'MEMBER', sha256('lapse-2'), now() + interval '1 day', :otto),
  (:org_a, 'aaaaaaaa-0000-4000-8000-0000000000f4', 'a1@lapse.test', 'MEMBER', sha256('lapse-3'), now() + interval '1 day', :adam);
select pg_temp.act_as(:alice, :org_a);
update app.memberships set role = 'ADMIN' where user_id = :otto;
update app.memberships set role = 'MEMBER' where user_id = :adam;
select pg_temp.act_as_superuser();
select is((select array_agg(email || ':' || (revoked_at is not null) order by email) from app.invitations where email like '%@lapse.test'),
          array['a1@lapse.test:true', 'o1@lapse.test:true', 'o2@lapse.test:false'],
          'a demoted inviter''s pending invitations lapse when they could no longer send them (OWNER → ADMIN: the OWNER one; ADMIN → MEMBER: all)');
update app.memberships set role = 'OWNER' where user_id = :otto;

-- ------------------------------------------------ the last OWNER stays
select pg_temp.act_as(:alice, :org_a);
select lives_ok($$update app.memberships set role = 'ADMIN' where user_id = 'a4000000-0000-4000-8000-000000000004'$$, 'an OWNER demotes another OWNER');
select throws_ok($$update app.memberships set role = 'ADMIN' where user_id = 'a1000000-0000-4000-8000-000000000001'$$,
                 'RG409', 'an organization must keep at least one OWNER', 'the last OWNER cannot demote herself');
select throws_ok($$delete from app.memberships where user_id = 'a1000000-0000-4000-8000-000000000001'$$,
                 'RG409', 'an organization must keep at least one OWNER', 'the last OWNER cannot leave');
select lives_ok($$select app.soft_delete_organization()$$,
                '... but she can delete the organization (and, once purged, every membership with it)');
select pg_temp.act_as_superuser();
update app.organizations set deleted_at = now() - interval '31 days' where id = :org_a;
select count(*) from app.purge_deleted_organizations();
select is((select count(*) from app.project_members where org_id = :org_a), 0::bigint, 'deleting the organization deletes its project members');
select is((select count(*) from app.invitations where org_id = :org_a), 0::bigint, '... and its invitations');

select * from finish();
rollback;
