-- Finance ledger of a project: categories and financial records. The policies decide who
-- may (policies/finance.sql); api.require_project_level only turns "no such project for
-- you" into 404 and "your level is too low" into 403 before anything is touched.
-- Bodies arrive as jsonb already checked by the HTTP layer; the table CHECKs stay the last word.

create function api.require_project_level(p_project_id uuid, p_domain app.permission_domain, p_level app.domain_level)
returns void
language plpgsql stable as $$
declare
  v_level app.domain_level;
begin
  -- One read of the caller's projects for both questions (it was one each:
  -- app.my_project_ids, then app.my_domain_project_ids), the same answers.
  select case p_domain when 'finance' then m.finance else m.analytics end into v_level
    from app.my_project_permissions() m
   where m.project_id = p_project_id and m.role >= 'VIEWER';
  if not found then
    raise exception 'project not found' using errcode = 'RG404';
  end if;
  if v_level is null or v_level < p_level then
    raise exception 'this needs % % in the project', p_domain, p_level using errcode = 'RG403';
  end if;
end
$$;
comment on function api.require_project_level(uuid, app.permission_domain, app.domain_level) is
  'RG404 unless the caller sees the project in the current organization; RG403 unless they hold p_level in p_domain there.';

-- ----- categories ------------------------------------------------------------------------
create function api.finance_category_json(c app.finance_categories) returns json
language sql stable as $$
  select json_build_object(
           'id', c.id, 'project_id', c.project_id, 'kind', c.kind, 'name', c.name,
           'archived', c.archived, 'created_at', c.created_at, 'updated_at', c.updated_at)
$$;

create function api.list_finance_categories(p_project_id uuid, p_kind app.finance_kind, p_archived boolean) returns json
language plpgsql stable as $$
begin
  perform api.require_project_level(p_project_id, 'finance', 'READ');
  return json_build_object('items', coalesce(
    (select json_agg(api.finance_category_json(c) order by c.kind, lower(c.name))
       from app.finance_categories c
      where c.org_id = app.current_org_id() and c.project_id = p_project_id
        and (p_kind is null or c.kind = p_kind)
        and (p_archived is null or c.archived = p_archived)), '[]'::json));
end
$$;
comment on function api.list_finance_categories(uuid, app.finance_kind, boolean) is
  'GET …/projects/{project_id}/categories: finance READ; by kind then name; optionally one kind, (un)archived only.';

create function api.create_finance_category(p_project_id uuid, p jsonb) returns json
language plpgsql volatile as $$
declare
  v_category app.finance_categories;
begin
  perform api.require_project_level(p_project_id, 'finance', 'MANAGE');
  insert into app.finance_categories (org_id, project_id, kind, name)
  values (app.current_org_id(), p_project_id, (p->>'kind')::app.finance_kind, btrim(p->>'name'))
  returning * into v_category;
  return api.finance_category_json(v_category);
exception when unique_violation then
  raise exception 'this project already has a % category with this name', p->>'kind'
    using errcode = 'RG409', column = 'name';
end
$$;
comment on function api.create_finance_category(uuid, jsonb) is 'POST …/projects/{project_id}/categories: finance MANAGE. Keys: kind, name.';

create function api.update_finance_category(p_project_id uuid, p_category_id uuid, p jsonb) returns json
language plpgsql volatile as $$
declare
  v_category app.finance_categories;
begin
  perform api.require_project_level(p_project_id, 'finance', 'MANAGE');
  update app.finance_categories c
     set name     = case when p ? 'name' then btrim(p->>'name') else c.name end,
         archived = case when p ? 'archived' then (p->>'archived')::boolean else c.archived end
   where c.org_id = app.current_org_id() and c.project_id = p_project_id and c.id = p_category_id
  returning c.* into v_category;
  if v_category.id is null then
    raise exception 'category not found' using errcode = 'RG404';
  end if;
  return api.finance_category_json(v_category);
exception when unique_violation then
  raise exception 'this project already has a category of this kind with this name'
    using errcode = 'RG409', column = 'name';
end
$$;
comment on function api.update_finance_category(uuid, uuid, jsonb) is
  'PATCH …/categories/{category_id}: finance MANAGE. Keys: name, archived (false restores an archived one).';

