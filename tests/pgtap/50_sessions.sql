-- Sessions, refresh tokens and rate limits (issue 3). The tables holding them are not
-- reachable by the API role except through the kernel functions, and those functions
-- answer only about the caller (app.user_id) or about the row a secret names.
begin;
create extension if not exists pgtap;
select plan(44);
\ir fixtures/tenants.sql

select id as alice_sid from auth.sessions where user_id = :alice \gset
select id as bob_sid from auth.sessions where user_id = :bob \gset
select id as sam_sid from auth.sessions where user_id = :sam \gset
\set token1 '''\\x0101010101010101010101010101010101010101010101010101010101010101'''
\set token2 '''\\x0202020202020202020202020202020202020202020202020202020202020202'''
\set token3 '''\\x0303030303030303030303030303030303030303030303030303030303030303'''
\set token4 '''\\x0404040404040404040404040404040404040404040404040404040404040404'''
\set token5 '''\\x0505050505050505050505050505050505050505050505050505050505050505'''

-- ------------------------------------------------------------ unreachable except through functions
select is(array(select t from unnest(array['auth.sessions', 'auth.refresh_tokens', 'auth.rate_limits']) t
                 where has_table_privilege('rowguard_api', t, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                    or has_any_column_privilege('rowguard_api', t, 'SELECT, INSERT, UPDATE, REFERENCES')),
          '{}', 'the API role holds no privilege on sessions, refresh tokens or rate-limit counters');
select pg_temp.act_as(:alice, :org_a);
select throws_ok('select count(*) from auth.sessions', '42501', null, 'API role: reading auth.sessions is refused');
select throws_ok('select count(*) from auth.refresh_tokens', '42501', null, 'API role: reading auth.refresh_tokens is refused');
select throws_ok('select count(*) from auth.rate_limits', '42501', null, 'API role: reading auth.rate_limits is refused');
select throws_ok(format('update auth.sessions set revoked_at = null where id = %L', :'bob_sid'), '42501', null,
                 'API role: un-revoking or touching a session directly is refused');
select throws_ok(format('insert into auth.refresh_tokens (token_hash, session_id) values (%L, %L)', :token1, :'bob_sid'), '42501', null,
                 'API role: planting a refresh token is refused');
select throws_ok($$delete from auth.rate_limits$$, '42501', null, 'API role: resetting rate limits is refused');

-- ------------------------------------------------------------ auth.open_session
select throws_ok(format('select auth.open_session(%L, null, null, %L, ''1 day'', ''1 hour'')', :bob, :token1), 'RG401', null,
                 'open_session: only for the user app.user_id names (alice cannot open one for bob)');
select lives_ok(format('select auth.open_session(%L, ''pgTAP'', ''192.0.2.7'', %L, ''1 day'', ''1 hour'')', :alice, :token1),
                'open_session: a session for the caller');
select throws_ok(format('select auth.open_session(%L, null, null, %L, ''0 seconds'', ''1 hour'')', :alice, :token2), '22023', null,
                 'open_session: a session must have a positive lifetime');
select pg_temp.act_as_superuser();
select s.id as new_sid from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id where t.token_hash = :token1 \gset
select ok((select expires_at = now() + interval '1 day' and idle_timeout = interval '1 hour' and user_agent = 'pgTAP' and ip = '192.0.2.7'
             from auth.sessions where id = :'new_sid'), 'open_session: lifetime, idle timeout, device and address recorded');
update auth.users set status = 'disabled' where id = :sam;
select pg_temp.act_as(:sam, null);
select throws_ok(format('select auth.open_session(%L, null, null, %L, ''1 day'', ''1 hour'')', :sam, :token2), 'RG403', null,
                 'open_session: a disabled user gets no session');
select pg_temp.act_as_superuser();
update auth.users set status = 'active' where id = :sam;

-- ------------------------------------------------------------ auth.rotate_refresh_token (before any sign-in: no app.user_id)
select pg_temp.act_as(null, null);
select is((select row(outcome, user_id, session_id)::text from auth.rotate_refresh_token(:token1, :token2, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')),
          row('rotated', :alice::uuid, :'new_sid'::uuid)::text, 'rotate: a current token rotates, naming its user and session');
select is((select outcome from auth.rotate_refresh_token(:token1, :token3, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'replayed',
          'rotate: the rotated token again within the grace window (another tab) gets the successor already issued');
select pg_temp.act_as_superuser();
select is((select count(*) from auth.refresh_tokens where session_id = :'new_sid' and rotated_at is null), 1::bigint,
          'rotate: both tabs share the one live token (54_refresh_chain_and_limits)');
update auth.refresh_tokens set rotated_at = now() - interval '11 seconds' where token_hash = :token1;
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:token1, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'reused',
          'rotate: a rotated token presented after the grace window is reuse');
select pg_temp.act_as_superuser();
select is((select revoked_reason from auth.sessions where id = :'new_sid' and revoked_at is not null), 'refresh_token_reused',
          'rotate: reuse revokes the whole session');
select is((select count(*) from auth.refresh_tokens where token_hash = :token4), 0::bigint, 'rotate: reuse issues no new token');
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:token2, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'invalid',
          'rotate: the session''s other tokens die with it');
select is((select outcome from auth.rotate_refresh_token(:token5, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'invalid', 'rotate: an unknown token is invalid');
select is((select row(user_id, session_id)::text from auth.rotate_refresh_token(:token5, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')),
          row(null::uuid, null::uuid)::text, 'rotate: an invalid token names nobody');

-- lifetime, inactivity and the user's status are checked on refresh too
select pg_temp.act_as(:bob, null);
select session_id as bob_opened from auth.open_session(:bob, null, null, :token5, '1 day', '1 hour') \gset
select pg_temp.act_as_superuser();
select s.id as bob_new_sid from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id where t.token_hash = :token5 \gset
update auth.sessions set expires_at = now() where id = :'bob_new_sid';
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:token5, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'invalid', 'rotate: a session past its lifetime is invalid');
select pg_temp.act_as_superuser();
update auth.sessions set expires_at = now() + interval '1 day', last_used_at = now() - interval '1 hour' where id = :'bob_new_sid';
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:token5, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'invalid', 'rotate: an idle session is invalid');
select pg_temp.act_as_superuser();
update auth.sessions set last_used_at = now() where id = :'bob_new_sid';
update auth.users set status = 'disabled' where id = :bob;
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:token5, :token4, '\x55555555555555555555555555555555555555555555555555555555555555555555', '10 seconds')), 'invalid', 'rotate: a disabled user''s token is invalid');
select pg_temp.act_as_superuser();
update auth.users set status = 'active' where id = :bob;
-- Enabling revives no session (51_disable_user); the checks below need bob's back.
update auth.sessions set revoked_at = null, revoked_reason = null where user_id = :bob and revoked_reason = 'disabled';

-- ------------------------------------------------------------ auth.begin_request: lifetime and inactivity
update auth.sessions set expires_at = now() - interval '1 second' where id = :'bob_sid';
set local role rowguard_api;
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :bob, :'bob_sid', :org_b), 'RG401', null,
                 'begin_request: a session past its lifetime is refused');
