-- Issue 18 in SQL: the tag rollup follows the ledger; a tag rename is one audit entry,
-- any other tag change is audited row by row; api.export_organization answers only an
-- OWNER and only the current organization's rows; auth.delete_account needs a fresh
-- proof, refuses the last OWNER, and erases only the caller.
begin;
create extension if not exists pgtap;
select plan(18);
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

-- ------------------------------------------------------------ organization export
select pg_temp.act_in(:adam, :'adam_sid', :org_a);
select throws_ok($$select count(*) from api.export_organization()$$, 'RG403', null, 'an ADMIN does not export');
select pg_temp.act_in(:alice, :'alice_sid', :org_a);
select is((select count(*) from api.export_organization() e
            where e.table_name <> 'auth.users'
              and coalesce(e.row_json ->> 'org_id', e.row_json ->> 'id') <> :org_a), 0::bigint,
          'the OWNER''s export holds only rows of the current organization');

-- ------------------------------------------------------------ auth.delete_account
select pg_temp.act_in(:adam, :'adam_sid', null);
select throws_ok($$select auth.delete_account()$$, 'RGR03', null, 'no fresh proof: refused');
select pg_temp.act_as_superuser();
update auth.sessions set reauthenticated_at = now() where id in (:'bob_sid', :'adam_sid');
select pg_temp.act_in(:bob, :'bob_sid', null);
select throws_like($$select auth.delete_account()$$, '%last OWNER of Globex%', 'the last OWNER of Globex: refused, naming it');
select pg_temp.act_in(:adam, :'adam_sid', null);
select lives_ok($$select auth.delete_account()$$, 'adam deletes his account');
select pg_temp.act_as_superuser();
select is((select email || ',' || status || ',' || (password_hash is null) from auth.users where id = :adam),
          'deleted-' || :adam || '@deleted.invalid,disabled,true', 'adam''s row is a tombstone');
select is((select count(*) from app.memberships where user_id in (:alice, :mary, :bob)), 3::bigint, 'nobody else''s membership went');

select * from finish();
rollback;
