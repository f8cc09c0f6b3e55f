-- Sign-up proves the mailbox (migration 017): a password sign-up is only pending until
-- the code mailed to the address comes back; no auth.users row exists before that, and
-- the API role cannot create one itself. A taken address gets an email, not a second
-- account. Every other way in that proves a mailbox (email code, reset token, OIDC)
-- hands an unverified account to the prover (auth.prove_email_ownership, 016).
--
-- Code hashes here are plain SHA-256 values standing in for the API's HMAC: the SQL
-- only stores and compares the 32 bytes it is given.
begin;
create extension if not exists pgtap;
select plan(39);
\ir fixtures/tenants.sql

\set pw_hash '''$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$pending-hash'''

-- ------------------------------------------------------------ the API role's reach
select is(array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES']) p
                 where has_table_privilege('rowguard_api', 'auth.pending_sign_ups', p)),
          '{}'::text[], 'the API role holds no privilege on auth.pending_sign_ups');
select ok(not has_table_privilege('rowguard_api', 'auth.users', 'INSERT')
          and not has_any_column_privilege('rowguard_api', 'auth.users', 'INSERT'),
          'the API role cannot INSERT into auth.users: accounts are born only from a proven mailbox');
select pg_temp.act_as(null, null);
select throws_ok($$insert into auth.users (id, email, password_hash) values ('d5000000-0000-4000-8000-000000000001', 'self@signup.test', 'x')$$,
                 '42501', null, 'signing oneself up by inserting a user is refused');
select throws_ok('select * from auth.pending_sign_ups', '42501', null, 'reading pending sign-ups directly is refused');

-- ------------------------------------------------------------ a new address
select auth.request_sign_up('Newbie@SignUp.test', sha256('newbie-1'), '111111', :pw_hash, 'Newbie Inc');
select pg_temp.act_as_superuser();
select is((select count(*) from auth.users where lower(email) = 'newbie@signup.test'), 0::bigint,
          'a pending sign-up creates no user');
select is((select code_hash from auth.pending_sign_ups where email = 'newbie@signup.test'), sha256('newbie-1'),
          'the code''s keyed hash waits under the lower-case address');
select is((select password_hash from auth.pending_sign_ups where email = 'newbie@signup.test'), :pw_hash,
          'with the argon2id hash computed at sign-up');
select ok((select expires_at between now() + interval '29 minutes' and now() + interval '31 minutes'
             from auth.pending_sign_ups where email = 'newbie@signup.test'), 'valid 30 minutes');
select is((select count(*) from auth.email_outbox where recipient = 'Newbie@SignUp.test' and template = 'sign_up_code'
             and payload->>'code' = '111111'), 1::bigint, 'the code goes to the address typed, by email only');

select throws_ok($$select auth.request_sign_up('x@signup.test', sha256('x'), '123456', 'plain-text', null)$$,
                 '22023', null, 'a sign-up without an argon2id hash is refused');

-- ------------------------------------------------------------ wrong codes, the attempts limit
select pg_temp.act_as(null, null);
select is((select user_id from auth.verify_sign_up('newbie@signup.test', sha256('wrong'))), null,
          'a wrong code is refused');
select pg_temp.act_as_superuser();
select is((select attempts from auth.pending_sign_ups where email = 'newbie@signup.test'), 1, 'and counts');
select is((select count(*) from auth.users where lower(email) = 'newbie@signup.test'), 0::bigint, 'and creates nobody');
select is((select user_id from auth.verify_sign_up('newbie@signup.test', null)), null, 'a NULL hash is a wrong code');
select from auth.verify_sign_up('newbie@signup.test', sha256('wrong'));
select from auth.verify_sign_up('newbie@signup.test', sha256('wrong'));
select is((select attempts from auth.pending_sign_ups where email = 'newbie@signup.test'), 4, 'each wrong guess counts');
select from auth.verify_sign_up('newbie@signup.test', sha256('wrong'));
select is((select count(*) from auth.pending_sign_ups where email = 'newbie@signup.test'), 0::bigint,
          'the 5th wrong guess voids the sign-up');
select is((select user_id from auth.verify_sign_up('newbie@signup.test', sha256('newbie-1'))), null,
          'after which even the right code is refused');

-- ------------------------------------------------------------ the right code
select pg_temp.act_as(null, null);
select auth.request_sign_up('Newbie@SignUp.test', sha256('newbie-2'), '222222', :pw_hash, 'Newbie Inc');
select auth.request_sign_up('Newbie@SignUp.test', sha256('newbie-3'), '333333', :pw_hash, 'Newbie Inc');
select is((select user_id from auth.verify_sign_up('newbie@signup.test', sha256('newbie-2'))), null,
          'a new request voids the older code');
select api.complete_sign_up('NEWBIE@signup.test', sha256('newbie-3'), 'pgtap', '192.0.2.7',
                            sha256('newbie-refresh'), interval '30 days', interval '7 days') as signed_up \gset
select pg_temp.act_as_superuser();
select is((select count(*) from auth.users where lower(email) = 'newbie@signup.test' and email = 'Newbie@SignUp.test'
             and email_verified_at is not null and password_hash = :pw_hash and status = 'active'), 1::bigint,
          'the right code creates the user: the address as typed at sign-up, verified, with the pending password');
select is((:'signed_up'::json->'user'->>'email'), 'Newbie@SignUp.test', 'api.complete_sign_up answers with that user');
select is((select count(*) from auth.sessions s join auth.users u on u.id = s.user_id
            where lower(u.email) = 'newbie@signup.test' and s.id = (:'signed_up'::json->>'session_id')::uuid
              and s.revoked_at is null), 1::bigint, 'and a live session of theirs');
