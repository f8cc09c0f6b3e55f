-- Tags of a project's ledger as entities (issue 18). Records keep their tags as text[];
-- the list reads the rollup app.finance_tag_totals (kept by the kernel in the same
-- transaction as the records), so it costs as many rows as the project has distinct tags,
-- not as many as it has records. Rename and removal are one UPDATE each, under the
-- records' policies (finance MANAGE: financial_records_update_kernel), run by the kernel
-- and audited once per operation (app.change_finance_tag). Plan limits count created
-- records: unaffected.

create function api.list_finance_tags(p_project_id uuid) returns json
language plpgsql stable as $$
begin
  perform api.require_project_level(p_project_id, 'finance', 'READ');
  return json_build_object('items', coalesce(
    (select json_agg(json_build_object('name', t.tag, 'record_count', t.record_count,
                                       'last_used_at', t.last_used_at) order by t.tag)
       from app.finance_tag_totals t
      where t.org_id = app.current_org_id() and t.project_id = p_project_id), '[]'::json));
end
$$;
comment on function api.list_finance_tags(uuid) is
  'GET …/projects/{project_id}/tags: finance READ; every tag a live record of the project carries, by name, with its record count and last use.';

-- p_to null: remove p_from. Every record of the project carrying p_from, soft-deleted
-- ones too (a restore must not bring the old name back); when a record already carries
-- p_to, p_from merges into it.
create function api.change_finance_tag(p_project_id uuid, p_from text, p_to text) returns bigint
language plpgsql volatile as $$
declare
  v_records bigint;
begin
  perform api.require_project_level(p_project_id, 'finance', 'MANAGE');
  -- The UPDATE and its one audit entry: the kernel's (sql/kernel/finance_tags.sql says why).
  v_records := app.change_finance_tag(p_project_id, p_from, p_to);
  if v_records = 0 then
    raise exception 'no record of this project carries this tag' using errcode = 'RG404';
  end if;
  return v_records;
end
$$;

create function api.rename_finance_tag(p_project_id uuid, p_from text, p_to text) returns json
language plpgsql volatile as $$
begin
  if p_from = p_to then
    raise exception 'must differ from "from"' using errcode = 'RG422', column = 'to';
  end if;
  return json_build_object('from', p_from, 'to', p_to,
                           'record_count', api.change_finance_tag(p_project_id, p_from, p_to));
end
$$;
comment on function api.rename_finance_tag(uuid, text, text) is
  'POST …/projects/{project_id}/tags/rename: finance MANAGE; renames p_from to p_to in every record of the project (merging where p_to is already there); RG404 when no record carries p_from.';

create function api.delete_finance_tag(p_project_id uuid, p_name text) returns json
language plpgsql volatile as $$
begin
  return json_build_object('name', p_name, 'record_count', api.change_finance_tag(p_project_id, p_name, null));
end
$$;
comment on function api.delete_finance_tag(uuid, text) is
  'DELETE …/projects/{project_id}/tags/{name}: finance MANAGE; removes the tag from every record of the project; RG404 when none carries it.';
