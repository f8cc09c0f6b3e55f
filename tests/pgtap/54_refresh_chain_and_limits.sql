-- One live refresh token per session, and sign-in throttling that cannot lock the owner
-- out (migration 019). The rules live in SQL: the unique index and
-- auth.rotate_refresh_token keep one chain per session; auth.hit_sign_in_failure counts
-- failures per (email, network) and, from networks the account never signed in from,
-- per email; asking again for a live code or reset keeps it and sends nothing.
begin;
create extension if not exists pgtap;
select plan(32);
\ir fixtures/tenants.sql

\set t1 '''\\x5401010101010101010101010101010101010101010101010101010101010101'''
\set t2 '''\\x5402020202020202020202020202020202020202020202020202020202020202'''
\set t3 '''\\x5403030303030303030303030303030303030303030303030303030303030303'''
\set t4 '''\\x5404040404040404040404040404040404040404040404040404040404040404'''
\set t5 '''\\x5405050505050505050505050505050505050505050505050505050505050505'''
\set t7 '''\\x5407070707070707070707070707070707070707070707070707070707070707'''
\set t6 '''\\x5406060606060606060606060606060606060606060606060606060606060606'''
-- Sealed successors are opaque to SQL; any 29+ bytes stand for one here.
\set sealed2 '''\\x53020202020202020202020202020202020202020202020202020202020202020202'''
\set sealed3 '''\\x53030303030303030303030303030303030303030303030303030303030303030303'''
\set sealed4 '''\\x53040404040404040404040404040404040404040404040404040404040404040404'''

-- ------------------------------------------------------------ one live token per session
select pg_temp.act_as(:alice, null);
select session_id as sid from auth.open_session(:alice, 'pgTAP', '198.51.100.4', :t1, '1 day', '1 hour') \gset
select pg_temp.act_as(null, null);
select is((select row(outcome, session_id, successor_sealed)::text from auth.rotate_refresh_token(:t1, :t2, :sealed2, '10 seconds')),
          row('rotated', :'sid'::uuid, null::bytea)::text, 'rotate: the live token rotates');
select is((select row(outcome, session_id, successor_sealed)::text from auth.rotate_refresh_token(:t1, :t3, :sealed3, '10 seconds')),
          row('replayed', :'sid'::uuid, :sealed2::bytea)::text,
          'rotate: the rotated token again within the grace window gets the successor already issued (sealed)');
select pg_temp.act_as_superuser();
select is((select array_agg(token_hash order by token_hash) from auth.refresh_tokens where session_id = :'sid' and rotated_at is null),
          array[:t2::bytea], 'the replay issued nothing: the session''s one live token is the successor');
select is((select count(*) from auth.refresh_tokens where token_hash = :t3), 0::bigint, 'the replay''s own candidate was never stored');
select throws_ok(format('insert into auth.refresh_tokens (token_hash, session_id) values (%L, %L)', :t4, :'sid'), '23505', null,
                 'a second live token for one session cannot exist (unique index)');
select ok(not exists (select from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id
                       where s.id = :'sid' and (t.successor_sealed = :t2::bytea or position(:t2::bytea in t.successor_sealed) > 0)),
          'the successor is kept sealed, never as the token''s hash or the token');

-- The successor rotates in turn: the first token can no longer be replayed, even within the window.
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:t2, :t3, :sealed3, '10 seconds')), 'rotated',
          'rotate: the successor rotates');
select pg_temp.act_as_superuser();
select is((select count(*) from auth.refresh_tokens where session_id = :'sid' and successor_sealed is not null), 1::bigint,
          'only the live token''s predecessor keeps a sealed successor');
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:t2, :t4, :sealed4, '10 seconds')), 'replayed',
          'the live token''s predecessor, within the window, gets the live token again');
select is((select outcome from auth.rotate_refresh_token(:t1, :t4, :sealed4, '10 seconds')), 'reused',
          'an older token, even within the window, is reuse');
select pg_temp.act_as_superuser();
select is((select revoked_reason from auth.sessions where id = :'sid'), 'refresh_token_reused', 'and reuse revokes the session');
select is((select count(*) from auth.refresh_tokens where session_id = :'sid' and rotated_at is null), 1::bigint,
          'still one live token, of a dead session');

-- After the window: reuse, as before.
select pg_temp.act_as(:bob, null);
select session_id as bob_sid from auth.open_session(:bob, null, null, :t4, '1 day', '1 hour') \gset
select pg_temp.act_as(null, null);
select is((select outcome from auth.rotate_refresh_token(:t4, :t5, :sealed2, '10 seconds')), 'rotated',
          'bob''s token rotates');
select pg_temp.act_as_superuser();
update auth.refresh_tokens set rotated_at = now() - interval '11 seconds' where token_hash = :t4;
select pg_temp.act_as(null, null);
select is((select row(outcome, successor_sealed)::text from auth.rotate_refresh_token(:t4, :t6, :sealed3, '10 seconds')),
          row('reused', null::bytea)::text, 'a replay after the grace window is reuse, and hands out nothing');
