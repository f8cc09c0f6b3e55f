-- Email sign-in codes: the API role cannot touch auth.email_sign_in_codes, only call
-- auth.request_sign_in_code / auth.verify_sign_in_code. Codes are stored as the API's
-- keyed hash (HMAC-SHA256 of the address and the code, migration 015), single use,
-- expire, and die after 20 wrong guesses; a new request keeps a live code; unknown
-- and disabled addresses get nothing unless sign-up by code is allowed.
begin;
create extension if not exists pgtap;
select plan(26);
\ir fixtures/tenants.sql

-- The hash as the API computes it (api/sign_in_code.go): HMAC-SHA256(key, lower(email)
-- || 0x00 || code). Here with a test key, in plain SQL (RFC 2104; no extension needed).
create function pg_temp.hmac_sha256(p_key bytea, p_msg bytea) returns bytea language sql immutable as $$
  with k as (select p_key || decode(repeat('00', 64 - length(p_key)), 'hex') as k) -- keys up to 64 bytes
  select sha256((select string_agg(set_byte('\x00'::bytea, 0, get_byte(k, i) # 92), '' order by i) from generate_series(0, 63) i)
             || sha256((select string_agg(set_byte('\x00'::bytea, 0, get_byte(k, i) # 54), '' order by i) from generate_series(0, 63) i)
                       || p_msg))
    from k
$$;
create function pg_temp.code_hash(p_email text, p_code text) returns bytea language sql immutable as $$
  select pg_temp.hmac_sha256(convert_to('pgtap sign-in code key', 'UTF8'),
                             convert_to(lower(p_email), 'UTF8') || '\x00'::bytea || convert_to(p_code, 'UTF8'))
$$;
select is(pg_temp.hmac_sha256(convert_to('Jefe', 'UTF8'), convert_to('what do ya want for nothing?', 'UTF8')),
          '\x5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'::bytea,
          'the test''s HMAC-SHA256 is right (RFC 4231, test case 2)');

select is(array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES']) p
                 where has_table_privilege('rowguard_api', 'auth.email_sign_in_codes', p)),
          '{}'::text[], 'the API role holds no privilege on auth.email_sign_in_codes');
set local role rowguard_api;
select throws_ok('select * from auth.email_sign_in_codes', '42501', null, 'reading the codes directly is refused');

select auth.request_sign_in_code('Alice@ACME.test', pg_temp.code_hash('Alice@ACME.test', '123456'), '123456', false);
reset role;
select is((select code_hash from auth.email_sign_in_codes where email = 'alice@acme.test'),
          pg_temp.code_hash('alice@acme.test', '123456'), 'the API''s keyed hash is stored, under the lower-case address');
select isnt((select code_hash from auth.email_sign_in_codes where email = 'alice@acme.test'),
          sha256('123456'::bytea), 'not the code''s SHA-256, which anyone reading the table would invert');
select is((select count(*) from auth.email_outbox where recipient = 'alice@acme.test' and template = 'sign_in_code'
                                                    and payload->>'code' = '123456'), 1::bigint,
          'the email is queued in the same transaction, to the account''s address');

set local role rowguard_api;
select throws_ok($$select auth.request_sign_in_code('alice@acme.test', sha224('123456'::bytea), '123456', false)$$,
                 '22023', null, 'a hash that is not 32 bytes is refused');
select throws_ok($$select auth.request_sign_in_code('alice@acme.test', null, '123456', false)$$,
                 '22023', null, 'so is none');
select throws_ok($$select auth.request_sign_in_code('alice@acme.test', pg_temp.code_hash('alice@acme.test', '12ab56'), '12ab56', false)$$,
                 '22023', null, 'and a code that is not digits');

select auth.request_sign_in_code('sam-nobody@pgtap.test', pg_temp.code_hash('sam-nobody@pgtap.test', '111111'), '111111', false);
select auth.request_sign_in_code('mary@acme.test', pg_temp.code_hash('mary@acme.test', '222222'), '222222', false);
reset role;
update auth.users set status = 'disabled' where id = :mary;
set local role rowguard_api;
select auth.request_sign_in_code('mary@acme.test', pg_temp.code_hash('mary@acme.test', '333333'), '333333', false);
reset role;
select is((select count(*) from auth.email_outbox where recipient = 'sam-nobody@pgtap.test'), 0::bigint,
          'an unknown address gets no code when sign-up by code is off');
select is((select payload->>'code' from auth.email_outbox where recipient = 'mary@acme.test'), '222222',
          'a disabled account gets no new code');

set local role rowguard_api;
select is(auth.verify_sign_in_code('alice@acme.test', pg_temp.code_hash('alice@acme.test', '000000'), false), null,
          'a wrong code signs nobody in');
reset role;
select is((select attempts from auth.email_sign_in_codes where email = 'alice@acme.test'), 1, 'and counts as an attempt');
set local role rowguard_api;
select is(auth.verify_sign_in_code('alice@acme.test', pg_temp.code_hash('adam@acme.test', '123456'), false), null,
          'the right code hashed for another address signs nobody in');
select is(auth.verify_sign_in_code('alice@acme.test', sha256('123456'::bytea), false), null,
          'nor does the code''s plain SHA-256');
select is(auth.verify_sign_in_code('alice@acme.test', null, false), null, 'nor no hash at all');
reset role;
select is((select attempts from auth.email_sign_in_codes where email = 'alice@acme.test'), 4, 'each of them counts');
set local role rowguard_api;
select is(auth.verify_sign_in_code('ALICE@acme.test', pg_temp.code_hash('ALICE@acme.test', '123456'), false), :alice::uuid,
          'the right code signs its account in');
select is(auth.verify_sign_in_code('alice@acme.test', pg_temp.code_hash('alice@acme.test', '123456'), false), null, 'once');
reset role;
select isnt((select email_verified_at from auth.users where id = :alice), null, 'and marks the email verified');

set local role rowguard_api;
select auth.request_sign_in_code('adam@acme.test', pg_temp.code_hash('adam@acme.test', '444444'), '444444', false);
select auth.request_sign_in_code('adam@acme.test', pg_temp.code_hash('adam@acme.test', '555555'), '555555', false);
select is(auth.verify_sign_in_code('adam@acme.test', pg_temp.code_hash('adam@acme.test', '555555'), false), null,
          'a new request keeps the live code: the second code was never stored (migration 019)');
select auth.verify_sign_in_code('adam@acme.test', pg_temp.code_hash('adam@acme.test', '000000'), false) from generate_series(1, 20);
select is(auth.verify_sign_in_code('adam@acme.test', pg_temp.code_hash('adam@acme.test', '444444'), false), null,
          'after twenty wrong guesses even the right code finds the code void');

select auth.request_sign_in_code('bob@globex.test', pg_temp.code_hash('bob@globex.test', '666666'), '666666', false);
reset role;
update auth.email_sign_in_codes set expires_at = now() - interval '1 second' where email = 'bob@globex.test';
set local role rowguard_api;
select is(auth.verify_sign_in_code('bob@globex.test', pg_temp.code_hash('bob@globex.test', '666666'), false), null,
          'an expired code signs nobody in');

select auth.request_sign_in_code('newcomer@pgtap.test', pg_temp.code_hash('newcomer@pgtap.test', '777777'), '777777', true);
select is(auth.verify_sign_in_code('newcomer@pgtap.test', pg_temp.code_hash('newcomer@pgtap.test', '777777'), false), null,
          'without sign-up allowed at verification, an unknown address gets no account');
select auth.request_sign_in_code('newcomer@pgtap.test', pg_temp.code_hash('newcomer@pgtap.test', '888888'), '888888', true);
reset role;
select is((select count(*) from auth.users where email = 'newcomer@pgtap.test'), 0::bigint, 'no account exists before the code is verified');
set local role rowguard_api;
select isnt(auth.verify_sign_in_code('newcomer@pgtap.test', pg_temp.code_hash('newcomer@pgtap.test', '888888'), true), null,
            'with sign-up allowed, the verified code creates the account');

select * from finish();
rollback;
