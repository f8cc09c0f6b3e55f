-- Email sign-in codes: the API role cannot touch auth.email_sign_in_codes, only call
-- auth.request_sign_in_code / auth.verify_sign_in_code. Codes are hashed, single use,
-- expire, and die after 5 wrong guesses; a new request voids the old code; unknown
-- and disabled addresses get nothing unless sign-up by code is allowed.
begin;
create extension if not exists pgtap;
select plan(17);
\ir fixtures/tenants.sql

select is(array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES']) p
                 where has_table_privilege('rowguard_api', 'auth.email_sign_in_codes', p)),
          '{}'::text[], 'the API role holds no privilege on auth.email_sign_in_codes');
set local role rowguard_api;
select throws_ok('select * from auth.email_sign_in_codes', '42501', null, 'reading the codes directly is refused');

select auth.request_sign_in_code('Alice@ACME.test', '123456', false);
reset role;
select is((select code_hash from auth.email_sign_in_codes where email = 'alice@acme.test'),
          sha256('123456'::bytea), 'the code is stored as its SHA-256, under the lower-case address');
select is((select count(*) from auth.email_outbox where recipient = 'alice@acme.test' and template = 'sign_in_code'
                                                    and payload->>'code' = '123456'), 1::bigint,
          'the email is queued in the same transaction, to the account''s address');

set local role rowguard_api;
select auth.request_sign_in_code('sam-nobody@pgtap.test', '111111', false);
select auth.request_sign_in_code('mary@acme.test', '222222', false);
reset role;
update auth.users set status = 'disabled' where id = :mary;
set local role rowguard_api;
select auth.request_sign_in_code('mary@acme.test', '333333', false);
reset role;
select is((select count(*) from auth.email_outbox where recipient = 'sam-nobody@pgtap.test'), 0::bigint,
          'an unknown address gets no code when sign-up by code is off');
select is((select payload->>'code' from auth.email_outbox where recipient = 'mary@acme.test'), '222222',
          'a disabled account gets no new code');

set local role rowguard_api;
select is(auth.verify_sign_in_code('alice@acme.test', '000000', false), null, 'a wrong code signs nobody in');
reset role;
select is((select attempts from auth.email_sign_in_codes where email = 'alice@acme.test'), 1, 'and counts as an attempt');
set local role rowguard_api;
select is(auth.verify_sign_in_code('ALICE@acme.test', '123456', false), :alice::uuid, 'the right code signs its account in');
select is(auth.verify_sign_in_code('alice@acme.test', '123456', false), null, 'once');
reset role;
select isnt((select email_verified_at from auth.users where id = :alice), null, 'and marks the email verified');

set local role rowguard_api;
select auth.request_sign_in_code('adam@acme.test', '444444', false);
select auth.request_sign_in_code('adam@acme.test', '555555', false);
select is(auth.verify_sign_in_code('adam@acme.test', '444444', false), null, 'a new request voids the old code');
select auth.verify_sign_in_code('adam@acme.test', '000000', false) from generate_series(1, 5);
select is(auth.verify_sign_in_code('adam@acme.test', '555555', false), null, 'after five wrong guesses even the right code finds the code void');

select auth.request_sign_in_code('bob@globex.test', '666666', false);
reset role;
update auth.email_sign_in_codes set expires_at = now() - interval '1 second' where email = 'bob@globex.test';
set local role rowguard_api;
select is(auth.verify_sign_in_code('bob@globex.test', '666666', false), null, 'an expired code signs nobody in');

select auth.request_sign_in_code('newcomer@pgtap.test', '777777', true);
select is(auth.verify_sign_in_code('newcomer@pgtap.test', '777777', false), null,
          'without sign-up allowed at verification, an unknown address gets no account');
select auth.request_sign_in_code('newcomer@pgtap.test', '888888', true);
reset role;
select is((select count(*) from auth.users where email = 'newcomer@pgtap.test'), 0::bigint, 'no account exists before the code is verified');
set local role rowguard_api;
select isnt(auth.verify_sign_in_code('newcomer@pgtap.test', '888888', true), null, 'with sign-up allowed, the verified code creates the account');

select * from finish();
rollback;
