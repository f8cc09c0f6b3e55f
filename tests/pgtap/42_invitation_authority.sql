-- Authority at every (re)issue (migration 018): an invitation is a grant made in
-- advance, so whoever issues it — creates it, resends it (a new token), or stands behind
-- it when it is accepted (the inviter, now) — must hold, at that moment, the invited org
-- role and every project grant. And a token shown in an API answer proves nothing about
-- the invitee's mailbox; one that went to the mailbox alone does (first proof wins).
-- Every row here is this file's own (…@authority.test), on fixtures/tenants.sql and
-- fixtures/projects.sql; all rolled back.
begin;
create extension if not exists pgtap;
select plan(39);
\ir fixtures/tenants.sql
\ir fixtures/projects.sql

-- Invitees: xena and yuri verified, zoe not (two live sessions: her own, and the one the
-- squatter holds).
\set xena '''d1000000-0000-4000-8000-000000000001'''
\set yuri '''d2000000-0000-4000-8000-000000000002'''
\set zoe  '''d3000000-0000-4000-8000-000000000003'''
\set will '''d4000000-0000-4000-8000-000000000004'''
insert into auth.users (id, email, password_hash, email_verified_at) values
  (:xena, 'xena@authority.test', 'x', now()), (:yuri, 'yuri@authority.test', 'x', now()),
  (:will, 'will@authority.test', 'x', now());
insert into auth.users (id, email, password_hash) values (:zoe, 'zoe@authority.test', 'squatter''s');
insert into auth.sessions (user_id) values (:xena), (:yuri), (:will);
insert into auth.sessions (user_id) values (:zoe) returning id as zoe_sid \gset
insert into auth.sessions (user_id) values (:zoe) returning id as squatter_sid \gset

update app.subscriptions set plan_code = 'pro' where org_id = :org_a; -- room for the invitees

-- Sent by alice (org OWNER): xena as MEMBER with Apollo OWNER.
\set inv_own '''aaaaaaaa-0000-4000-8000-0000000000e1'''
insert into app.invitations (org_id, id, email, role, token_hash, expires_at, invited_by)
values (:org_a, :inv_own, 'xena@authority.test', 'MEMBER', sha256('own-1'), now() + interval '1 day', :alice);
insert into app.invitation_projects (org_id, invitation_id, project_id, role) values (:org_a, :inv_own, :proj_a, 'OWNER');

-- ------------------------------------------------ the rule itself
select ok(not has_function_privilege('rowguard_api', 'app.invitation_within_authority(uuid, uuid)', 'execute'),
          'the API role cannot ask about anyone''s authority: only the kernel does');
select ok(app.invitation_within_authority(:inv_own, :alice), 'an org OWNER holds a project OWNER grant');
select ok(not app.invitation_within_authority(:inv_own, :adam), 'an org ADMIN does not (project role above theirs)');
select ok(not app.invitation_within_authority(:inv_own, :olga), 'an org MEMBER never does, even as that project''s OWNER');
insert into app.project_members (org_id, project_id, user_id, role) values (:org_a, :proj_a, :adam, 'OWNER');
select pg_temp.act_as(:adam, :org_a);
select ok(app.invitation_within_my_authority(:inv_own), 'an org ADMIN who is that project''s OWNER does (asked as himself)');
select pg_temp.act_as(:bob, :org_b);
select ok(not app.invitation_within_my_authority(:inv_own), 'nobody asks about another organization''s invitation');
select pg_temp.act_as_superuser();
delete from app.project_members where project_id = :proj_a and user_id = :adam;

-- ------------------------------------------------ create: the caller's roles now
select pg_temp.act_as(:adam, :org_a);
select lives_ok($$select api.create_invitation('yuri@authority.test', 'MEMBER',
                    '[{"project_id":"aaaaaaaa-0000-4000-8000-0000000000a1","role":"ADMIN","finance":"MANAGE"}]', 'adm-1', '1 day', false)$$,
                'create: an org ADMIN grants up to project ADMIN');