create function api.archive_finance_category(p_project_id uuid, p_category_id uuid) returns json
language sql volatile as $$
  select api.update_finance_category(p_project_id, p_category_id, '{"archived": true}')
$$;
comment on function api.archive_finance_category(uuid, uuid) is
  'POST …/categories/{category_id}/archive: finance MANAGE. Its records keep it; new records cannot use it.';

-- ----- records ---------------------------------------------------------------------------
-- row_to_json over a row type (migration 031) rather than json_build_object of 34
-- arguments: the same keys in the same order, ~30 % less CPU per record (issue 19).
create function api.financial_record_json(r app.financial_records) returns json
language sql stable as $$
  select row_to_json(row(r.id, r.project_id, r.kind, r.amount::text, r.currency, r.category_id, r.tags,
                         r.payment_source, r.payment_reference, r.occurred_on, r.description,
                         r.created_by, r.updated_by, r.created_at, r.updated_at, r.deleted_at,
                         r.version)::app.financial_record_answer)
$$;

-- A new record's category (or a changed one) must be a live category of the project and
-- of the record's kind: named 422s here, the composite foreign key is the last word.
create function api.check_record_category(p_project_id uuid, p_category_id uuid, p_kind app.finance_kind) returns void
language plpgsql stable as $$
declare
  v_category app.finance_categories;
begin
  select * into v_category from app.finance_categories c
   where c.org_id = app.current_org_id() and c.project_id = p_project_id and c.id = p_category_id;
  if v_category.id is null then
    raise exception 'no such category in this project' using errcode = 'RG422', column = 'category_id';
  elsif v_category.kind <> p_kind then
    raise exception 'the category is an % category; the record is %', v_category.kind, p_kind
      using errcode = 'RG422', column = 'category_id';
  elsif v_category.archived then
    raise exception 'the category is archived' using errcode = 'RG422', column = 'category_id';
  end if;
end
$$;

create function api.tags_of(p jsonb) returns text[]
language sql immutable as $$
  select coalesce(array(select jsonb_array_elements_text(p)), '{}')
$$;

create function api.insert_financial_record(p_project_id uuid, p jsonb) returns app.financial_records
language plpgsql volatile as $$
declare
  v_record app.financial_records;
begin
  perform api.check_record_category(p_project_id, (p->>'category_id')::uuid, (p->>'kind')::app.finance_kind);
  insert into app.financial_records (org_id, project_id, kind, amount, currency, category_id, tags, payment_source,
                                     payment_reference, occurred_on, description, created_by, updated_by)
  values (app.current_org_id(), p_project_id, (p->>'kind')::app.finance_kind, (p->>'amount')::numeric,
          p->>'currency', (p->>'category_id')::uuid, api.tags_of(p->'tags'),
          (p->>'payment_source')::app.payment_source, p->>'payment_reference', (p->>'occurred_on')::date,
          p->>'description', app.current_user_id(), app.current_user_id())
  returning * into v_record;
  return v_record;
end
$$;

-- Idempotency: the key row is inserted first. A concurrent retry waits on its unique
-- index until the first request commits, then finds the stored response; a retry after
-- a failed first attempt (rolled back with its key) simply runs again.
create function api.create_financial_record(p_project_id uuid, p jsonb, p_idempotency_key text) returns json
language plpgsql volatile as $$
declare
  v_hash     bytea := sha256(convert_to(p::text, 'UTF8'));
  v_stored   app.finance_idempotency_keys;
  v_inserted boolean;
  v_record   app.financial_records;
  v_response json;