select pg_temp.act_as_superuser();
select is((select revoked_reason from auth.sessions where id = :'bob_sid'), 'refresh_token_reused', 'reuse after the window revokes the session');
select pg_temp.act_as(:adam, null);
select auth.open_session(:adam, null, null, :t7, '1 day', '1 hour');
select pg_temp.act_as(null, null);
select throws_ok(format('select * from auth.rotate_refresh_token(%L, %L, null, ''10 seconds'')', :t7, :t1), '22023', null,
                 'no sealed successor, no rotation');

-- ------------------------------------------------------------ failures: per (email, network), per email from unknown networks
-- mary signed in from 203.0.113.9 (a session opened there); never from 192.0.2.66.
select pg_temp.act_as_superuser();
insert into auth.sessions (user_id, ip) values (:mary, '203.0.113.9');
insert into auth.sessions (user_id, ip, revoked_at, revoked_reason) values (:mary, '192.0.2.77', now(), 'email_proven');
select ok(auth.is_known_network('MARY@acme.test', '203.0.113.9/32'), 'a network the account signed in from is known');
select ok(not auth.is_known_network('mary@acme.test', '192.0.2.66/32'), 'another is not');
select ok(not auth.is_known_network('mary@acme.test', '192.0.2.77/32'), 'nor one a squatter signed in from before the address was proven');
insert into auth.sessions (user_id, ip) values (:mary, '2001:db8:54:1::9');
select ok(auth.is_known_network('mary@acme.test', '2001:db8:54:1::/64'), 'an IPv6 session makes its /64 known');

select pg_temp.act_as(null, null);
-- The attacker, from 192.0.2.66: 3 failures per (email, network), 5 per email from unknown networks.
select auth.hit_sign_in_failure('mary@acme.test', '192.0.2.66/32', 3, '15 minutes', 5, '15 minutes') from generate_series(1, 3);
select throws_ok($$select auth.hit_sign_in_failure('mary@acme.test', '192.0.2.66/32', 3, '15 minutes', 5, '15 minutes')$$,
                 'RG429', null, 'the 4th failure from one network is refused');
select auth.hit_sign_in_failure('mary@acme.test', '192.0.2.67/32', 3, '15 minutes', 5, '15 minutes') from generate_series(1, 2);
select throws_ok($$select auth.hit_sign_in_failure('mary@acme.test', '192.0.2.68/32', 3, '15 minutes', 5, '15 minutes')$$,
                 'RG429', null, 'from networks the account never signed in from, the 6th failure is refused whatever the network');
select lives_ok($$select auth.hit_sign_in_failure('mary@acme.test', '203.0.113.9/32', 3, '15 minutes', 5, '15 minutes')$$,
                'the owner''s own network is not held by the per-email ceiling');
select lives_ok($$select auth.hit_sign_in_failure('adam@acme.test', '192.0.2.66/32', 3, '15 minutes', 5, '15 minutes')$$,
                'nor is another account from the attacker''s network');
select auth.forgive_sign_in_failure('mary@acme.test', '203.0.113.9/32');
select pg_temp.act_as_superuser();
select is((select hits from auth.rate_limits where bucket = 'signin-failure:account-address:mary@acme.test|203.0.113.9/32'), 0,
          'a sign-in that succeeded takes its failure back');
select is((select hits from auth.rate_limits where bucket = 'signin-failure:account:mary@acme.test'), 5,
          'the per-email count holds the unknown networks'' failures only');

-- ------------------------------------------------------------ a live code or reset is kept
select pg_temp.act_as(null, null);
select auth.request_sign_in_code('adam@acme.test', sha256('code one'::bytea), '111111', false);
select auth.request_sign_in_code('adam@acme.test', sha256('code two'::bytea), '222222', false);
select pg_temp.act_as_superuser();
select is((select code_hash from auth.email_sign_in_codes where email = 'adam@acme.test'), sha256('code one'::bytea),
          'asking again for a code keeps the live one');
select is((select count(*) from auth.email_outbox where recipient = 'adam@acme.test' and template = 'sign_in_code'), 1::bigint,
          'and sends nothing');
select pg_temp.act_as(null, null);
select auth.verify_sign_in_code('adam@acme.test', sha256('wrong'::bytea), false) from generate_series(1, 19);
select is(auth.verify_sign_in_code('adam@acme.test', sha256('code one'::bytea), false), :adam::uuid,
          'nineteen wrong guesses leave the code usable');
select auth.request_sign_in_code('adam@acme.test', sha256('code three'::bytea), '333333', false);
select auth.verify_sign_in_code('adam@acme.test', sha256('wrong'::bytea), false) from generate_series(1, 20);
select is(auth.verify_sign_in_code('adam@acme.test', sha256('code three'::bytea), false), null,
          'the 20th wrong guess voids it');

select auth.request_password_reset('bob@globex.test', repeat('r', 43), null);
select auth.request_password_reset('bob@globex.test', repeat('s', 43), null);
select pg_temp.act_as_superuser();
select is((select array_agg(token_hash) from auth.password_reset_tokens where user_id = :bob),
          array[sha256(convert_to(repeat('r', 43), 'UTF8'))], 'asking again for a reset keeps the live token');
select is((select count(*) from auth.email_outbox where recipient = 'bob@globex.test' and template = 'password_reset'), 1::bigint,
          'and sends nothing');

select * from finish();
rollback;
