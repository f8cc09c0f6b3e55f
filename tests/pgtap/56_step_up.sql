-- Step-up and soft-deleted organizations (migration 020), in SQL:
--   * auth.require_recent_reauthentication accepts only the current session's own proof,
--     within 5 minutes;
--   * the step-up code is the session's own, counts wrong guesses, records the proof;
--   * a deleted organization is invisible under RLS to every member at once (and
--     auth.begin_request refuses it), only an OWNER restores it, within 30 days;
--   * purging deletes only organizations deleted over 30 days ago, never from the API;
--   * removing or demoting the last other OWNER needs the step-up.
begin;
create extension if not exists pgtap;
select plan(51);
\ir fixtures/tenants.sql

select id as alice_sid from auth.sessions where user_id = :alice \gset
select id as adam_sid from auth.sessions where user_id = :adam \gset
select id as mary_sid from auth.sessions where user_id = :mary \gset
select id as bob_sid from auth.sessions where user_id = :bob \gset
\set otto '''a4000000-0000-4000-8000-000000000004'''
\set code '''\\x0707070707070707070707070707070707070707070707070707070707070707'''
\set wrong '''\\x0808080808080808080808080808080808080808080808080808080808080808'''

-- Acting as a user, in a session (act_as sets no session).
create function pg_temp.act_in(p_user uuid, p_session uuid, p_org uuid) returns void
language plpgsql as $$
begin
  perform pg_temp.act_as(p_user, p_org);
  perform set_config('app.session_id', coalesce(p_session::text, ''), true);
end
$$;

-- What a user sees of the current organization: its row, memberships, projects,
-- project members, and what the kernel helpers answer about it.
create function pg_temp.seen_in_org() returns int
language sql as $$
  select ((select count(*) from app.organizations) + (select count(*) from app.memberships)
        + (select count(*) from app.projects) + (select count(*) from app.project_members)
        + coalesce(array_length(app.my_org_ids(), 1), 0) + (select count(*) from app.my_project_permissions())
        + case when app.current_org_role() is null then 0 else 1 end)::int
$$;

