-- The OpenTelemetry trace of the request that made a change (issue 16): with tracing on
-- (OTEL_EXPORTER_OTLP_ENDPOINT), the API sets app.trace_id transaction-locally in the
-- request's one batch, beside app.request_id (api.BeginRequestTracedSQL), and
-- app.audit_row_change copies it into the new column, as it copies app.request_id. With
-- tracing off nothing sets it and the column stays NULL, as in every row written before.
--
-- app.audit_row_change is redefined here because sql/kernel/ (the code package that will
-- hold every kernel function once) does not exist yet on this branch's base: when it
-- lands, its definition of the function takes this column too.
set local role rowguard_owner;
alter table app.audit_log add column trace_id text;
comment on column app.audit_log.trace_id is
  'OpenTelemetry trace id (32 hex digits) of the request that made the change, from app.trace_id; NULL when tracing was off.';

grant create on schema app to rowguard_kernel;
set local role rowguard_kernel;
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

set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_owner;
grant create on schema app to rowguard_kernel;
set local role rowguard_kernel;
-- As migration 012 defined it: no trace id.
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

set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
alter table app.audit_log drop column trace_id;
reset role;
