-- The audit trail: one row per change of an audited table, written by a trigger as the
-- kernel; the log and the platform's admin audit are append-only.
-- Part of the kernel code package (install.sql).

create or replace function platform.refuse_audit_change() returns trigger
language plpgsql as $$
begin
  raise exception 'platform.admin_audit is append-only' using errcode = 'RG403';
end
$$;
comment on function platform.refuse_audit_change() is 'BEFORE UPDATE/DELETE/TRUNCATE on admin_audit: refuses, even for the owner and superusers (short of disabling the trigger, itself a DDL trace).';

-- Even a role that could bypass the grants and policies (a superuser, the table owner
-- with a policy added by mistake) cannot rewrite history without first dropping this.
create or replace function app.audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
  raise exception 'the audit log is append-only (% refused)', tg_op
    using errcode = 'RG403';
end
$$;
comment on function app.audit_log_refuse_change() is 'BEFORE UPDATE/DELETE/TRUNCATE on app.audit_log: always refuses.';

set local role rowguard_kernel;

-- The one INSERT into the trail, for every writer below: the entry in the name of the
-- request's caller (app.user_id, app.session_id, app.request_id and, when tracing is on,
-- app.trace_id: migration 024). Kernel-internal (not granted to the API role).
-- app.audit_row_change, the per-write writer, has the same INSERT written out (a call
-- cost a statement and a SECURITY DEFINER switch per write): change both together.
create or replace function app.append_audit_entry(p_org_id uuid, p_table text, p_row_id text, p_action text,
                                                  p_old jsonb, p_new jsonb) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  insert into app.audit_log (org_id, actor_user_id, actor_session_id, request_id, trace_id,
                             table_name, row_id, action, old_values, new_values)
  values (p_org_id,
          nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid,
          nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid,
          nullif(pg_catalog.current_setting('app.request_id', true), ''),
          nullif(pg_catalog.current_setting('app.trace_id', true), ''),
          p_table, p_row_id, p_action, p_old, p_new);
end
$$;
comment on function app.append_audit_entry(uuid, text, text, text, jsonb, jsonb) is
  'Appends one entry to app.audit_log in the name of the current request''s caller: app.audit_row_change, app.audit_tag_operation and app.audit_export write through it.';

-- The generic writer. SECURITY DEFINER (rowguard_kernel) so that the API role needs no
-- INSERT grant on the audit table: nobody can write an entry except by changing a row.
create or replace function app.audit_row_change() returns trigger
language plpgsql volatile security definer set search_path = '' as $$
declare
  -- Trigger argument 0: the column holding the organization (default org_id; the
  -- tenants table itself passes id). Further arguments: extra columns to redact.
  v_org_column text := coalesce(tg_argv[0], 'org_id');
  v_old  jsonb := case when tg_op <> 'INSERT' then pg_catalog.to_jsonb(old) end;
  v_new  jsonb := case when tg_op <> 'DELETE' then pg_catalog.to_jsonb(new) end;
  v_row  jsonb := coalesce(v_new, v_old);
  v_key  text;
  v_text text;
  v_row_id text;
