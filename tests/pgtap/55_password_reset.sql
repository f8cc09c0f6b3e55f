-- Password reset: the API role cannot touch auth.password_reset_tokens, only call
-- auth.request_password_reset / auth.reset_password. Tokens are hashed, single use and
-- expire; a reset revokes every session of that user and of nobody else.
begin;
create extension if not exists pgtap;
select plan(11);
\ir fixtures/tenants.sql

\set tok '''pgtap-reset-token-0123456789abcdefghijklmnopq'''
select is(array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES']) p
                 where has_table_privilege('rowguard_api', 'auth.password_reset_tokens', p)),
          '{}'::text[], 'the API role holds no privilege on auth.password_reset_tokens');
set local role rowguard_api;
select throws_ok('select * from auth.password_reset_tokens', '42501', null, 'reading the tokens directly is refused');

select auth.request_password_reset('ALICE@acme.test', :tok, 'https://app.test/reset#token=' || :tok);
select auth.request_password_reset('nobody@pgtap.test', :tok || 'x', null);
reset role;
select is((select token_hash from auth.password_reset_tokens where user_id = :alice), sha256(convert_to(:tok, 'UTF8')),
          'the token is stored as its SHA-256');
select is((select payload->>'token' from auth.email_outbox where recipient = 'alice@acme.test' and template = 'password_reset'), :tok,
          'the email is queued in the same transaction');
select is((select count(*) from auth.email_outbox where recipient = 'nobody@pgtap.test'), 0::bigint, 'an unknown address gets nothing');

insert into auth.sessions (user_id) values (:alice);
set local role rowguard_api;
select is(auth.reset_password('not-the-token-0123456789abcdefghijklmnopqrs', 'new-hash'), null, 'a wrong token resets nothing');
select is(auth.reset_password(:tok, 'new-hash'), :alice::uuid, 'the token resets its user''s password');
select is(auth.reset_password(:tok, 'newer-hash'), null, 'once');
reset role;
select is((select password_hash from auth.users where id = :alice), 'new-hash', 'the new hash is stored');
select is((select count(*) from auth.sessions where user_id = :alice and revoked_at is null), 0::bigint,
          'every session of the user is revoked');
select is((select count(*) from auth.sessions where user_id in (:adam, :mary, :bob, :sam) and revoked_at is not null), 0::bigint,
          'no other user''s session is');

select * from finish();
rollback;
