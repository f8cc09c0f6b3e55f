-- Disabling a user (migration 014). auth.begin_request reads the session row alone, so
-- a disabled user's tokens fail only because disabling revokes every live session of
-- theirs; these checks pin that down, and that nothing else revokes or revives one.
-- (The race of a sign-in with the disable is tests/pgtap/disable_race_test.go: it
-- needs two connections.)
begin;
create extension if not exists pgtap;
select plan(16);
\ir fixtures/tenants.sql

select id as mary_sid from auth.sessions where user_id = :mary \gset
select id as alice_sid from auth.sessions where user_id = :alice \gset
-- mary has a second live session, and an old one she logged out of.
insert into auth.sessions (user_id) values (:mary) returning id as mary_sid2 \gset
insert into auth.sessions (user_id, revoked_at, revoked_reason)
values (:mary, now() - interval '1 day', 'logout') returning id as mary_old_sid \gset

-- ------------------------------------------------------------ what begin_request reads
select ok(pg_get_functiondef('auth.begin_request(uuid, uuid, uuid)'::regprocedure) !~ 'auth\.users',
          'begin_request does not read auth.users: the session row is the whole revocation check');
select trigger_is('auth', 'users', 'users_revoke_sessions_when_disabled', 'auth', 'revoke_sessions_of_disabled_user',
                  'auth.users carries the trigger that revokes a disabled user''s sessions');

-- ------------------------------------------------------------ the trigger
update auth.users set email = 'mary2@acme.test' where id = :mary;
select is((select count(*) from auth.sessions where user_id = :mary and revoked_at is null), 2::bigint,
          'changing another column of a user revokes nothing');
update auth.users set status = 'disabled' where id = :mary;
select is((select count(*) from auth.sessions where user_id = :mary and revoked_at is null), 0::bigint,
          'disabling a user revokes every live session of theirs');
select is(array(select revoked_reason from auth.sessions where id in (:'mary_sid', :'mary_sid2')), '{disabled,disabled}',
          'with the reason "disabled"');
select is((select revoked_reason from auth.sessions where id = :'mary_old_sid'), 'logout',
          'a session ended earlier keeps its own reason and time');
select is((select revoked_at is null from auth.sessions where id = :'alice_sid'), true,
          'another user''s session is untouched');
set local role rowguard_api;
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :mary, :'mary_sid', :org_a), 'RG401', null,
                 'the disabled user''s live token fails on its next request');
reset role;

update auth.users set status = 'active' where id = :mary;
select is((select count(*) from auth.sessions where user_id = :mary and revoked_at is null), 0::bigint,
          'enabling the user again revives no session: they sign in again');
set local role rowguard_api;
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :mary, :'mary_sid2', :org_a), 'RG401', null,
                 'nor any token of theirs');
reset role;

-- ------------------------------------------------------------ auth.set_user_status (rowguard admin disable|enable)
select is((select row(user_id, sessions_revoked)::text from auth.set_user_status('ALICE@acme.test ', 'disabled')),
          row(:alice::uuid, 1)::text, 'set_user_status: finds the user by email (any case) and counts the sessions it revoked');
select is((select row(action, details->>'sessions_revoked')::text from platform.admin_audit
            where actor = 'command line' and details->>'user_id' = :alice order by id desc limit 1),
          row('user.disable', '1')::text, 'set_user_status: the action is in the admin audit');
select is((select sessions_revoked from auth.set_user_status('alice@acme.test', 'disabled')), 0,
          'set_user_status: disabling a disabled user again revokes nothing more');
select throws_ok($$select auth.set_user_status('nobody@nowhere.test', 'disabled')$$, 'RG404', null,
                 'set_user_status: an unknown email is an error');
select ok(not has_function_privilege('rowguard_api', 'auth.set_user_status(text, auth.user_status)', 'EXECUTE'),
          'set_user_status: the API role cannot call it (command line only)');

-- The API role cannot disable or enable anyone itself, its own row included.
select pg_temp.act_as(:bob, :org_b);
select throws_ok(format('update auth.users set status = ''active'' where id = %L', :alice), '42501', null,
                 'API role: writing a status is refused');

select * from finish();
rollback;
