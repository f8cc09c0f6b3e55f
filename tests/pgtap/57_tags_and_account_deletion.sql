-- Issue 18 in SQL: the tag rollup follows the ledger; a tag rename is one audit entry,
-- any other tag change is audited row by row, and nobody but the kernel can switch the
-- per-record audit off or write a summary; api.export_organization answers only an
-- OWNER and only the current organization's rows, and every export leaves one audit
-- entry; auth.delete_account needs a fresh proof, refuses the last OWNER (pending OWNERs
-- do not count), marks only the caller pending deletion and ends their sessions;
-- auth.restore_account, auth.purge_deleted_accounts (idempotent) and what they touch.
begin;
create extension if not exists pgtap;
select plan(49);
\ir fixtures/tenants.sql
\ir fixtures/projects.sql
\ir fixtures/finance.sql

select id as alice_sid from auth.sessions where user_id = :alice \gset
select id as adam_sid from auth.sessions where user_id = :adam \gset
select id as bob_sid from auth.sessions where user_id = :bob \gset

create function pg_temp.act_in(p_user uuid, p_session uuid, p_org uuid) returns void
language plpgsql as $$
begin
  perform pg_temp.act_as(p_user, p_org);
  perform set_config('app.session_id', coalesce(p_session::text, ''), true);
end
$$;
create function pg_temp.tags(p_project uuid) returns text language sql as $$
  select coalesce(string_agg(tag || '=' || record_count, ',' order by tag), '')
    from app.finance_tag_totals where project_id = p_project
$$;

-- ------------------------------------------------------------ the rollup
select is(pg_temp.tags(:proj_a), 'shop=1', 'Apollo: the live record''s tag (the soft-deleted record carries none)');
select is(pg_temp.tags(:proj_b), 'secret=1', 'Borealis: its own');
select ok(not has_table_privilege('rowguard_api', 'app.finance_tag_totals', 'INSERT, UPDATE, DELETE'),
          'the API role cannot write the rollup');