reset role;
update auth.sessions set expires_at = now() + interval '1 day', idle_timeout = interval '10 minutes',
                         last_used_at = now() - interval '10 minutes' where id = :'bob_sid';
set local role rowguard_api;
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :bob, :'bob_sid', :org_b), 'RG401', null,
                 'begin_request: a session idle for its whole timeout is refused');
reset role;
update auth.sessions set last_used_at = now() - interval '9 minutes' where id = :'bob_sid';
set local role rowguard_api;
select auth.begin_request(:bob, :'bob_sid', :org_b);
select is(app.current_session_id(), :'bob_sid'::uuid, 'begin_request: sets app.session_id');

-- ------------------------------------------------------------ the caller's sessions only
select pg_temp.act_as(:alice, null);
select is(array(select id from auth.my_sessions()), array[:'alice_sid'::uuid],
          'my_sessions: only the caller''s live sessions (not the revoked one, not bob''s)');
select is(auth.revoke_my_session(:'bob_sid', 'removed'), false, 'revoke_my_session: another user''s session is not the caller''s');
select is(auth.revoke_my_sessions(null, 'logout_all'), 1, 'revoke_my_sessions: revokes the caller''s live sessions only');
select pg_temp.act_as_superuser();
select is((select revoked_at from auth.sessions where id = :'bob_sid'), null, 'bob''s session is untouched');
select is((select count(*) from auth.sessions where user_id = :alice and revoked_at is null), 0::bigint,
          'alice has no live session left');
select pg_temp.act_as(:bob, null);
select is((select count(*) from auth.my_sessions()), 2::bigint, 'my_sessions: bob sees his two live sessions');
select is(auth.my_password_hash(), 'x', 'my_password_hash: the caller''s own hash');
select pg_temp.act_as(null, null);
select is(auth.my_password_hash(), null, 'my_password_hash: nobody signed in reads nothing');

-- ------------------------------------------------------------ old sessions are forgotten
select pg_temp.act_as_superuser();
update auth.sessions set revoked_at = now() - interval '31 days' where id = :'new_sid';
update auth.sessions set revoked_at = now() - interval '29 days' where id = :'alice_sid';
select pg_temp.act_as(:alice, null);
select session_id as alice_third from auth.open_session(:alice, null, null, :token4, '1 day', '1 hour') \gset
select pg_temp.act_as_superuser();
select is(array(select id from auth.sessions where user_id = :alice and id <> :'alice_third' order by id),
          array[:'alice_sid'::uuid], 'open_session: forgets the user''s sessions ended over 30 days ago, keeps the recent ones');
select is((select count(*) from auth.refresh_tokens where session_id = :'new_sid'), 0::bigint, '... with their refresh tokens');
set local role rowguard_kernel;
select is_empty(format('delete from auth.sessions where id = %L returning id', :'alice_sid'),
                'even the kernel cannot delete a session that ended less than 30 days ago');
reset role;

-- ------------------------------------------------------------ auth.hit_rate_limit
select is(array(select auth.hit_rate_limit('pgtap50:account:x', 3, '1 minute') from generate_series(1, 5)),
          array[0, 0, 0, 60, 60], 'hit_rate_limit: the first max hits pass, the next wait for the window');
select is(auth.hit_rate_limit('pgtap50:account:y', 3, '1 minute'), 0, 'hit_rate_limit: buckets are independent');
select pg_temp.act_as_superuser();
update auth.rate_limits set window_ends_at = clock_timestamp() - interval '1 second' where bucket = 'pgtap50:account:x';
select pg_temp.act_as(null, null);
select is(auth.hit_rate_limit('pgtap50:account:x', 3, '1 minute'), 0, 'hit_rate_limit: a new window starts afresh');
select throws_ok($$select auth.enforce_rate_limit('pgtap50:account:z', 1, '1 hour') from generate_series(1, 2)$$, 'RG429', null,
                 'enforce_rate_limit: over the limit raises RG429');
select throws_ok($$select auth.hit_rate_limit('pgtap50:x', 0, '1 minute')$$, '22023', null, 'hit_rate_limit: max must be at least 1');
select throws_ok($$select auth.hit_rate_limit('pgtap50:x', 1, '-1 minute')$$, '22023', null, 'hit_rate_limit: the window must be positive');

select * from finish();
rollback;
