-- CSV export of a project's records (issue 18): GET …/records with Accept: text/csv or
-- ?format=csv. The same filters and permissions as api.list_financial_records, but every
-- matching record, one row each, as text cells the HTTP layer writes out as CSV while it
-- reads them (the server holds one row at a time, whatever the ledger's size). The
-- cells' order is the header of api/finance_csv.go (RecordCSVHeader).

create function api.financial_record_cells(r app.financial_records, p_category_name text) returns text[]
language sql stable as $$
  select array[r.id::text, r.occurred_on::text, r.kind::text, r.amount::text, r.currency,
               r.category_id::text, coalesce(p_category_name, ''), array_to_string(r.tags, ' '),
               r.payment_source::text, coalesce(r.payment_reference, ''), coalesce(r.description, ''),
               coalesce(r.created_by::text, ''), coalesce(r.updated_by::text, ''),
               to_json(r.created_at) #>> '{}', to_json(r.updated_at) #>> '{}',
               coalesce(to_json(r.deleted_at) #>> '{}', ''), r.version::text]
$$;

create function api.export_financial_records(
  p_project_id uuid, p_deleted boolean,
  p_kind app.finance_kind, p_category_id uuid, p_tags_any text[], p_tags_all text[], p_currency text,
  p_payment_source app.payment_source, p_from date, p_to date, p_min_amount numeric, p_max_amount numeric, p_q text
) returns setof text[]
-- Custom plans, as the list (its comment says why).
language plpgsql stable set plan_cache_mode = force_custom_plan as $$
begin
  perform api.require_project_level(p_project_id, 'finance', case when p_deleted then 'MANAGE' else 'READ' end::app.domain_level);
  perform api.require_currency(p_currency, 'currency');
  return query
    select api.financial_record_cells(r, c.name)
      from app.financial_records r
      left join app.finance_categories c on c.org_id = r.org_id and c.id = r.category_id
     where r.org_id = app.current_org_id() and r.project_id = p_project_id
       and (r.deleted_at is not null) = p_deleted
       and api.record_matches_filters(r, p_kind, p_category_id, p_tags_any, p_tags_all, p_currency,
                                      p_payment_source, p_from, p_to, p_min_amount, p_max_amount, p_q)
     order by r.occurred_on desc, r.id desc;
end
$$;
comment on function api.export_financial_records(uuid, boolean, app.finance_kind, uuid, text[], text[], text, app.payment_source, date, date, numeric, numeric, text) is
  'GET …/projects/{project_id}/records as text/csv: finance READ (deleted=true: MANAGE); every matching record, newest occurred_on first, as the cells of one CSV row each.';
