-- Audit trail: every change to a tenant table leaves an entry naming the actor, the
-- session and the request; OWNER/ADMIN read their own organization's entries; nobody —
-- the API role, an org OWNER, the kernel, the table owner, a superuser — updates,
-- deletes or truncates them, and nobody forges one.
begin;
create extension if not exists pgtap;
select plan(34);
\ir fixtures/tenants.sql
\set session_alice '''5e5e5e5e-0000-4000-8000-000000000001'''
update auth.sessions set id = :session_alice where user_id = :alice;

-- ------------------------------------------------ entries are written
select pg_temp.act_as(:alice, :org_a);
select set_config('app.session_id', :session_alice, true);
select set_config('app.request_id', 'req-pgtap-1', true);
insert into app.projects (org_id, name, description, created_by)
values (:org_a, 'Audited', 'v1', :alice) returning id as audited \gset
select set_config('test.audited', :'audited', true); -- readable inside $$ … $$
update app.projects set description = 'v2' where id = :'audited';
update app.projects set description = 'v2' where id = :'audited'; -- no-op: no entry
delete from app.projects where id = :'audited';

select results_eq(
  $$select action, actor_user_id, actor_session_id, request_id, table_name
      from app.audit_log where row_id = current_setting('test.audited') order by id$$,
  $$values ('INSERT', 'a1000000-0000-4000-8000-000000000001'::uuid, '5e5e5e5e-0000-4000-8000-000000000001'::uuid, 'req-pgtap-1', 'app.projects'),
           ('UPDATE', 'a1000000-0000-4000-8000-000000000001'::uuid, '5e5e5e5e-0000-4000-8000-000000000001'::uuid, 'req-pgtap-1', 'app.projects'),
           ('DELETE', 'a1000000-0000-4000-8000-000000000001'::uuid, '5e5e5e5e-0000-4000-8000-000000000001'::uuid, 'req-pgtap-1', 'app.projects')$$,
  'insert, update and delete each leave one entry with actor, session, request id and table (a no-op update none)');
select is((select count(*) from app.audit_log where row_id = current_setting('test.audited') and trace_id is null),
          3::bigint, 'without app.trace_id (tracing off) the entries have no trace id');
select set_config('app.trace_id', '4bf92f3577b34da6a3ce929d0e0e4736', true);
insert into app.projects (org_id, name, description, created_by)
values (:org_a, 'Traced', 'v1', :alice) returning id as traced \gset
select is((select trace_id from app.audit_log where row_id = :'traced' and action = 'INSERT'),
          '4bf92f3577b34da6a3ce929d0e0e4736', 'the entry names the trace of app.trace_id (tracing on)');
select set_config('app.trace_id', '', true);
select is((select new_values ->> 'name' from app.audit_log where row_id = current_setting('test.audited') and action = 'INSERT'),
          'Audited', 'INSERT records the new row');
select is((select old_values from app.audit_log where row_id = current_setting('test.audited') and action = 'INSERT'),
          null, 'INSERT has no before');
select is((select array[old_values, new_values]::text[] from app.audit_log where row_id = current_setting('test.audited') and action = 'UPDATE'),
          array['{"description": "v1"}', '{"description": "v2"}'], 'UPDATE records only the changed columns (updated_at moves within one transaction: unchanged here), before and after');
select is((select old_values ->> 'description' from app.audit_log where row_id = current_setting('test.audited') and action = 'DELETE'),
          'v2', 'DELETE records the row as it was');
select is((select org_id from app.audit_log where row_id = current_setting('test.audited') limit 1),
          :org_a::uuid, 'the entry belongs to the row''s organization');
select is((select count(*) from app.audit_log where table_name = 'app.memberships' and row_id = :mary::text and action = 'INSERT'),
          1::bigint, 'a membership''s row id is its primary key without org_id (the user)');
select is((select count(*) from app.audit_log where table_name = 'app.organizations' and org_id = :org_a and action = 'INSERT'),
          1::bigint, 'creating an organization is audited in that organization');

-- ------------------------------------------------ who reads
select is((select count(*) from app.audit_log where org_id <> :org_a), 0::bigint, 'OWNER alice sees only her organization''s entries');
select cmp_ok((select count(*) from app.audit_log), '>=', 6::bigint, 'OWNER alice sees her organization''s entries');
select pg_temp.act_as(:adam, :org_a);
select cmp_ok((select count(*) from app.audit_log), '>=', 6::bigint, 'ADMIN adam sees them too');
select pg_temp.act_as(:mary, :org_a);
select is((select count(*) from app.audit_log), 0::bigint, 'MEMBER mary sees no entry');
select throws_ok($$select api.list_audit(50, null, null, null, null, null, null, null)$$, 'RG403', null,
                 'api.list_audit refuses a MEMBER with 403');
select pg_temp.act_as(:alice, :org_b);
select is((select count(*) from app.audit_log), 0::bigint, 'a forged app.org_id (org B) shows alice nothing');
select pg_temp.act_as(:bob, :org_b);
select is((select count(*) from app.audit_log where org_id = :org_a), 0::bigint, 'OWNER bob never sees org A''s entries');

