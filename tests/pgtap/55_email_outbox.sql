-- The email outbox holds codes and tokens until they are sent: the API role cannot
-- touch the table, only call its functions, which queue, claim (skipping rows another
-- sender holds), and finish a row, emptying its payload.
begin;
create extension if not exists pgtap;
select plan(16);

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

create temp table claimed on commit drop as select * from auth.claim_emails(100, '1 minute') where recipient = 'ada@pgtap.test';
select is((select count(*) from claimed), 1::bigint, 'the sender claims the queued email');
select is((select attempts from claimed), 1, 'the claim counts the attempt');
select is((select count(*) from auth.claim_emails(100, '1 minute') where recipient = 'ada@pgtap.test'), 0::bigint,
          'a claimed email is not claimed again while its lease runs');
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

set local role rowguard_api;
select auth.enqueue_email('later@pgtap.test', 'sign_in_code', '{"code":"654321","expires_in_minutes":10}');
select cmp_ok(auth.purge_emails(interval '-1 day'), '>=', 1, 'purging forgets finished emails');
reset role;
select is((select count(*) from auth.email_outbox where recipient = 'later@pgtap.test'), 1::bigint,
          'but never one still to send');

select * from finish();
rollback;