begin
  perform api.require_project_level(p_project_id, 'finance', 'MANAGE');
  if p_idempotency_key is not null then
    -- Forget this caller's expired keys here (a day's worth at most remain): the table
    -- stays the size of a day of keyed writes without a sweeper job.
    delete from app.finance_idempotency_keys k
     where k.project_id = p_project_id and k.user_id = app.current_user_id()
       and k.created_at < now() - interval '24 hours' and k.key <> p_idempotency_key;
    insert into app.finance_idempotency_keys (org_id, project_id, user_id, key, request_hash)
    values (app.current_org_id(), p_project_id, app.current_user_id(), p_idempotency_key, v_hash)
    on conflict do nothing
    returning true into v_inserted;
    if v_inserted is null then
      -- A key is remembered for 24 hours; after that it starts afresh.
      update app.finance_idempotency_keys k
         set request_hash = v_hash, response = null, created_at = now()
       where k.project_id = p_project_id and k.user_id = app.current_user_id() and k.key = p_idempotency_key
         and k.created_at < now() - interval '24 hours'
      returning true into v_inserted;
    end if;
    if v_inserted is null then
      select * into v_stored from app.finance_idempotency_keys k
       where k.project_id = p_project_id and k.user_id = app.current_user_id() and k.key = p_idempotency_key;
      if v_stored.request_hash <> v_hash then
        raise exception 'this Idempotency-Key was used with a different request body'
          using errcode = 'RG422', column = 'Idempotency-Key';
      end if;
      return v_stored.response;
    end if;
  end if;
  -- The row in a variable first: given the call itself, api.financial_record_json (SQL,
  -- using its argument many times) could not be inlined and was parsed and planned again
  -- at every request (tests/load -writes).
  v_record := api.insert_financial_record(p_project_id, p);
  v_response := api.financial_record_json(v_record);
  if p_idempotency_key is not null then
    update app.finance_idempotency_keys k set response = v_response
     where k.project_id = p_project_id and k.user_id = app.current_user_id() and k.key = p_idempotency_key;
  end if;
  return v_response;
end
$$;
comment on function api.create_financial_record(uuid, jsonb, text) is
  'POST …/projects/{project_id}/records: finance MANAGE. With an Idempotency-Key, a retry of the same body within 24 hours returns the first response (one record); another body → 422.';