begin
  if tg_op = 'UPDATE' then
    -- Keep only the columns that changed; a no-op update leaves no entry.
    for v_key in select k from pg_catalog.jsonb_object_keys(v_new) k loop
      if (v_old -> v_key) is not distinct from (v_new -> v_key) then
        v_old := v_old - v_key;
        v_new := v_new - v_key;
      end if;
    end loop;
    if v_new = '{}'::jsonb then
      return null;
    end if;
    -- A tag rename or removal (api.rename_finance_tag, api.delete_finance_tag) is audited
    -- once for the operation by app.audit_tag_operation, not once per record: while it
    -- runs, a change of a record's tags (and the columns every change moves) is not
    -- written here. Any other column changed in the same row is, as always.
    if tg_table_schema = 'app' and tg_table_name = 'financial_records'
       and pg_catalog.current_setting('app.audit_tag_summary', true) = 'on'
       and (v_new - '{tags,updated_by,updated_at,version}'::text[]) = '{}'::jsonb then
      return null;
    end if;
  end if;
  -- A row that belongs to no organization (a nullable org column outside app) has no
  -- administrator to read its trail: nothing to record.
  if (v_row ->> v_org_column) is null then
    return null;
  end if;
  -- Never copy a secret into a log that administrators read. A cheap test first asks
  -- whether the row can have such a column at all (most tables have none): the loop over
  -- the keys is a query. Every key is in the row's text, so a key holding one of the four
  -- words makes the text hold it (a value holding one only costs the loop, which then
  -- checks the keys exactly). Four substring searches: a jsonb_path_exists with
  -- like_regex over keyvalue() did the same at ~30 µs a write, the text ~3 µs.
  v_text := v_row::text;
  if pg_catalog.strpos(v_text, 'password') > 0 or pg_catalog.strpos(v_text, 'secret') > 0
     or pg_catalog.strpos(v_text, 'token') > 0 or pg_catalog.strpos(v_text, 'hash') > 0
     or v_row ?| tg_argv[1:] then
    for v_key in select k from pg_catalog.jsonb_object_keys(v_row) k loop
      if v_key ~ '(password|secret|token|hash)' or v_key = any (tg_argv[1:]) then
        if v_old ? v_key then v_old := v_old || pg_catalog.jsonb_build_object(v_key, '[redacted]'); end if;
        if v_new ? v_key then v_new := v_new || pg_catalog.jsonb_build_object(v_key, '[redacted]'); end if;
      end if;
    end loop;
  end if;
  -- The row: its id column, else its primary key columns but org_id, comma-joined.
  v_row_id := v_row ->> 'id';
  if v_row_id is null then
    select pg_catalog.string_agg(v_row ->> a.attname::text, ',' order by k.ord)
      into v_row_id
      from pg_catalog.pg_index i
      cross join lateral pg_catalog.unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
      join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
     where i.indrelid = tg_relid and i.indisprimary and a.attname <> 'org_id';
  end if;

  -- app.append_audit_entry's INSERT, written out here: a PERFORM of it was one more
  -- statement and one more SECURITY DEFINER switch on every write (tests/load -writes).
  -- Same table, same columns, same role (rowguard_kernel), same policy.
  insert into app.audit_log (org_id, actor_user_id, actor_session_id, request_id, trace_id,
                             table_name, row_id, action, old_values, new_values)
  values ((v_row ->> v_org_column)::uuid,
          nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid,
          nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid,
          nullif(pg_catalog.current_setting('app.request_id', true), ''),
          nullif(pg_catalog.current_setting('app.trace_id', true), ''),
          tg_table_schema || '.' || tg_table_name, v_row_id, tg_op, v_old, v_new);
  return null;
end
$$;
comment on function app.audit_row_change() is
  'AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on every tenant table: appends the change to app.audit_log. Arguments: the organization column (default org_id), then extra columns to redact.';
-- CREATE TRIGGER checks that the table owner may execute the function.
grant execute on function app.audit_row_change() to rowguard_owner;