select throws_ok($$select api.create_invitation('p1@authority.test', 'MEMBER',
                     '[{"project_id":"aaaaaaaa-0000-4000-8000-0000000000a1","role":"OWNER"}]', 'p-1', '1 day', false)$$,
                 '42501', null, 'create: an org ADMIN cannot grant project OWNER');
select throws_ok($$select api.create_invitation('p2@authority.test', 'OWNER', '[]', 'p-2', '1 day', false)$$,
                 '42501', null, 'create: an org ADMIN cannot invite an org OWNER');
select pg_temp.act_as(:paul, :org_a);
select throws_ok($$select api.create_invitation('p3@authority.test', 'MEMBER',
                     '[{"project_id":"aaaaaaaa-0000-4000-8000-0000000000a1","role":"VIEWER"}]', 'p-3', '1 day', false)$$,
                 '42501', null, 'create: a project ADMIN who is an org MEMBER cannot invite at all');
select pg_temp.act_as(:adam, :org_a);
select throws_ok($$insert into app.invitation_projects (org_id, invitation_id, project_id, role)
                   values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000e1', 'aaaaaaaa-0000-4000-8000-0000000000a2', 'VIEWER')$$,
                 '42501', null, 'create: grants are added only to an invitation one issued (not to alice''s)');
select pg_temp.act_as_superuser();
select id as inv_adm from app.invitations where email = 'yuri@authority.test' \gset
select is((select count(*) from app.invitations where email like 'p_@authority.test'), 0::bigint,
          'create: the refused invitations left nothing behind');

-- ------------------------------------------------ resend: a new token is a new issue
select pg_temp.act_as(:adam, :org_a);
select throws_ok(format($$select api.resend_invitation(%L, 'own-2', '1 day', false)$$, :inv_own),
                 'RG403', 'your roles do not allow issuing this invitation: it grants more than you hold',
                 'resend: an org ADMIN cannot re-issue an OWNER''s invitation that grants project OWNER (attack 3)');
select pg_temp.act_as_superuser();
select is((select token_hash from app.invitations where id = :inv_own), sha256('own-1'), '... its token is unchanged');
select is((select count(*) from auth.email_outbox where recipient = 'xena@authority.test'), 0::bigint, '... and nothing was mailed');
insert into app.project_members (org_id, project_id, user_id, role) values (:org_a, :proj_a, :adam, 'OWNER');
select pg_temp.act_as(:adam, :org_a);
select lives_ok(format($$select api.resend_invitation(%L, 'own-3', '1 day', false)$$, :inv_own),
                'resend: the same ADMIN, once that project''s OWNER, may re-issue it');
select is((select invited_by from app.invitations where id = :inv_own), :adam::uuid, '... and is now its inviter');
select pg_temp.act_as(:alice, :org_a);
select lives_ok(format($$select api.resend_invitation(%L, 'adm-2', '1 day', false)$$, :'inv_adm'),
                'resend: an org OWNER re-issues an ADMIN''s invitation');
select is((select invited_by from app.invitations where id = :'inv_adm'), :alice::uuid, '... and stands behind it from now on');

-- ------------------------------------------------ accept: the inviter's authority, now
select pg_temp.act_as(:adam, :org_a);
select lives_ok($$select api.create_invitation('will@authority.test', 'MEMBER',
                    '[{"project_id":"aaaaaaaa-0000-4000-8000-0000000000a1","role":"OWNER"}]', 'will-1', '1 day', false)$$,
                'create: so does a project OWNER grant, from an org ADMIN who is that project''s OWNER');
select pg_temp.act_as(:will, null);
select is(app.accept_invitation(sha256('will-1')), :org_a::uuid,
          'accept: while that inviter still holds it (the kernel reads the inviter''s project membership)');
select pg_temp.act_as_superuser();
delete from app.project_members where project_id = :proj_a and user_id = :adam; -- adam is no project OWNER any more
select pg_temp.act_as(:xena, null);
select throws_ok($$select app.accept_invitation(sha256('own-3'))$$, 'RGL09',
                 'this invitation has lapsed: whoever sent it no longer holds everything it grants; ask for a new one',
                 'accept: a project grant lapses with the inviter''s project authority (the whole invitation is refused)');
