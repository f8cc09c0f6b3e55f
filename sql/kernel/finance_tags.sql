-- Finance tags as entities of a project (issue 18): the per-tag rollup the tag list reads,
-- and the one audit entry a tag rename or removal leaves (not one per record).
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

create or replace function app.maintain_finance_tag_totals() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_orgs     uuid[];
  v_projects uuid[];
  v_tags     text[];
begin
  -- One statement per kind of trigger (a trigger on INSERT has no old_rows, one on DELETE
  -- no new_rows): static, so PL/pgSQL keeps its plan; one dynamic statement for the three
  -- was planned again at every write (tests/load -writes). The three copies differ only
  -- in where the deltas come from: change them together.
  -- An UPDATE that leaves a record's tags alone nets to 0 per tag and writes nothing.
  -- Sorted, so concurrent statements lock rollup rows in one order (no deadlock). Rows of
  -- a project being deleted are skipped (the exists): its rollup goes with it; an INSERT
  -- can only add rows to a project that exists (their foreign key), so it skips the test.
  -- A tag whose count grew was just put on a record: its last_used_at moves to now.
  if tg_op = 'INSERT' then
    with deltas as (
      select d.org_id, d.project_id, d.tag, sum(d.n) as n
        from (select n.org_id, n.project_id, t.tag, 1 as n
                from new_rows n cross join lateral pg_catalog.unnest(n.tags) as t(tag)
               where n.deleted_at is null) d
       group by d.org_id, d.project_id, d.tag
      having sum(d.n) <> 0),
    upserted as (
      insert into app.finance_tag_totals as t (org_id, project_id, tag, record_count, last_used_at)
      select d.org_id, d.project_id, d.tag, d.n, pg_catalog.now()
        from deltas d
       order by d.org_id, d.project_id, d.tag
      on conflict (org_id, project_id, tag) do update
         set record_count = t.record_count + excluded.record_count,
             last_used_at = case when excluded.record_count > 0 then excluded.last_used_at else t.last_used_at end
      returning t.org_id, t.project_id, t.tag, t.record_count)
    select pg_catalog.array_agg(u.org_id), pg_catalog.array_agg(u.project_id), pg_catalog.array_agg(u.tag)
      into v_orgs, v_projects, v_tags
      from upserted u where u.record_count <= 0;
  elsif tg_op = 'DELETE' then
    with deltas as (
      select d.org_id, d.project_id, d.tag, sum(d.n) as n
        from (select o.org_id, o.project_id, t.tag, -1 as n
                from old_rows o cross join lateral pg_catalog.unnest(o.tags) as t(tag)
               where o.deleted_at is null) d
       where exists (select from app.projects p where p.org_id = d.org_id and p.id = d.project_id)
       group by d.org_id, d.project_id, d.tag
      having sum(d.n) <> 0),
    upserted as (
      insert into app.finance_tag_totals as t (org_id, project_id, tag, record_count, last_used_at)
      select d.org_id, d.project_id, d.tag, d.n, pg_catalog.now()
        from deltas d
       order by d.org_id, d.project_id, d.tag
      on conflict (org_id, project_id, tag) do update
         set record_count = t.record_count + excluded.record_count,
             last_used_at = case when excluded.record_count > 0 then excluded.last_used_at else t.last_used_at end
      returning t.org_id, t.project_id, t.tag, t.record_count)
    select pg_catalog.array_agg(u.org_id), pg_catalog.array_agg(u.project_id), pg_catalog.array_agg(u.tag)
      into v_orgs, v_projects, v_tags
      from upserted u where u.record_count <= 0;
  else
    with deltas as (
      select d.org_id, d.project_id, d.tag, sum(d.n) as n
        from (select o.org_id, o.project_id, t.tag, -1 as n
                from old_rows o cross join lateral pg_catalog.unnest(o.tags) as t(tag)
               where o.deleted_at is null
               union all
              select n.org_id, n.project_id, t.tag, 1 as n
                from new_rows n cross join lateral pg_catalog.unnest(n.tags) as t(tag)
               where n.deleted_at is null) d
       where exists (select from app.projects p where p.org_id = d.org_id and p.id = d.project_id)
       group by d.org_id, d.project_id, d.tag
      having sum(d.n) <> 0),
    upserted as (
      insert into app.finance_tag_totals as t (org_id, project_id, tag, record_count, last_used_at)
      select d.org_id, d.project_id, d.tag, d.n, pg_catalog.now()
        from deltas d
       order by d.org_id, d.project_id, d.tag
      on conflict (org_id, project_id, tag) do update
         set record_count = t.record_count + excluded.record_count,
             last_used_at = case when excluded.record_count > 0 then excluded.last_used_at else t.last_used_at end
      returning t.org_id, t.project_id, t.tag, t.record_count)
    select pg_catalog.array_agg(u.org_id), pg_catalog.array_agg(u.project_id), pg_catalog.array_agg(u.tag)
      into v_orgs, v_projects, v_tags
      from upserted u where u.record_count <= 0;
  end if;

  -- A tag no live record carries any more leaves the list.
  if v_tags is not null then
    delete from app.finance_tag_totals t
     using rows from (pg_catalog.unnest(v_orgs), pg_catalog.unnest(v_projects), pg_catalog.unnest(v_tags)) as g(org_id, project_id, tag)
     where t.org_id = g.org_id and t.project_id = g.project_id and t.tag = g.tag
       and t.record_count <= 0;
  end if;
  return null;