-- ------------------------------------------------------------ nothing reachable directly
select is(array(select t from unnest(array['auth.reauthentication_codes', 'auth.reauthentications']) t
                 where has_table_privilege('rowguard_api', t, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                    or has_any_column_privilege('rowguard_api', t, 'SELECT, INSERT, UPDATE, REFERENCES')),
          '{}', 'the API role holds no privilege on step-up codes or the step-up audit');
select ok(not has_table_privilege('rowguard_api', 'app.organizations', 'DELETE'), 'the API role may not DELETE organizations');
select ok(not has_column_privilege('rowguard_api', 'app.organizations', 'deleted_at', 'UPDATE')
          and not has_column_privilege('rowguard_api', 'app.organizations', 'deleted_by', 'UPDATE'),
          'nor set deleted_at / deleted_by itself');
select ok(not has_function_privilege('rowguard_api', 'app.purge_deleted_organizations(interval)', 'EXECUTE'),
          'nor run the purge');

-- ------------------------------------------------------------ auth.require_recent_reauthentication
select pg_temp.act_in(:alice, null, :org_a);
select throws_ok($$select auth.require_recent_reauthentication()$$, 'RGR03', null, 'no session: no proof');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select throws_ok($$select auth.require_recent_reauthentication()$$, 'RGR03', null, 'a session that never reauthenticated');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = now() - interval '4 minutes 50 seconds' where id = :'alice_sid';
update auth.sessions set reauthenticated_at = now() where id = :'bob_sid';
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select lives_ok($$select auth.require_recent_reauthentication()$$, 'a proof under 5 minutes old');
select pg_temp.act_in(:alice, :'bob_sid', :org_a);
select throws_ok($$select auth.require_recent_reauthentication()$$, 'RGR03', null, 'another user''s fresh session is no proof for alice');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = now() - interval '5 minutes 1 second' where id = :'alice_sid';
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select throws_ok($$select auth.require_recent_reauthentication()$$, 'RGR03', null, 'a proof over 5 minutes old has lapsed');
select pg_temp.act_as_superuser();
update auth.sessions set revoked_at = now(), reauthenticated_at = now() where id = :'bob_sid';
select pg_temp.act_in(:bob, :'bob_sid', :org_b);
select throws_ok($$select auth.record_reauthentication('password')$$, 'RG401', null, 'a revoked session records no proof');

-- ------------------------------------------------------------ the step-up code
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select lives_ok(format('select auth.request_reauthentication_code(%L, ''424242'')', :code), 'a code for the caller''s session');
select pg_temp.act_as_superuser();
select is((select count(*)::int from auth.reauthentication_codes where session_id = :'alice_sid' and user_id = :alice and code_hash = :code),
          1, 'stored as the hash the API gave, for that session');
select is((select count(*)::int from auth.email_outbox where recipient = 'alice@acme.test' and template = 'reauthentication_code'
             and payload->>'code' = '424242'), 1, 'emailed to the user''s address');
select pg_temp.act_in(:adam, :'adam_sid', :org_a);
select is(auth.verify_reauthentication_code(:code), false, 'another session (adam''s) cannot use alice''s code');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is(auth.verify_reauthentication_code(:wrong), false, 'a wrong code is refused');
select pg_temp.act_as_superuser();
select is((select attempts from auth.reauthentication_codes where session_id = :'alice_sid'), 1, '... and counted');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is(auth.verify_reauthentication_code(:code), true, 'the right code, in the session that asked');
select is(auth.verify_reauthentication_code(:code), false, 'once');
select lives_ok($$select auth.require_recent_reauthentication()$$, 'the code is a fresh proof');
select pg_temp.act_as_superuser();
select is((select count(*)::int from auth.reauthentications where session_id = :'alice_sid' and user_id = :alice and method = 'code'),
          1, 'the proof is recorded');
select isnt((select email_verified_at from auth.users where id = :alice), null, 'and the mailbox is proven');

-- ------------------------------------------------------------ soft delete
select pg_temp.act_in(:mary, :'mary_sid', :org_a);
select throws_ok($$select app.soft_delete_organization()$$, 'RG403', null, 'a MEMBER cannot delete the organization');
select pg_temp.act_in(:adam, :'adam_sid', :org_a);
select throws_ok($$select app.soft_delete_organization()$$, 'RG403', null, 'nor an ADMIN');
select pg_temp.act_in(:bob, :'bob_sid', :org_a);
select throws_ok($$select app.soft_delete_organization()$$, 'RG404', null, 'a stranger with a forged context hears 404');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = null where id = :'alice_sid';
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select throws_ok($$select app.soft_delete_organization()$$, 'RGR03', null, 'an OWNER without a fresh proof');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = now() where id = :'alice_sid';
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select lives_ok($$select app.soft_delete_organization()$$, 'an OWNER with a fresh proof');
select pg_temp.act_as_superuser();
select is((select deleted_by from app.organizations where id = :org_a and deleted_at is not null), :alice::uuid, 'soft-deleted, by alice');
select is((select count(*)::int from app.projects where org_id = :org_a), 1, 'every row is still there');

-- Invisible to every member at once, under RLS, even with the org in the context.
select pg_temp.act_as(:alice, :org_a);
select is(pg_temp.seen_in_org(), 0, 'the OWNER sees no row of the deleted organization, even with it in the context');
select pg_temp.act_as(:adam, :org_a);
select is(pg_temp.seen_in_org(), 0, 'nor does the ADMIN');
select pg_temp.act_as(:mary, :org_a);
select is(pg_temp.seen_in_org(), 0, 'nor the MEMBER');
select pg_temp.act_as_superuser();
update auth.sessions set revoked_at = null where id = :'bob_sid';
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :alice, :'alice_sid', :org_a), 'RG404', null,
                 'auth.begin_request refuses the deleted organization like a stranger''s');