select pg_temp.act_as_superuser();
select is((select count(*) from app.memberships where user_id = :xena), 0::bigint, '... nothing of it was applied');
select pg_temp.act_as(:alice, :org_a);
select lives_ok(format($$select api.resend_invitation(%L, 'own-4', '1 day', false)$$, :inv_own),
                '... an OWNER may re-issue the lapsed invitation');
select pg_temp.act_as(:xena, null);
select is(app.accept_invitation(sha256('own-4')), :org_a::uuid, '... which then stands');
select pg_temp.act_as(:yuri, null);
select is(app.accept_invitation(sha256('adm-2')), :org_a::uuid, 'accept: an ADMIN''s invitation re-issued by an OWNER is accepted');
select pg_temp.act_as(:yuri, :org_a);
select is((select array[role::text, finance::text] from app.my_project_permissions() where project_id = :proj_a),
          array['ADMIN', 'MANAGE'], '... with exactly its project grant');
select pg_temp.act_as_superuser();
-- Org role: an invitation to an org role above its inviter's (written here as the
-- superuser: no request could), and one whose inviter is gone.
insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by) values
  (:org_a, 'yuri@authority.test', 'OWNER', sha256('above'), now() + interval '1 day', :adam);
select pg_temp.act_as(:yuri, null);
select throws_ok($$select app.accept_invitation(sha256('above'))$$, 'RGL09', null,
                 'accept: an org role above the inviter''s lapses');
select pg_temp.act_as_superuser();
insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by) values
  (:org_b, 'yuri@authority.test', 'MEMBER', sha256('orphan'), now() + interval '1 day', null);
select pg_temp.act_as(:yuri, null);
select throws_ok($$select app.accept_invitation(sha256('orphan'))$$, 'RGL09', null,
                 'accept: an invitation nobody stands behind (inviter gone) lapses');

-- ------------------------------------------------ a disclosed token proves nothing
select pg_temp.act_as(:alice, :org_a);
select is((api.create_invitation('zoe@authority.test', 'MEMBER', '[]', 'zoe-1', '1 day', true)::jsonb)->>'token', 'zoe-1',
          'the development switch puts the token in the answer');
select pg_temp.act_as_superuser();
select isnt((select token_disclosed_at from app.invitations where email = 'zoe@authority.test'), null, '... and the invitation records it');
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$update app.invitations set token_disclosed_at = null where email = 'zoe@authority.test'$$, 'RG409', null,
                 'the record stays until the token itself changes');
select pg_temp.act_as(:zoe, null);
select set_config('app.session_id', :'zoe_sid', true);
select throws_ok($$select app.accept_invitation(sha256('zoe-1'))$$, 'RGV03', null,
                 'an unverified account cannot accept with a disclosed token (attack 2: the squatter)');
select throws_ok($$select api.list_my_invitations(20, null)$$, 'RGV03', null,
                 'nor list the invitations addressed to its unproven address');
select pg_temp.act_as(:alice, :org_a);
select is((api.resend_invitation((select id from app.invitations where email = 'zoe@authority.test'), 'zoe-2', '1 day', false)::jsonb)->>'token',
          null, 'a resend without the switch answers no token');
select pg_temp.act_as_superuser();
select is((select token_disclosed_at from app.invitations where email = 'zoe@authority.test'), null, '... and its new token is undisclosed');
select pg_temp.act_as(:zoe, null);
select set_config('app.session_id', :'zoe_sid', true);
select is(app.accept_invitation(sha256('zoe-2')), :org_a::uuid, 'a token that went to the mailbox alone is accepted by an unverified account');
select pg_temp.act_as_superuser();
select is((select array[email_verified_at is not null, password_hash is null] from auth.users where id = :zoe), array[true, true],
          '... and proves the address: verified, the password set before the proof wiped');
select is((select array_agg(coalesce(revoked_reason, 'live') order by revoked_reason nulls first) from auth.sessions where user_id = :zoe),
          array['live', 'email_proven'], '... every other session revoked, the prover''s own kept (first proof wins)');

select * from finish();
rollback;
