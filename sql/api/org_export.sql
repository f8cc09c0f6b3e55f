-- POST /v1/orgs/{org_id}/export (issue 18, GDPR article 20): every row the current
-- organization owns, for its OWNER, read as any request reads: SECURITY INVOKER, under
-- the API role's grants and policies (no superuser, no kernel shortcut). What the
-- policies hide from an OWNER (another member's idempotency keys, secrets such as
-- password hashes and token hashes) is not exported; columns named like a secret
-- (password, secret, token, hash: the audit trail's rule) are left out of every row.
-- (The catalog names below come from pg_catalog only; format %I / %L quote them.)
--
-- The tables are found in the catalog, not listed here: every table of schema app with
-- an org_id column (the organization itself by id), in name order, with the columns the
-- API role may read (column grants) but those named like a secret; then the members' accounts (id, email, status, created_at: the columns
-- the API role reads of auth.users). A table added later is exported without a change
-- here. Rows come one by one, (table, row as JSON), table after table; the HTTP layer
-- writes them into a zip of JSON Lines files as they arrive (api/org_export.go).
create function api.export_organization() returns table (table_name text, row_json json)
language plpgsql stable as $$
declare
  v_org   uuid := app.current_org_id();
  v_table record;
begin
  if app.current_org_role() is distinct from 'OWNER' then
    raise exception 'only an OWNER exports the organization' using errcode = 'RG403';
  end if;
  for v_table in
    select c.oid::regclass::text as name,
           case when c.oid = 'app.organizations'::regclass then 'id' else 'org_id' end as org_column,
           exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'id' and not a.attisdropped) as has_id,
           (select string_agg(format('t.%I', a.attname), ', ' order by a.attnum)
              from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               and has_column_privilege(c.oid, a.attnum, 'SELECT')
               and a.attname !~ '(password|secret|token|hash)') as columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'app' and c.relkind in ('r', 'p')
       and (c.oid = 'app.organizations'::regclass
            or exists (select from pg_attribute a
                        where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped))
       and has_column_privilege(c.oid, case when c.oid = 'app.organizations'::regclass then 'id' else 'org_id' end, 'SELECT')
     order by 1
  loop
    continue when v_table.columns is null;
    return query execute format(
      'select %L::text, to_json(x) from (select %s from %s t where t.%I = $1 %s) x',
      v_table.name, v_table.columns, v_table.name, v_table.org_column,
      case when v_table.has_id then 'order by t.id' else '' end)
      using v_org;
  end loop;
  return query
    select 'auth.users'::text, json_build_object('id', u.id, 'email', u.email, 'status', u.status, 'created_at', u.created_at)
      from app.memberships m join auth.users u on u.id = m.user_id
     where m.org_id = v_org
     order by u.id;
end
$$;
comment on function api.export_organization() is
  'POST /v1/orgs/{org_id}/export: OWNER; every row of the current organization in every app table the API role reads (as its policies let an OWNER see them), then the members'' accounts; (table, row) pairs, table after table.';