select lives_ok(format('select auth.begin_request(%L, %L, %L)', :bob, :'bob_sid' , :org_b), 'and not another');
select pg_temp.act_as(:bob, :org_b);
select is((select count(*)::int from app.projects), 1, 'the other tenant is untouched');

-- ------------------------------------------------------------ restore
select pg_temp.act_in(:alice, :'alice_sid', null);
select is((select array_agg(id) from app.my_deleted_organizations()), array[:org_a::uuid], 'the OWNER lists it among her deleted organizations');
select pg_temp.act_in(:adam, :'adam_sid', null);
select is((select count(*)::int from app.my_deleted_organizations()), 0, 'an ADMIN does not');
select throws_ok(format('select app.restore_organization(%L)', :org_a), 'RG404', null, 'nor restores it');
select pg_temp.act_in(:bob, :'bob_sid', null);
select throws_ok(format('select app.restore_organization(%L)', :org_a), 'RG404', null, 'nor does a stranger');
select throws_ok(format('select app.restore_organization(%L)', :org_b), 'RG404', null, 'a live organization is not restored');
select pg_temp.act_in(:alice, :'alice_sid', null);
select lives_ok(format('select app.restore_organization(%L)', :org_a), 'the OWNER restores it');
select pg_temp.act_as(:mary, :org_a);
select is((select count(*)::int from app.organizations), 1, 'members see it again');

-- The 30-day window.
select pg_temp.act_as_superuser();
update app.organizations set deleted_at = now() - interval '30 days 1 minute', deleted_by = :alice where id = :org_a;
select pg_temp.act_in(:alice, :'alice_sid', null);
select is((select count(*)::int from app.my_deleted_organizations()), 0, 'past 30 days it is no longer listed');
select throws_ok(format('select app.restore_organization(%L)', :org_a), 'RG404', null, 'nor restorable');

-- ------------------------------------------------------------ purge
select pg_temp.act_as_superuser();
update app.organizations set deleted_at = now() - interval '29 days', deleted_by = :bob where id = :org_b;
select throws_ok($$select * from app.purge_deleted_organizations('29 days')$$, '22023', null, 'the grace cannot be shortened below 30 days');
-- (Scoped to the fixtures: on a live database the purge may take others too, rolled back.)
select is((select array_agg(org_id) from app.purge_deleted_organizations() where org_id in (:org_a, :org_b)), array[:org_a::uuid],
          'the purge takes the one deleted over 30 days ago');
select is((select count(*)::int from app.projects where org_id = :org_a) + (select count(*)::int from app.memberships where org_id = :org_a),
          0, 'with every row of it');
select is((select count(*)::int from app.organizations where id = :org_b), 1, 'the one deleted 29 days ago stays (restorable)');
select is((select count(*)::int from platform.admin_audit where org_id = :org_a and action = 'organization.purge' and actor = 'command line'),
          1, 'the purge is in the platform audit');

-- ------------------------------------------------------------ the last other OWNER
select pg_temp.act_as_superuser();
update app.organizations set deleted_at = null, deleted_by = null where id = :org_b;
insert into auth.users (id, email, password_hash) values (:otto, 'otto@globex.test', 'x');
insert into app.memberships (org_id, user_id, role) values (:org_b, :otto, 'OWNER');
update auth.sessions set revoked_at = null, reauthenticated_at = null where id = :'bob_sid';
select pg_temp.act_in(:bob, :'bob_sid', :org_b);
select throws_ok(format('delete from app.memberships where user_id = %L', :otto), 'RGR03', null,
                 'removing the last other OWNER needs a fresh proof');
select throws_ok(format('update app.memberships set role = ''ADMIN'' where user_id = %L', :otto), 'RGR03', null,
                 'so does demoting them');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = now() where id = :'bob_sid';
select pg_temp.act_in(:bob, :'bob_sid', :org_b);
select isnt_empty(format('delete from app.memberships where user_id = %L returning user_id', :otto), 'with one, the OWNER removes them');

select * from finish();
rollback;