-- An export (issue 18): one entry per organization archive or CSV answer, written (through
-- api.audit_export) in its own transaction before the first row goes out, so an export
-- the client breaks off is on the trail too. Action EXPORT, the caller as actor (like
-- every entry: policy audit_log_insert_kernel), table and row naming what was exported
-- (app.organizations and the organization, or app.projects and the project), new_values
-- what was asked ({export, format, query}). The kernel checks the caller may make that
-- export (the API function checked it first, for its 404/403), so an entry, whoever
-- writes it, only ever says that the caller exported what they may export:
--   organization                 OWNER
--   records / records.deleted    finance READ / MANAGE in the project
--   analytics.<summary|categories|trends>   analytics READ
--   analytics.recent             analytics READ and finance READ
create or replace function app.audit_export(p_kind text, p_project_id uuid, p_query jsonb) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_allowed boolean;
begin
  v_allowed := case
    when p_kind = 'organization' then app.current_org_role() = 'OWNER' and p_project_id is null
    when p_kind = 'records' then p_project_id = any (app.my_domain_project_ids('finance', 'READ'))
    when p_kind = 'records.deleted' then p_project_id = any (app.my_domain_project_ids('finance', 'MANAGE'))
    when p_kind in ('analytics.summary', 'analytics.categories', 'analytics.trends') then
      p_project_id = any (app.my_domain_project_ids('analytics', 'READ'))
    when p_kind = 'analytics.recent' then
      p_project_id = any (app.my_domain_project_ids('analytics', 'READ'))
      and p_project_id = any (app.my_domain_project_ids('finance', 'READ'))
  end;
  if v_allowed is null then
    raise exception 'unknown export %', p_kind using errcode = '22023';
  end if;
  if not v_allowed then
    raise exception 'your role does not allow this export' using errcode = 'RG403';
  end if;
  perform app.append_audit_entry(app.current_org_id(),
          case when p_kind = 'organization' then 'app.organizations' else 'app.projects' end,
          coalesce(p_project_id, app.current_org_id())::text, 'EXPORT', null,
          pg_catalog.jsonb_build_object('export', p_kind,
            'format', case when p_kind = 'organization' then 'rowguard-org-export/1' else 'csv' end,
            'query', coalesce(p_query, '{}'::jsonb)));
end
$$;
comment on function app.audit_export(text, uuid, jsonb) is
  'api.audit_export: appends an EXPORT entry for the current organization in the caller''s name, once it checked the caller may make that export (p_kind: organization, records, records.deleted, analytics.*; p_project_id; p_query: how it was asked).';

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger audit_log_refuse_truncate before truncate on app.audit_log
  for each statement execute function app.audit_log_refuse_change();
create or replace trigger audit_log_refuse_update_delete before update or delete on app.audit_log
  for each row execute function app.audit_log_refuse_change();
create or replace trigger bookings_audit after insert or update or delete on app.bookings
  for each row execute function app.audit_row_change();
create or replace trigger checkout_sessions_audit after insert or update or delete on app.checkout_sessions
  for each row execute function app.audit_row_change();
create or replace trigger exchange_rates_audit after insert or update or delete on app.exchange_rates
  for each row execute function app.audit_row_change();
-- The audit trail (012): every change to the ledger, its categories and the rates. The
-- rollups are derived from audited rows and the idempotency keys replay an audited write:
-- neither is audited (tests/pgtap/00_rls_coverage.sql names them as the exceptions).
create or replace trigger finance_categories_audit after insert or update or delete on app.finance_categories
  for each row execute function app.audit_row_change();
create or replace trigger financial_records_audit after insert or update or delete on app.financial_records
  for each row execute function app.audit_row_change();
create or replace trigger invitation_projects_audit after insert or update or delete on app.invitation_projects
  for each row execute function app.audit_row_change();
create or replace trigger invitations_audit after insert or update or delete on app.invitations
  for each row execute function app.audit_row_change();
create or replace trigger memberships_audit after insert or update or delete on app.memberships
  for each row execute function app.audit_row_change();
create or replace trigger organizations_audit after insert or update or delete on app.organizations
  for each row execute function app.audit_row_change('id');
create or replace trigger project_members_audit after insert or update or delete on app.project_members
  for each row execute function app.audit_row_change();
create or replace trigger projects_audit after insert or update or delete on app.projects
  for each row execute function app.audit_row_change();
create or replace trigger services_audit after insert or update or delete on app.services
  for each row execute function app.audit_row_change();
create or replace trigger subscriptions_audit after insert or update or delete on app.subscriptions
  for each row execute function app.audit_row_change();
create or replace trigger admin_audit_append_only before update or delete on platform.admin_audit
  for each row execute function platform.refuse_audit_change();
create or replace trigger admin_audit_no_truncate before truncate on platform.admin_audit
  for each statement execute function platform.refuse_audit_change();
