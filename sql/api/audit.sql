-- Audit trail: GET /v1/orgs/{org_id}/audit. Policy audit_log_select limits the rows to
-- the current organization for OWNER and ADMIN; this function only turns "a MEMBER asks"
-- into 403 rather than an empty page, and applies the filters.

create function api.audit_entry_json(a app.audit_log) returns json
language sql stable as $$
  select json_build_object(
           'id', a.id, 'org_id', a.org_id, 'table', a.table_name, 'row_id', a.row_id,
           'action', a.action, 'actor_user_id', a.actor_user_id,
           'actor_session_id', a.actor_session_id, 'request_id', a.request_id,
           'trace_id', a.trace_id,
           'old', a.old_values, 'new', a.new_values, 'changed_at', a.changed_at)
$$;

create function api.list_audit(p_limit int, p_cursor uuid, p_table text, p_action text,
                               p_actor uuid, p_row_id text, p_since timestamptz, p_until timestamptz)
returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  if app.current_org_role() is distinct from 'OWNER' and app.current_org_role() is distinct from 'ADMIN' then
    raise exception 'only an OWNER or ADMIN reads the audit trail' using errcode = 'RG403';
  end if;
  select array_agg(api.audit_entry_json(a) order by a.id desc),
         array_agg(a.id order by a.id desc)
    into v_items, v_ids
    from (select *
            from app.audit_log a
           where a.org_id = app.current_org_id()
             and a.id < api.cursor_or_max(p_cursor)
             and (p_table is null or a.table_name = p_table or split_part(a.table_name, '.', 2) = p_table)
             and (p_action is null or a.action = p_action)
             and (p_actor is null or a.actor_user_id = p_actor)
             and (p_row_id is null or a.row_id = p_row_id)
             and (p_since is null or a.changed_at >= p_since)
             and (p_until is null or a.changed_at < p_until)
           order by a.id desc
           limit p_limit + 1) a;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_audit(int, uuid, text, text, uuid, text, timestamptz, timestamptz) is
  'GET /v1/orgs/{org_id}/audit: OWNER or ADMIN; newest first, keyset-paginated; every filter optional (NULL).';

-- Exports on the trail (issue 18): the HTTP layer calls this, in its own transaction,
-- before it streams an organization archive or a CSV answer (p_record true), and for a
-- HEAD of a CSV route (p_record false: the same permission answer, no export, no entry).
-- The checks are those of the export itself, for the same 404/403; the kernel checks
-- again before it writes (app.audit_export, which lists the kinds).
create function api.audit_export(p_kind text, p_project_id uuid, p_query jsonb, p_record boolean) returns json
language plpgsql volatile as $$
begin
  case
    when p_kind = 'organization' then
      if app.current_org_role() is distinct from 'OWNER' then
        raise exception 'only an OWNER exports the organization' using errcode = 'RG403';
      end if;
    when p_kind in ('records', 'records.deleted') then
      perform api.require_project_level(p_project_id, 'finance',
        case when p_kind = 'records' then 'READ' else 'MANAGE' end::app.domain_level);
      -- The one filter the HTTP layer cannot check alone (the export checks it too).
      perform api.require_currency(p_query -> 'currency' ->> 0, 'currency');
    when p_kind in ('analytics.summary', 'analytics.categories', 'analytics.trends', 'analytics.recent') then
      perform api.require_project_level(p_project_id, 'analytics', 'READ');
      if p_kind = 'analytics.summary' then
        perform api.require_currency(p_query -> 'base' ->> 0, 'base');
      end if;
      if p_kind = 'analytics.recent' then
        perform api.require_project_level(p_project_id, 'finance', 'READ');
      end if;
    else
      raise exception 'unknown export %', p_kind using errcode = '22023';
  end case;
  if p_record then
    perform app.audit_export(p_kind, p_project_id, p_query);
  end if;
  return null;
end
$$;
comment on function api.audit_export(text, uuid, jsonb, boolean) is
  'Before an export: checks the caller may make it (p_kind: organization, records, records.deleted, analytics.*); p_record: appends one EXPORT entry to the audit trail (app.audit_export).';