-- The ILIKE pattern of a search text q: "description contains q" with q's own \, % and _
-- taken literally. One rule for every statement that filters by q.
create function api.contains_pattern(p_q text) returns text
language sql immutable as $$
  select '%' || replace(replace(replace(p_q, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

-- The list's optional filters as one predicate, for the statements that carry them all
-- (a rare tag's slices below, the CSV export): an inlinable SQL function, so each use is
-- planned as if written out (the dynamic list builds only the filters present instead).
-- "to" is optional here: the list folds it into its keyset bound.
create function api.record_matches_filters(
  r app.financial_records, p_kind app.finance_kind, p_category_id uuid, p_tags_any text[], p_tags_all text[],
  p_currency text, p_payment_source app.payment_source, p_from date, p_to date,
  p_min_amount numeric, p_max_amount numeric, p_q text
) returns boolean
language sql stable as $$
  select (p_kind is null or r.kind = p_kind)
     and (p_category_id is null or r.category_id = p_category_id)
     and (p_tags_any is null or r.tags && p_tags_any)
     and (p_tags_all is null or r.tags @> p_tags_all)
     and (p_currency is null or r.currency = p_currency)
     and (p_payment_source is null or r.payment_source = p_payment_source)
     and (p_from is null or r.occurred_on >= p_from)
     and (p_to is null or r.occurred_on <= p_to)
     and (p_min_amount is null or r.amount >= p_min_amount)
     and (p_max_amount is null or r.amount <= p_max_amount)
     and (p_q is null or r.description ilike api.contains_pattern(p_q))
$$;

create function api.list_financial_records(
  p_project_id uuid, p_limit int, p_cursor text, p_deleted boolean,
  p_kind app.finance_kind, p_category_id uuid, p_tags_any text[], p_tags_all text[], p_currency text,
  p_payment_source app.payment_source, p_from date, p_to date, p_min_amount numeric, p_max_amount numeric, p_q text
) returns json
-- The page's query holds the filters that are present and nothing else, planned with the
-- values (EXECUTE … USING: the organization and the project are constants, so the
-- planner reads their own statistics, the extended statistics on (org_id, project_id)
-- included), and it is planned without sorts: every shape has an index in the page's
-- order (the paging index; for a category, the category paging index; for deleted
-- records, theirs), so the plan walks it and stops at limit + 1 rows. The choice is not
-- left to the estimates: the policy's "project_id = ANY (my projects)" is an unknown
-- array at plan time, which puts every tenant's estimate several times too low, and
-- with a low estimate PostgreSQL 15 prefers an unordered scan with that array as an
-- index condition, then a sort of every matching row: 10,000 rows for a first page of a
-- 10,000-record project beside a 1,000,000-record one (tests/load -finance, issue 19).
-- A walk reads at most (limit + 1) / (share of the project's rows that match) entries,
-- whatever the other tenants hold. (The static query before this carried 13
-- "p IS NULL OR …" predicates and needed force_custom_plan to use the partial index.)
language plpgsql stable as $$
declare
  v_after_on date := coalesce(split_part(p_cursor, '_', 1)::date, 'infinity'::date);
  v_after_id uuid := coalesce(nullif(split_part(p_cursor, '_', 2), '')::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid);
  v_where    text := 'r.org_id = $1 and r.project_id = $2 and r.deleted_at is '
                     || case when p_deleted then 'not null' else 'null' end
                     || ' and (r.occurred_on, r.id) < ($3, $4)';
  v_items    json[];
  v_keys     text[];
  v_sort     text := current_setting('enable_sort');
  v_cache    text := current_setting('plan_cache_mode');
  v_tagged   bigint;
  v_ledger   bigint;
  v_ids      uuid[];
  v_from     int := 0;
  v_take     int;
  v_part     json[];
  v_part_keys text[];
  v_page     json;
  v_rows     bigint;
  v_level    app.domain_level := case when p_deleted then 'MANAGE' else 'READ' end;
begin
  -- The guard (404 / 403) and the currency check (422) come first only where the tags'
  -- totals are read before the page. Elsewhere the page is read first, under the
  -- policies, and they run only when it is empty: a row of the project on the page
  -- proves what the guard asks (the policy shows the project's live records only to
  -- finance READ, its deleted ones only to MANAGE: the level the guard wants for each),
  -- and an unknown currency matches no record (the table's CHECK), so the answers and
  -- their order are those of checking first. A page of rows reads the caller's
  -- permissions once (the policy's) instead of twice (issue 19).
  if p_tags_any is not null or p_tags_all is not null then
    perform api.require_project_level(p_project_id, 'finance', v_level);
    perform api.require_currency(p_currency, 'currency');
  end if;
  -- "to" is where the walk starts: folded into the keyset bound (occurred_on ≤ to is
  -- (occurred_on, id) < (to + 1, the least uuid)), so the scan begins at that day instead
  -- of at the newest record and filtering its way down (a month a year back of a
  -- 1,000,000-record ledger: 18 ms).
  if p_to is not null and (p_to + 1, '00000000-0000-0000-0000-000000000000'::uuid) < (v_after_on, v_after_id) then
    v_after_on := p_to + 1;
    v_after_id := '00000000-0000-0000-0000-000000000000';
  end if;
  if p_kind is not null then v_where := v_where || ' and r.kind = $5'; end if;
  if p_category_id is not null then v_where := v_where || ' and r.category_id = $6'; end if;
  if p_tags_any is not null then v_where := v_where || ' and r.tags && $7'; end if;
  if p_tags_all is not null then v_where := v_where || ' and r.tags @> $8'; end if;
  if p_currency is not null then v_where := v_where || ' and r.currency = $9'; end if;
  if p_payment_source is not null then v_where := v_where || ' and r.payment_source = $10'; end if;
  if p_from is not null then v_where := v_where || ' and r.occurred_on >= $11'; end if;
  if p_min_amount is not null then v_where := v_where || ' and r.amount >= $13'; end if;
  if p_max_amount is not null then v_where := v_where || ' and r.amount <= $14'; end if;
  if p_q is not null then v_where := v_where || ' and r.description ilike $15'; end if;
  -- A rare tag: the walk reads (limit + 1) / (the tags' share) entries of the paging
  -- index, a heap row each: ~25,000 for a tag on 0.2 % of a 1,000,000-record ledger. The
  -- live records carrying the tags are counted exactly in app.finance_tag_totals (for
  -- tags_any the sum of their counts, for tags_all the least); when they are few against
  -- the ledger, the kernel finds them through the project's tag index instead
  -- (app.finance_tagged_record_ids: their ids after the keyset, newest first) and the page
  -- reads them here, under the policies and with every filter, in slices of that order:
  -- the first slice is a page of ids (four pages when other filters may drop some), each
  -- next one four times the last, until the page is full. A slice's rows come after the
  -- previous slice's in the list's order, so the page is the walk's page.
  -- Which path costs less: the lookup reads the n tagged records plus a fixed part (two
  -- statements and a permission read: ~300 rows' worth), the walk about
  -- (limit + 1) × ledger / n rows and never more than the ledger (its live records summed
  -- from the monthly rollup: at most a few thousand rows, read only when n ≤ 20,000).
  -- Either path gives the same page (TestFinanceRareTagPaths); the counts only choose.
  if not p_deleted and (p_tags_any is not null or p_tags_all is not null) then
    select least(case when p_tags_any is not null
                      then coalesce(sum(t.record_count) filter (where t.tag = any (p_tags_any)), 0) end,
                 case when p_tags_all is not null
                      then case when count(*) filter (where t.tag = any (p_tags_all))
                                     < cardinality(array(select distinct unnest(p_tags_all)))
                                then 0 else min(t.record_count) filter (where t.tag = any (p_tags_all)) end end)
      into v_tagged
      from app.finance_tag_totals t
     where t.org_id = app.current_org_id() and t.project_id = p_project_id
       and t.tag = any (coalesce(p_tags_any, '{}') || coalesce(p_tags_all, '{}'));
  end if;
  if v_tagged <= 20000 then
    select coalesce(sum(m.record_count), 0) into v_ledger
      from app.finance_monthly_totals m
     where m.org_id = app.current_org_id() and m.project_id = p_project_id;
    if v_tagged + 300 >= least(v_ledger, (p_limit + 1) * v_ledger / greatest(v_tagged, 1)) then
      v_tagged := null; -- the walk reads no more
    end if;
  end if;
  if v_tagged <= 20000 then
    v_ids := app.finance_tagged_record_ids(p_project_id, p_tags_any, p_tags_all, v_after_on, v_after_id);
    -- Filters besides the tags: a slice holds fewer matches than ids, so start wider.
    v_take := (p_limit + 1) * case when num_nonnulls(p_kind, p_category_id, p_currency, p_payment_source, p_from,
                                                    p_min_amount, p_max_amount, p_q) > 0 then 4 else 1 end;
    v_items := '{}';
    v_keys := '{}';
    -- One static statement, its plan kept (force_generic_plan, as for the unfiltered page:
    -- planning it was most of a small ledger's page): the ids drive it through the primary
    -- key whatever the filters, which are then checked on the slice's rows only.
    perform set_config('plan_cache_mode', 'force_generic_plan', true);
    while v_from < cardinality(v_ids) and cardinality(v_keys) <= p_limit loop
      select array_agg(api.financial_record_json(r) order by r.occurred_on desc, r.id desc),
             array_agg(r.occurred_on::text || '_' || r.id::text order by r.occurred_on desc, r.id desc)
        into v_part, v_part_keys
        from (select * from app.financial_records r
               where r.id = any (v_ids[v_from + 1 : v_from + v_take])
                 and r.org_id = app.current_org_id() and r.project_id = p_project_id and r.deleted_at is null
                 and (r.occurred_on, r.id) < (v_after_on, v_after_id)
                 and api.record_matches_filters(r, p_kind, p_category_id, p_tags_any, p_tags_all, p_currency,
                                                p_payment_source, p_from, null, p_min_amount, p_max_amount, p_q)
               order by r.occurred_on desc, r.id desc
               limit p_limit + 1 - cardinality(v_keys)) r;
      v_items := v_items || coalesce(v_part, '{}');
      v_keys := v_keys || coalesce(v_part_keys, '{}');
      v_from := v_from + v_take;
      v_take := v_take * 4;
    end loop;
    perform set_config('plan_cache_mode', v_cache, true);
    return json_build_object(
             'items', coalesce(array_to_json(v_items[1:p_limit]), '[]'::json),
             'next_cursor', case when cardinality(v_keys) > p_limit then v_keys[p_limit] end);
  end if;
  -- Only for this statement's plan; restored right after (an error ends the transaction,
  -- and the settings with it).
  perform set_config('enable_sort', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true);
  if v_where = 'r.org_id = $1 and r.project_id = $2 and r.deleted_at is null and (r.occurred_on, r.id) < ($3, $4)' then
    -- The commonest shape, every page of the unfiltered list: a static statement whose
    -- plan is made once per connection and kept (force_generic_plan: left to choose,
    -- the plan cache kept planning it again for every call). Planning the dynamic
    -- statement was a fifth of the page's CPU. With enable_sort off and no filter, the
    -- paging index is the only plan without a sort, whatever the parameters: no
    -- tenant's size can move it.
    -- The answer in the statement itself: the JSON of the page's rows only (the extra
    -- row only tells that there is a next page) and the cursor from the last row,
    -- without copying the page through variables (issue 19). A record's JSON is
    -- api.financial_record_json's expression over the row's own columns: given the
    -- whole row, it formed a row value per record to take it apart again (pgTAP
    -- 45_finance compares the two byte for byte).
    select json_build_object(
             'items', coalesce(array_to_json(array_agg(
                        row_to_json(row(r.id, r.project_id, r.kind, r.amount::text, r.currency, r.category_id, r.tags,
                                        r.payment_source, r.payment_reference, r.occurred_on, r.description,
                                        r.created_by, r.updated_by, r.created_at, r.updated_at, r.deleted_at,
                                        r.version)::app.financial_record_answer) order by r.n)
                                               filter (where r.n <= p_limit)), '[]'::json),
             'next_cursor', case when count(*) > p_limit
                                 then min(r.occurred_on::text || '_' || r.id::text) filter (where r.n = p_limit) end),
           count(*)
      into v_page, v_rows
      from (select r.*, row_number() over (order by r.occurred_on desc, r.id desc) as n
              from (select * from app.financial_records r
                     where r.org_id = app.current_org_id() and r.project_id = p_project_id and r.deleted_at is null
                       and (r.occurred_on, r.id) < (v_after_on, v_after_id)
                     order by r.occurred_on desc, r.id desc
                     limit p_limit + 1) r) r;
  else
    -- Planned at every call: the plain aggregates plan faster than the static
    -- statement's answer-building shape, which pays off only in a kept plan.
    execute 'select array_agg(api.financial_record_json(r) order by r.occurred_on desc, r.id desc),
                    array_agg(r.occurred_on::text || ''_'' || r.id::text order by r.occurred_on desc, r.id desc)
               from (select * from app.financial_records r
                      where ' || v_where || '
                      order by r.occurred_on desc, r.id desc
                      limit $16) r'
      into v_items, v_keys
      using app.current_org_id(), p_project_id, v_after_on, v_after_id, p_kind, p_category_id, p_tags_any, p_tags_all,
            p_currency, p_payment_source, p_from, p_to, p_min_amount, p_max_amount,
            api.contains_pattern(p_q), p_limit + 1;
    v_rows := coalesce(cardinality(v_keys), 0);
    v_page := json_build_object(
                'items', coalesce(array_to_json(v_items[1:p_limit]), '[]'::json),
                'next_cursor', case when cardinality(v_keys) > p_limit then v_keys[p_limit] end);
  end if;
  perform set_config('enable_sort', v_sort, true), set_config('plan_cache_mode', v_cache, true);
  if v_rows = 0 and p_tags_any is null and p_tags_all is null then
    perform api.require_project_level(p_project_id, 'finance', v_level);
    perform api.require_currency(p_currency, 'currency');
  end if;
  return v_page;
end
$$;
comment on function api.list_financial_records(uuid, int, text, boolean, app.finance_kind, uuid, text[], text[], text, app.payment_source, date, date, numeric, numeric, text) is
  'GET …/projects/{project_id}/records: finance READ (deleted=true: MANAGE); newest occurred_on first, keyset cursor "<occurred_on>_<id>"; filters combine with AND.';

create function api.get_financial_record(p_project_id uuid, p_record_id uuid) returns json
language plpgsql stable as $$
declare
  v_record json;
begin
  perform api.require_project_level(p_project_id, 'finance', 'READ');
  select api.financial_record_json(r) into v_record
    from app.financial_records r
   where r.org_id = app.current_org_id() and r.project_id = p_project_id and r.id = p_record_id;
  if v_record is null then
    raise exception 'record not found' using errcode = 'RG404';
  end if;
  return v_record;
end
$$;
comment on function api.get_financial_record(uuid, uuid) is
  'GET …/records/{record_id}: finance READ (a soft-deleted record: MANAGE). The HTTP layer sends its version as ETag.';

-- The record as the caller may change it, locked; RG404 when they cannot see it, RG412
-- when p_if_match (a version) is stale.
create function api.lock_financial_record(p_project_id uuid, p_record_id uuid, p_if_match int) returns app.financial_records
language plpgsql volatile as $$
declare
  v_record app.financial_records;
begin
  perform api.require_project_level(p_project_id, 'finance', 'MANAGE');
  select * into v_record from app.financial_records r
   where r.org_id = app.current_org_id() and r.project_id = p_project_id and r.id = p_record_id
     for update;
  if v_record.id is null then
    raise exception 'record not found' using errcode = 'RG404';
  end if;
  if p_if_match is not null and p_if_match <> v_record.version then
    raise exception 'the record changed since version % (now %); fetch it again', p_if_match, v_record.version
      using errcode = 'RG412';
  end if;
  return v_record;
end
$$;

create function api.update_financial_record(p_project_id uuid, p_record_id uuid, p jsonb, p_if_match int) returns json
language plpgsql volatile as $$
declare
  v_record app.financial_records := api.lock_financial_record(p_project_id, p_record_id, p_if_match);
begin
  if v_record.deleted_at is not null then
    raise exception 'the record is deleted; restore it first' using errcode = 'RG409';
  end if;
  if p ? 'category_id' or p ? 'kind' then
    perform api.check_record_category(p_project_id, coalesce((p->>'category_id')::uuid, v_record.category_id),
                                      coalesce((p->>'kind')::app.finance_kind, v_record.kind));
  end if;
  update app.financial_records r
     set kind              = case when p ? 'kind' then (p->>'kind')::app.finance_kind else r.kind end,
         amount            = case when p ? 'amount' then (p->>'amount')::numeric else r.amount end,
         currency          = case when p ? 'currency' then p->>'currency' else r.currency end,
         category_id       = case when p ? 'category_id' then (p->>'category_id')::uuid else r.category_id end,
         tags              = case when p ? 'tags' then api.tags_of(p->'tags') else r.tags end,
         payment_source    = case when p ? 'payment_source' then (p->>'payment_source')::app.payment_source else r.payment_source end,
         payment_reference = case when p ? 'payment_reference' then p->>'payment_reference' else r.payment_reference end,
         occurred_on       = case when p ? 'occurred_on' then (p->>'occurred_on')::date else r.occurred_on end,
         description       = case when p ? 'description' then p->>'description' else r.description end,
         updated_by        = app.current_user_id()
   where r.id = v_record.id
  returning r.* into v_record;
  return api.financial_record_json(v_record);
end
$$;
comment on function api.update_financial_record(uuid, uuid, jsonb, int) is
  'PATCH …/records/{record_id}: finance MANAGE; If-Match (version) → 412 when stale; a deleted record → 409.';

create function api.set_financial_record_deleted(p_project_id uuid, p_record_id uuid, p_deleted boolean) returns json
language plpgsql volatile as $$
declare
  v_record app.financial_records := api.lock_financial_record(p_project_id, p_record_id, null);
begin
  if (v_record.deleted_at is not null) <> p_deleted then
    update app.financial_records r
       set deleted_at = case when p_deleted then now() end, updated_by = app.current_user_id()
     where r.id = v_record.id
    returning r.* into v_record;
  end if;
  return api.financial_record_json(v_record);
end
$$;
comment on function api.set_financial_record_deleted(uuid, uuid, boolean) is
  'DELETE …/records/{record_id} (soft, true) and POST …/records/{record_id}/restore (false): finance MANAGE; idempotent.';