select is((select m.role::text from app.memberships m join app.organizations o on o.id = m.org_id
            where o.id = (:'signed_up'::json->'organization'->>'id')::uuid and o.name = 'Newbie Inc'
              and m.user_id = (:'signed_up'::json->'user'->>'id')::uuid), 'OWNER',
          'and the organization named at sign-up, which they OWN');
select is((select count(*) from auth.pending_sign_ups where email = 'newbie@signup.test'), 0::bigint,
          'the pending sign-up is used up');
select is((select user_id from auth.verify_sign_up('newbie@signup.test', sha256('newbie-3'))), null,
          'a used code is refused');

-- ------------------------------------------------------------ expiry
select auth.request_sign_up('late@signup.test', sha256('late'), '444444', :pw_hash, null);
update auth.pending_sign_ups set expires_at = now() - interval '1 second' where email = 'late@signup.test';
select is((select user_id from auth.verify_sign_up('late@signup.test', sha256('late'))), null, 'an expired code is refused');
select is((select count(*) from auth.users where lower(email) = 'late@signup.test'), 0::bigint, 'and creates nobody');

-- ------------------------------------------------------------ a taken address
select count(*) as alice_mails from auth.email_outbox where recipient = 'alice@acme.test' \gset
select pg_temp.act_as(null, null);
select auth.request_sign_up('ALICE@acme.test', sha256('alice'), '555555', :pw_hash, 'Takeover');
select pg_temp.act_as_superuser();
select is((select count(*) from auth.users where lower(email) = 'alice@acme.test'), 1::bigint,
          'a taken address gets no second user');
select is((select count(*) from auth.pending_sign_ups where email = 'alice@acme.test'), 0::bigint, 'and no pending sign-up');
select is((select count(*) - :alice_mails from auth.email_outbox where recipient = 'alice@acme.test'), 1::bigint,
          'its owner gets one email');
select is((select template from auth.email_outbox where recipient = 'alice@acme.test' order by created_at desc, id desc limit 1),
          'sign_up_exists', 'saying someone tried to sign up (no code)');

-- ------------------------------------------------------------ the address got an account meanwhile
-- A pending sign-up, then an account for the same address appears (made before sign-ups
-- were verified, say): a password and a session, never proven.
select auth.request_sign_up('meanwhile@signup.test', sha256('meanwhile'), '666666', :pw_hash, null);
insert into auth.users (id, email, password_hash) values ('d5000000-0000-4000-8000-000000000002', 'meanwhile@signup.test', 'squatter');
insert into auth.sessions (user_id) values ('d5000000-0000-4000-8000-000000000002') returning id as mw_sid \gset
select is((select row(user_id, created)::text from auth.verify_sign_up('meanwhile@signup.test', sha256('meanwhile'))),
          '(d5000000-0000-4000-8000-000000000002,f)',
          'a code for an address that got an account meanwhile signs into that account');
select is((select password_hash from auth.users where id = 'd5000000-0000-4000-8000-000000000002'), null,
          'which, never proven before, loses the password whoever made it set');
select is((select revoked_reason from auth.sessions where id = :'mw_sid'), 'email_proven', 'and its sessions');

-- ------------------------------------------------------------ the other proofs of a mailbox
-- mary, adam and bob never proved their addresses (fixtures): each has a password and a session.
insert into auth.email_sign_in_codes (email, code_hash, expires_at) values ('mary@acme.test', sha256('mary-code'), now() + interval '10 minutes');
select pg_temp.act_as(null, null);
select is(auth.verify_sign_in_code('mary@acme.test', sha256('mary-code'), false), :mary::uuid, 'an emailed sign-in code proves mary''s address');
select pg_temp.act_as_superuser();
select ok((select password_hash is null and email_verified_at is not null from auth.users where id = :mary)
          and not exists (select from auth.sessions where user_id = :mary and revoked_at is null)
          and exists (select from auth.sessions where user_id = :mary and revoked_reason = 'email_proven'),
          'first proof by code: the password set before is wiped, every session revoked (email_proven)');

insert into auth.password_reset_tokens (token_hash, user_id, expires_at)
values (sha256(convert_to('adam-reset-token-adam-reset-token-0123', 'UTF8')), :adam, now() + interval '30 minutes');
select pg_temp.act_as(null, null);
select is(auth.reset_password('adam-reset-token-adam-reset-token-0123', :pw_hash), :adam::uuid, 'a reset token proves adam''s address');
select pg_temp.act_as_superuser();
select ok((select password_hash = :pw_hash and email_verified_at is not null from auth.users where id = :adam)
          and exists (select from auth.sessions where user_id = :adam and revoked_reason = 'email_proven')
          and not exists (select from auth.sessions where user_id = :adam and revoked_at is null),
          'first proof by reset: sessions revoked as email_proven, then the new password set');

select pg_temp.act_as(null, null);
select is(auth.oidc_sign_in('google', 'bob-subject', 'BOB@globex.test'), :bob::uuid, 'a provider-verified email proves bob''s address');
select pg_temp.act_as_superuser();
select ok((select password_hash is null and email_verified_at is not null from auth.users where id = :bob)
          and exists (select from auth.sessions where user_id = :bob and revoked_reason = 'email_proven')
          and not exists (select from auth.sessions where user_id = :bob and revoked_at is null),
          'first proof by OIDC: password wiped, sessions revoked (email_proven)');

select * from finish();
rollback;