-- ------------------------------------------------------------ the tag index lookup (issue 19)
-- app.finance_tagged_record_ids is SECURITY DEFINER (the API role cannot use the GIN index
-- under RLS) and the API role may call it directly: it must answer only for a project
-- where the caller has finance READ, in the current organization.
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is(cardinality(app.finance_tagged_record_ids(:proj_a, '{shop}', null, 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff')),
          1, 'alice finds Apollo''s one live "shop" record through the tag index');
select throws_ok(format('select app.finance_tagged_record_ids(%L, %L, null, %L, %L)', :proj_b, '{secret}', 'infinity',
                        'ffffffff-ffff-ffff-ffff-ffffffffffff'),
                 'RG403', null, 'another tenant''s project: refused, no ids');
select pg_temp.act_in(:alice, :'alice_sid', :org_b);
select throws_ok(format('select app.finance_tagged_record_ids(%L, %L, null, %L, %L)', :proj_b, '{secret}', 'infinity',
                        'ffffffff-ffff-ffff-ffff-ffffffffffff'),
                 'RG403', null, '... also with that tenant''s organization claimed in the request context');

-- ------------------------------------------------------------ list, rename, audit
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is((api.list_finance_tags(:proj_a) -> 'items' -> 0 ->> 'name'), 'shop', 'alice lists Apollo''s tags');
select throws_ok(format('select api.list_finance_tags(%L)', :proj_b), 'RG404', null, 'Borealis is another tenant''s: 404');
select pg_temp.act_as_superuser();
select count(*) as audit_before from app.audit_log where org_id = :org_a \gset
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is((api.rename_finance_tag(:proj_a, 'shop', 'store') ->> 'record_count')::int, 1, 'the rename changes the one record');
select pg_temp.act_as_superuser();
select is((select count(*) from app.audit_log where org_id = :org_a) - :audit_before, 1::bigint, 'one audit entry for the operation');
select is((select new_values ->> 'records' from app.audit_log where org_id = :org_a order by id desc limit 1), '1', '... naming the count');
select is(pg_temp.tags(:proj_a), 'store=1', 'the rollup follows the rename');
select is(current_setting('app.audit_tag_summary', true), '', 'the summary switch is off again');
-- A tag change outside a tag operation is audited row by row.
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
update app.financial_records set tags = '{direct}', updated_by = app.current_user_id() where id = :rec_a1;
select pg_temp.act_as_superuser();
select is((select count(*) from app.audit_log where org_id = :org_a and row_id = :rec_a1::text and action = 'UPDATE' and new_values ? 'tags'), 1::bigint,
          'a record''s own tag change leaves its row entry');

-- ------------------------------------------------------------ the summary switch is the kernel's
-- The API role sets the switch itself and rewrites tags: refused, nothing unaudited.
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select set_config('app.audit_tag_summary', 'on', true);
select throws_ok(format('update app.financial_records set tags = %L, updated_by = app.current_user_id() where id = %L', '{hidden}', :rec_a1),
                 '42501', null, 'the API role cannot switch the per-record audit off');
select set_config('app.audit_tag_summary', '', true);
-- Nor write a summary of an operation that did not happen.
select throws_ok(format('select app.audit_tag_operation(%L, %L, %L, 1000)', :proj_a, 'direct', 'forged'),
                 '42501', null, 'the API role cannot write a tag summary entry');
-- Nor run the kernel's tag operation outside its finance MANAGE.
select pg_temp.act_in(:mary, null, :org_a);
select throws_ok(format('select app.change_finance_tag(%L, %L, %L)', :proj_a, 'direct', 'other'),
                 'RG403', null, 'a MEMBER without finance MANAGE cannot run the kernel''s tag operation');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select throws_ok(format('select app.change_finance_tag(%L, %L, %L)', :proj_b, 'secret', 'mine'),
                 'RG403', null, '... nor in another tenant''s project');
-- The switch, left on by the API role, does not survive a legitimate operation either.
select set_config('app.audit_tag_summary', 'on', true);
select is(app.change_finance_tag(:proj_a, 'direct', 'renamed'), 1::bigint, 'the kernel''s operation runs');
select is(current_setting('app.audit_tag_summary', true), '', 'and switches the summary off');
select pg_temp.act_as_superuser();
select is((select new_values ->> 'records' from app.audit_log where org_id = :org_a order by id desc limit 1), '1',
          'one summary entry for it, with its real count');
select is((select tags from app.financial_records where id = :rec_a1), '{renamed}'::text[], 'the record carries the new name');

-- ------------------------------------------------------------ organization export
select pg_temp.act_in(:adam, :'adam_sid', :org_a);
select throws_ok($$select count(*) from api.export_organization()$$, 'RG403', null, 'an ADMIN does not export');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is((select count(*) from api.export_organization() e
            where e.table_name <> 'auth.users'
              and coalesce(e.row_json ->> 'org_id', e.row_json ->> 'id') <> :org_a), 0::bigint,
          'the OWNER''s export holds only rows of the current organization');
-- Every export is one audit entry, which only says what the caller may export.
select pg_temp.act_in(:adam, :'adam_sid', :org_a);
select throws_ok($$select app.audit_export('organization', null, '{}')$$, 'RG403', null, 'an ADMIN cannot write an organization export entry');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select throws_ok(format($$select app.audit_export('records', %L, '{}')$$, :proj_b), 'RG403', null,
                 '... nor an OWNER one for another tenant''s project');
select lives_ok($$select api.audit_export('organization', null, '{}', true)$$, 'the OWNER''s export is recorded');
select pg_temp.act_as_superuser();
select is((select count(*) from app.audit_log where org_id = :org_a and action = 'EXPORT' and actor_user_id = :alice
              and table_name = 'app.organizations' and row_id = :org_a::text and new_values ->> 'export' = 'organization'), 1::bigint,
          '... once, naming who and what');

-- ------------------------------------------------------------ auth.delete_account
select pg_temp.act_in(:adam, :'adam_sid', null);
select throws_ok($$select auth.delete_account()$$, 'RGR03', null, 'no fresh proof: refused');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = now() where id in (:'bob_sid', :'adam_sid', :'alice_sid');
select pg_temp.act_in(:bob, :'bob_sid', null);
select throws_like($$select auth.delete_account()$$, '%last OWNER of Globex%', 'the last OWNER of Globex: refused, naming it');
-- adam becomes a second OWNER of Acme, then deletes his account: pending deletion.
select pg_temp.act_as_superuser();
update app.memberships set role = 'OWNER' where user_id = :adam and org_id = :org_a;
select pg_temp.act_in(:adam, :'adam_sid', null);
select lives_ok($$select auth.delete_account()$$, 'adam deletes his account');
select pg_temp.act_as_superuser();
select is((select email || ',' || status || ',' || (password_hash is not null) || ',' || (deleted_at is not null) || ',' || (erased_at is null)
             from auth.users where id = :adam),
          'adam@acme.test,active,true,true,true', 'pending: nothing erased yet');
select is((select count(*) from auth.sessions where user_id = :adam and revoked_at is null), 0::bigint, 'every session of adam''s is revoked');
select is((select count(*) from app.memberships where user_id = :adam), 1::bigint, 'his membership stays, inert');
select is((select count(*) from auth.email_outbox where recipient = 'adam@acme.test' and template = 'account_deletion_scheduled'), 1::bigint,
          'he is told by email');
select throws_ok(format('select auth.begin_request(%L, %L, %L)', :adam, :'adam_sid', :org_a), 'RG401', null,
                 'his old session is refused: no request, no organization data');
select throws_ok(format($q$select api.create_session(%L, null, null, '\x00', '1 hour', '1 hour')$q$, :adam), 'RGA03', null,
                 'no new session opens for a pending account');
-- His OWNER membership no longer counts: with otto (Acme's third OWNER) pending too,
-- alice is Acme's last live OWNER.
update auth.users set deleted_at = now() where id = :otto;
select pg_temp.act_in(:alice, :'alice_sid', null);
select throws_like($$select auth.delete_account()$$, '%last OWNER of Acme%', 'alice cannot leave Acme to a pending OWNER');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select throws_ok(format('delete from app.memberships where org_id = %L and user_id = %L', :org_a, :alice), 'RG409', null,
                 '... nor leave it');

-- ------------------------------------------------------------ auth.restore_account and the purge
select pg_temp.act_as_superuser();
update auth.users set deleted_at = null where id = :otto;
select is(auth.restore_account(:adam), :adam::uuid, 'restored within 30 days');
select throws_ok(format('select auth.restore_account(%L)', :adam), 'RG409', null, 'a live account is not restored');
update auth.users set deleted_at = now() - interval '31 days' where id = :adam;
select is(auth.restore_account(:adam), null::uuid, 'not after 30 days');
select throws_ok($$select * from auth.purge_deleted_accounts(interval '29 days')$$, '22023', null, 'the purge keeps the 30 days');
select is((select count(*) from auth.purge_deleted_accounts() where user_id = :adam), 1::bigint, 'the purge erases adam');
select is((select email || ',' || status || ',' || (password_hash is null) || ',' || (erased_at is not null) from auth.users where id = :adam),
          'deleted-' || :adam || '@deleted.invalid,disabled,true,true', 'adam''s row is a tombstone');
select is((select count(*) from app.audit_log where actor_user_id = :adam and table_name = 'app.memberships' and action = 'DELETE'), 1::bigint,
          'his membership''s end is audited under his pseudonymous id');
select is((select count(*) from auth.purge_deleted_accounts() where user_id = :adam), 0::bigint, 'a second purge finds nothing for him');
select is((select count(*) from app.memberships where user_id in (:alice, :mary, :bob)), 3::bigint, 'nobody else''s membership went');
select ok(not has_function_privilege('rowguard_api', 'auth.purge_deleted_accounts(interval)', 'execute'), 'the API role cannot run the purge');

select * from finish();
rollback;
