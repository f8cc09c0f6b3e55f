-- Audit trail: one append-only table, written by one generic trigger function attached
-- to every tenant table (tests/pgtap/00_rls_coverage.sql fails when a tenant table lacks it).
-- Who changed what: the actor (app.user_id, app.session_id), the request (app.request_id,
-- all transaction-local settings the API sets in the request's one batch), the table, the
-- row, the action and the changed columns before and after.
set local role rowguard_owner;

create table app.audit_log (
  -- No foreign key to app.organizations: the trail of a deleted organization stays.
  org_id           uuid not null,
  id               uuid not null default app.uuid_v7() primary key,
  actor_user_id    uuid,
  actor_session_id uuid,
  request_id       text,
  table_name       text not null,
  row_id           text,
  action           text not null
                   constraint audit_log_action_check check (action in ('INSERT', 'UPDATE', 'DELETE')),
  -- INSERT: new_values holds every column; DELETE: old_values does; UPDATE: both hold
  -- only the columns that changed. Secret-looking columns are redacted (see below).
  old_values       jsonb,
  new_values       jsonb,
  changed_at       timestamptz not null default now()
);
comment on table app.audit_log is
  'Append-only trail of every change to a tenant table. Written only by trigger app.audit_row_change; nobody may update or delete it (grants, policies and trigger app.audit_log_refuse_change).';
-- GET /v1/orgs/{org_id}/audit: newest first within one organization.
create index audit_log_org_id_id_idx on app.audit_log (org_id, id desc);
alter table app.audit_log enable row level security;
alter table app.audit_log force row level security;

-- Even a role that could bypass the grants and policies (a superuser, the table owner
-- with a policy added by mistake) cannot rewrite history without first dropping this.
create function app.audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
  raise exception 'the audit log is append-only (% refused)', tg_op
    using errcode = 'RG403';
end
$$;
comment on function app.audit_log_refuse_change() is 'BEFORE UPDATE/DELETE/TRUNCATE on app.audit_log: always refuses.';
create trigger audit_log_refuse_update_delete before update or delete on app.audit_log
  for each row execute function app.audit_log_refuse_change();
create trigger audit_log_refuse_truncate before truncate on app.audit_log
  for each statement execute function app.audit_log_refuse_change();

-- The generic writer. SECURITY DEFINER (rowguard_kernel) so that the API role needs no
-- INSERT grant on the audit table: nobody can write an entry except by changing a row.
grant usage, create on schema app to rowguard_kernel;
set local role rowguard_kernel;

create function app.audit_row_change() returns trigger
language plpgsql volatile security definer set search_path = '' as $$
declare
  -- Trigger argument 0: the column holding the organization (default org_id; the
  -- tenants table itself passes id). Further arguments: extra columns to redact.
  v_org_column text := coalesce(tg_argv[0], 'org_id');
  v_old  jsonb := case when tg_op <> 'INSERT' then pg_catalog.to_jsonb(old) end;
  v_new  jsonb := case when tg_op <> 'DELETE' then pg_catalog.to_jsonb(new) end;
  v_row  jsonb := coalesce(v_new, v_old);
  v_key  text;
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
  end if;
  -- A row that belongs to no organization (a nullable org column outside app) has no
  -- administrator to read its trail: nothing to record.
  if (v_row ->> v_org_column) is null then
    return null;
  end if;
  -- Never copy a secret into a log that administrators read.
  for v_key in select k from pg_catalog.jsonb_object_keys(v_row) k loop
    if v_key ~ '(password|secret|token|hash)' or v_key = any (tg_argv[1:]) then
      if v_old ? v_key then v_old := v_old || pg_catalog.jsonb_build_object(v_key, '[redacted]'); end if;
      if v_new ? v_key then v_new := v_new || pg_catalog.jsonb_build_object(v_key, '[redacted]'); end if;
    end if;
  end loop;
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

  insert into app.audit_log (org_id, actor_user_id, actor_session_id, request_id,
                             table_name, row_id, action, old_values, new_values)
  values ((v_row ->> v_org_column)::uuid,
          nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid,
          nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid,
          nullif(pg_catalog.current_setting('app.request_id', true), ''),
          tg_table_schema || '.' || tg_table_name, v_row_id, tg_op, v_old, v_new);
  return null;
end
$$;
comment on function app.audit_row_change() is
  'AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW on every tenant table: appends the change to app.audit_log. Arguments: the organization column (default org_id), then extra columns to redact.';
-- CREATE TRIGGER checks that the table owner may execute the function.
grant execute on function app.audit_row_change() to rowguard_owner;

set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;

create trigger organizations_audit after insert or update or delete on app.organizations
  for each row execute function app.audit_row_change('id');
create trigger memberships_audit after insert or update or delete on app.memberships
  for each row execute function app.audit_row_change();
create trigger projects_audit after insert or update or delete on app.projects
  for each row execute function app.audit_row_change();
create trigger services_audit after insert or update or delete on app.services
  for each row execute function app.audit_row_change();
create trigger bookings_audit after insert or update or delete on app.bookings
  for each row execute function app.audit_row_change();
create trigger subscriptions_audit after insert or update or delete on app.subscriptions
  for each row execute function app.audit_row_change();
create trigger checkout_sessions_audit after insert or update or delete on app.checkout_sessions
  for each row execute function app.audit_row_change();
create trigger project_members_audit after insert or update or delete on app.project_members
  for each row execute function app.audit_row_change();
create trigger invitations_audit after insert or update or delete on app.invitations
  for each row execute function app.audit_row_change();
create trigger invitation_projects_audit after insert or update or delete on app.invitation_projects
  for each row execute function app.audit_row_change();

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger invitation_projects_audit on app.invitation_projects;
drop trigger invitations_audit on app.invitations;
drop trigger project_members_audit on app.project_members;
drop trigger checkout_sessions_audit on app.checkout_sessions;
drop trigger subscriptions_audit on app.subscriptions;
drop trigger bookings_audit on app.bookings;
drop trigger services_audit on app.services;
drop trigger projects_audit on app.projects;
drop trigger memberships_audit on app.memberships;
drop trigger organizations_audit on app.organizations;
drop table app.audit_log;
drop function app.audit_log_refuse_change();
set local role rowguard_kernel;
drop function app.audit_row_change();
reset role;