end
$$;
comment on function app.maintain_finance_tag_totals() is
  'AFTER INSERT / UPDATE / DELETE (per statement) on financial_records: applies the change of the live rows'' tags to app.finance_tag_totals in the same transaction.';
grant execute on function app.maintain_finance_tag_totals() to rowguard_owner;

-- The one audit entry of a tag operation: table app.financial_records, action UPDATE,
-- row_id null, old {project_id, tags: [from]}, new {project_id, tags: [to] or [],
-- records: how many records changed}. Called only by app.change_finance_tag (the API
-- role cannot execute it: no summary is written but by the operation it sums up).
create or replace function app.audit_tag_operation(p_project_id uuid, p_from text, p_to text, p_records bigint)
returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  perform app.append_audit_entry(app.current_org_id(), 'app.financial_records', null, 'UPDATE',
          pg_catalog.jsonb_build_object('project_id', p_project_id, 'tags', pg_catalog.jsonb_build_array(p_from)),
          pg_catalog.jsonb_build_object('project_id', p_project_id,
            'tags', case when p_to is null then '[]'::jsonb else pg_catalog.jsonb_build_array(p_to) end,
            'records', p_records));
end
$$;
comment on function app.audit_tag_operation(uuid, text, text, bigint) is
  'Ends a tag rename (p_to) or removal (p_to null) in a project (app.change_finance_tag only): one audit entry for the operation, naming how many records it changed.';

-- A tag rename (p_to) or removal (p_to null) in a project of the current organization,
-- for a caller with finance MANAGE there (api.change_finance_tag checks it first, for its
-- 403/404; policy financial_records_update_kernel checks it again). One UPDATE, run by
-- the kernel with app.audit_tag_summary = 'on', so that app.audit_row_change writes no
-- entry per record for it (only for changes of tags, updated_by, updated_at and version:
-- anything else would still be audited row by row), then the one summary entry.
--
-- Why the kernel runs the UPDATE: the switch is a custom setting, which any role can set.
-- Set by the API role (or anyone but rowguard_kernel), trigger
-- financial_records_tag_summary_guard refuses every UPDATE of the ledger while it is on;
-- the kernel sets it only here, around this UPDATE, and switches it off before returning.
-- So no record's tag change escapes the trail, and a summary entry is only ever written
-- for an operation that happened, with its real count.
create or replace function app.change_finance_tag(p_project_id uuid, p_from text, p_to text) returns bigint
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_records bigint;
  v_set     text;
begin
  if not (p_project_id = any (app.my_domain_project_ids('finance', 'MANAGE'))) then
    raise exception 'finance MANAGE in this project is needed' using errcode = 'RG403';
  end if;
  v_set := pg_catalog.set_config('app.audit_tag_summary', 'on', true);
  update app.financial_records r
     set tags = case when p_to is null or p_to operator(pg_catalog.=) any (r.tags) then pg_catalog.array_remove(r.tags, p_from)
                     else pg_catalog.array_replace(r.tags, p_from, p_to) end,
         updated_by = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
   where r.org_id = app.current_org_id() and r.project_id = p_project_id
     and app.finance_tag_keys(r.project_id, r.tags) operator(pg_catalog.@>) app.finance_tag_keys(p_project_id, array[p_from])
     and r.tags operator(pg_catalog.@>) array[p_from];
  get diagnostics v_records = row_count;
  v_set := pg_catalog.set_config('app.audit_tag_summary', '', true);
  if v_records > 0 then
    perform app.audit_tag_operation(p_project_id, p_from, p_to, v_records);
  end if;
  return v_records;
