-- The email outbox holds codes and tokens until they are sent: the API role cannot
-- touch the table, only call its functions, which queue, claim (skipping rows another
-- sender holds), and finish a row, emptying its payload.
begin;
create extension if not exists pgtap;
select plan(19);

select is(array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES']) p
                 where has_table_privilege('rowguard_api', 'auth.email_outbox', p)),
          '{}'::text[], 'the API role holds no privilege on auth.email_outbox');
select is(array(select a.attname::text from pg_attribute a
                 where a.attrelid = 'auth.email_outbox'::regclass and a.attnum > 0 and not a.attisdropped
                   and has_column_privilege('rowguard_api', 'auth.email_outbox', a.attname, 'SELECT, INSERT, UPDATE')),
          '{}'::text[], 'nor on any of its columns');

set local role rowguard_api;
select throws_ok('select * from auth.email_outbox', '42501', null, 'reading the outbox directly is refused');
select throws_ok($$insert into auth.email_outbox (recipient, template) values ('x@y.test', 'sign_in_code')$$, '42501', null,
                 'writing it directly is refused');
select lives_ok($$select auth.enqueue_email('ada@pgtap.test', 'sign_in_code', '{"code":"123456","expires_in_minutes":10}')$$,
                'the API role queues an email through auth.enqueue_email');
select throws_ok($$select auth.enqueue_email('not an address', 'sign_in_code', '{}')$$, '23514', null, 'a bad recipient is refused');
select throws_ok($$select auth.enqueue_email('ada@pgtap.test', 'Bad Name', '{}')$$, '23514', null, 'a bad template name is refused');
select throws_ok($$select auth.enqueue_email('ada@pgtap.test', 'sign_in_code', '[1]')$$, '23514', null, 'a payload that is not an object is refused');

-- The outbox of a live deployment may hold other due emails: the fixture emails are made
-- the earliest due ones (ada at -infinity, bea at the epoch), so the claims below reach
-- them first and claim nothing else (p_limit).
reset role;
select auth.enqueue_email('bea@pgtap.test', 'sign_in_code', '{"code":"234567","expires_in_minutes":10}');
update auth.email_outbox set next_attempt_at = '-infinity' where recipient = 'ada@pgtap.test';
update auth.email_outbox set next_attempt_at = 'epoch' where recipient = 'bea@pgtap.test';
set local role rowguard_api;
create temp table claimed on commit drop as select * from auth.claim_emails(1, '1 minute');
select is(array(select recipient from claimed), '{ada@pgtap.test}', 'the sender claims the earliest due email');
select is((select attempts from claimed), 1, 'the claim counts the attempt');
select is(array(select recipient from auth.claim_emails(1, '1 minute')), '{bea@pgtap.test}',
          'a claimed email is not claimed again while its lease runs: the next due one is');

-- p_limit bounds a claim (migration 021: migration 007's claimed every due email).
reset role;
select auth.enqueue_email('limit' || g || '@pgtap.test', 'sign_in_code', '{}') from generate_series(1, 3) g;
update auth.email_outbox set next_attempt_at = '-infinity' where recipient like 'limit_@pgtap.test';
set local role rowguard_api;
select is((select count(*) from auth.claim_emails(2, '1 minute')), 2::bigint, 'of three due emails, claim_emails(2, …) claims two');
reset role;
select is((select count(*) from auth.email_outbox where recipient like 'limit_@pgtap.test' and attempts = 0), 1::bigint,
          '... and the third waits, unclaimed, for the next claim');

set local role rowguard_api;
select auth.email_sent((select id from claimed));
reset role;
select is((select payload from auth.email_outbox where id = (select id from claimed)), '{}'::jsonb,
          'a sent email keeps no payload (no code outlives delivery)');
select isnt((select sent_at from auth.email_outbox where id = (select id from claimed)), null, 'and is marked sent');

set local role rowguard_api;
select auth.email_failed((select id from claimed), 'late failure', null);
reset role;
select is((select gave_up_at from auth.email_outbox where id = (select id from claimed)), null,
          'a sent email never changes again');

-- Purging: ada's email was sent in 1900 and later's queued then, so a purge of what
-- finished over a century ago reaches no one else's email.
select auth.enqueue_email('later@pgtap.test', 'sign_in_code', '{"code":"654321","expires_in_minutes":10}');
update auth.email_outbox set sent_at = '1900-01-01' where id = (select id from claimed);
update auth.email_outbox set created_at = '1900-01-01', next_attempt_at = '1900-01-01' where recipient = 'later@pgtap.test';
set local role rowguard_api;
select is(auth.purge_emails(interval '100 years'), 1, 'purging forgets a finished email');
reset role;
select is((select count(*) from auth.email_outbox where id = (select id from claimed)), 0::bigint, '... ada''s');
select is((select count(*) from auth.email_outbox where recipient = 'later@pgtap.test'), 1::bigint,
          'but never one still to send');

select * from finish();
rollback;