-- ------------------------------------------------ nobody rewrites history
select pg_temp.act_as(:alice, :org_a);
select throws_ok($$update app.audit_log set action = 'INSERT'$$, '42501', null, 'the API role (as OWNER) cannot update entries');
select throws_ok($$delete from app.audit_log$$, '42501', null, 'the API role (as OWNER) cannot delete entries');
-- lock: none. The API role lacks the TRUNCATE privilege, which is checked before the
-- ACCESS EXCLUSIVE lock is asked for (a superuser's TRUNCATE is checked below in the catalog).
select throws_ok($$truncate app.audit_log$$, '42501', null, 'the API role cannot truncate the log');
select throws_ok($$insert into app.audit_log (org_id, table_name, action) values ('aaaaaaaa-0000-4000-8000-000000000000', 'app.projects', 'DELETE')$$,
                 '42501', null, 'the API role cannot forge an entry');
select throws_ok($$select app.audit_row_change()$$, null, null, 'the trigger function cannot be called directly');

select pg_temp.act_as_superuser();
set local role rowguard_kernel;
select throws_ok($$update app.audit_log set action = 'INSERT' where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '42501', null,
                 'the kernel role cannot update entries');
select throws_ok($$delete from app.audit_log where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, '42501', null,
                 'the kernel role cannot delete entries');
reset role;
set local role rowguard_owner;
select is_empty($$update app.audit_log set action = 'INSERT' where org_id = 'aaaaaaaa-0000-4000-8000-000000000000' returning id$$,
                'the table owner updates nothing (FORCE RLS, no policy)');
reset role;
select throws_ok($$update app.audit_log set action = 'INSERT' where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, 'RG403', null,
                 'even a superuser cannot update entries (trigger)');
select throws_ok($$delete from app.audit_log where org_id = 'aaaaaaaa-0000-4000-8000-000000000000'$$, 'RG403', null,
                 'even a superuser cannot delete entries (trigger)');
-- A superuser's TRUNCATE would first take an ACCESS EXCLUSIVE lock on the live log,
-- stalling every audited write of a deployment until the trigger refuses: the catalog
-- shows instead that the same refusal runs before any TRUNCATE.
select ok(exists (select from pg_trigger
                   where tgrelid = 'app.audit_log'::regclass and tgfoid = 'app.audit_log_refuse_change'::regproc
                     and tgtype & (2 | 32) = (2 | 32) and tgenabled in ('O', 'A')),
          'even a superuser cannot truncate the log (a BEFORE TRUNCATE trigger runs the same refusal)');

-- ------------------------------------------------ the trail outlives its organization
select pg_temp.act_as_superuser();
update app.organizations set deleted_at = now() - interval '31 days' where id = :org_b;
select count(*) from app.purge_deleted_organizations();
select cmp_ok((select count(*) from app.audit_log where org_id = :org_b and action = 'DELETE'), '>=', 3::bigint,
              'purging an organization is audited (organization, memberships, projects) and the entries stay');

-- ------------------------------------------------ secrets never reach the log
create table app.canary_secrets (org_id uuid not null, id uuid primary key, token_hash text, note text, pin text);
create trigger canary_secrets_audit after insert or update or delete on app.canary_secrets
  for each row execute function app.audit_row_change('org_id', 'pin');
insert into app.canary_secrets values (:org_a, 'aaaaaaaa-0000-4000-8000-0000000000c1', 'h4sh', 'hello', '1234');
select is((select new_values from app.audit_log where table_name = 'app.canary_secrets'),
          jsonb_build_object('org_id', :org_a::uuid, 'id', 'aaaaaaaa-0000-4000-8000-0000000000c1', 'token_hash', '[redacted]', 'note', 'hello', 'pin', '[redacted]'),
          'secret-looking columns and the columns named by the trigger are redacted');
update app.canary_secrets set token_hash = 'n3w';
select is((select array[old_values, new_values]::text[] from app.audit_log where table_name = 'app.canary_secrets' and action = 'UPDATE'),
          array['{"token_hash": "[redacted]"}', '{"token_hash": "[redacted]"}'], 'a changed secret is recorded as changed, never its value');
select is((select count(*) from app.audit_log where table_name = 'app.canary_secrets' and actor_user_id is null),
          2::bigint, 'changes outside a request have no actor');

create table app.canary_optional (org_id uuid, id uuid primary key);
create trigger canary_optional_audit after insert or update or delete on app.canary_optional
  for each row execute function app.audit_row_change();
select lives_ok($$insert into app.canary_optional values (null, 'aaaaaaaa-0000-4000-8000-0000000000c2')$$,
                'a row of no organization is written (the trigger does not break the write)');
select is((select count(*) from app.audit_log where table_name = 'app.canary_optional'), 0::bigint,
          '...and leaves no entry: no administrator could read it');

select * from finish();
rollback;