end
$$;
comment on function app.change_finance_tag(uuid, text, text) is
  'POST …/tags/rename and DELETE …/tags/{name}: finance MANAGE in the project; renames p_from to p_to (merging) or removes it (p_to null) in every record of the project, audited once (app.audit_tag_operation). Returns how many records changed.';

-- The live records of a project that carry the tags of a records page's filter (any of
-- p_tags_any, all of p_tags_all; at least one given), after its keyset position, newest
-- first: their ids, for api.list_financial_records when the tags are rare in the project
-- (app.finance_tag_totals says so). Found through index financial_records_project_tags_idx
-- (one posting list per project and tag), so it costs as many rows as carry the tags,
-- where the paging walk reads (page size) / (their share) entries. The kernel runs it
-- because the API role cannot use that index: under its policy a filter that is not
-- LEAKPROOF (array && and @> are not) is evaluated only after the policy, never as an
-- index condition. It proposes ids and nothing else: the page reads the rows under the
-- records' policies with every filter again. Finance READ in the project, as the list.
create or replace function app.finance_tagged_record_ids(
  p_project_id uuid, p_tags_any text[], p_tags_all text[], p_after_on date, p_after_id uuid
) returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
declare
  v_any text[] := app.finance_tag_keys(p_project_id, p_tags_any);
  v_all text[] := app.finance_tag_keys(p_project_id, p_tags_all);
begin
  if not (p_project_id operator(pg_catalog.=) any (app.my_domain_project_ids('finance', 'READ'))) then
    raise exception 'finance READ in this project is needed' using errcode = 'RG403';
  end if;
  if v_any is null and v_all is null then
    raise exception 'tags_any or tags_all is needed' using errcode = '22023';
  end if;
  -- The tag index alone finds the rows (OFFSET 0 keeps the rest out of the scan: with the
  -- project's condition beside it the planner ANDs the bitmap with one read off the
  -- paging index, every entry of the project); the project and the organization are
  -- then checked on those rows only (a key names its project: this is the second word).
  return array(
    select r.id
      from (select r.id, r.org_id, r.project_id, r.deleted_at, r.occurred_on
              from app.financial_records r
             where app.finance_tag_keys(r.project_id, r.tags) operator(pg_catalog.&&) coalesce(v_any, v_all)
               and (v_all is null or app.finance_tag_keys(r.project_id, r.tags) operator(pg_catalog.@>) v_all)
            offset 0) r
     where r.org_id = app.current_org_id() and r.project_id = p_project_id and r.deleted_at is null
       and (r.occurred_on, r.id) < (p_after_on, p_after_id)
     order by r.occurred_on desc, r.id desc);
end
$$;
comment on function app.finance_tagged_record_ids(uuid, text[], text[], date, uuid) is
  'The ids of the live records of a project (finance READ) carrying any of p_tags_any and all of p_tags_all, before (p_after_on, p_after_id) in the list''s order, newest first; through the project''s tag index. api.list_financial_records reads those rows under the policies when the tags are rare.';

set local role rowguard_owner;

-- Not SECURITY DEFINER on purpose: current_user is whoever runs the UPDATE statement.
create or replace function app.refuse_forged_tag_summary() returns trigger
language plpgsql as $$
begin
  if pg_catalog.current_setting('app.audit_tag_summary', true) = 'on' and current_user <> 'rowguard_kernel' then
    raise exception 'app.audit_tag_summary is the kernel''s (app.change_finance_tag): set by anyone else, no record changes'
      using errcode = '42501';
  end if;
  return null;
end
$$;
comment on function app.refuse_forged_tag_summary() is
  'BEFORE UPDATE (per statement) on financial_records: refuses the UPDATE when app.audit_tag_summary is on and the statement does not run as rowguard_kernel (app.change_finance_tag), so nobody else can switch off the per-record audit.';

create or replace trigger financial_records_tag_summary_guard before update on app.financial_records
  for each statement execute function app.refuse_forged_tag_summary();
create or replace trigger financial_records_tags_delete after delete on app.financial_records
  referencing old table as old_rows
  for each statement execute function app.maintain_finance_tag_totals();
create or replace trigger financial_records_tags_insert after insert on app.financial_records
  referencing new table as new_rows
  for each statement execute function app.maintain_finance_tag_totals();
create or replace trigger financial_records_tags_update after update on app.financial_records
  referencing old table as old_rows new table as new_rows
  for each statement execute function app.maintain_finance_tag_totals();
