-- Services: an organization's catalogue. Bodies arrive as jsonb already checked by the
-- HTTP layer (types, lengths); the table's CHECKs stay the last word.

create function api.service_json(s app.services) returns json
language sql stable as $$
  select json_build_object(
           'id', s.id, 'org_id', s.org_id, 'name', s.name, 'description', s.description,
           'duration_minutes', s.duration_minutes, 'price', s.price::text, 'currency', s.currency,
           'capacity', s.capacity, 'active', s.active,
           'created_at', s.created_at, 'updated_at', s.updated_at)
$$;

create function api.list_services(p_limit int, p_cursor uuid, p_active boolean) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  select array_agg(api.service_json(s) order by s.id desc), array_agg(s.id order by s.id desc)
    into v_items, v_ids
    from (select *
            from app.services s
           where s.org_id = app.current_org_id()
             and s.id < api.cursor_or_max(p_cursor)
             and (p_active is null or s.active = p_active)
           order by s.id desc
           limit p_limit + 1) s;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_services(int, uuid, boolean) is 'GET /v1/orgs/{org_id}/services: newest first, keyset-paginated, optionally only (in)active ones.';

create function api.create_service(p jsonb) returns json
language plpgsql volatile as $$
declare
  v_service app.services;
begin
  insert into app.services (org_id, name, description, duration_minutes, price, currency, capacity, active)
  values (app.current_org_id(), btrim(p->>'name'), p->>'description', (p->>'duration_minutes')::int,
          (p->>'price')::numeric, p->>'currency', coalesce((p->>'capacity')::int, 1),
          coalesce((p->>'active')::boolean, true))
  returning * into v_service;
  return api.service_json(v_service);
exception when unique_violation then
  raise exception 'a service with this name already exists in this organization'
    using errcode = 'RG409', column = 'name';
end
$$;
comment on function api.create_service(jsonb) is 'POST /v1/orgs/{org_id}/services: OWNER or ADMIN (policy services_insert).';

create function api.get_service(p_service_id uuid) returns json
language plpgsql stable as $$
declare
  v_service json;
begin
  select api.service_json(s) into v_service
    from app.services s
   where s.org_id = app.current_org_id() and s.id = p_service_id;
  if v_service is null then
    raise exception 'service not found' using errcode = 'RG404';
  end if;
  return v_service;
end
$$;
comment on function api.get_service(uuid) is 'GET /v1/orgs/{org_id}/services/{service_id}: any member.';

create function api.update_service(p_service_id uuid, p jsonb) returns json
language plpgsql volatile as $$
declare
  v_service app.services;
begin
  begin
    update app.services s
       set name             = case when p ? 'name' then btrim(p->>'name') else s.name end,
           description      = case when p ? 'description' then p->>'description' else s.description end,
           duration_minutes = case when p ? 'duration_minutes' then (p->>'duration_minutes')::int else s.duration_minutes end,
           price            = case when p ? 'price' then (p->>'price')::numeric else s.price end,
           currency         = case when p ? 'currency' then p->>'currency' else s.currency end,
           capacity         = case when p ? 'capacity' then (p->>'capacity')::int else s.capacity end,
           active           = case when p ? 'active' then (p->>'active')::boolean else s.active end
     where s.org_id = app.current_org_id() and s.id = p_service_id
    returning s.* into v_service;
  exception when unique_violation then
    raise exception 'a service with this name already exists in this organization'
      using errcode = 'RG409', column = 'name';
  end;
  if v_service.id is null then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.services s where s.org_id = app.current_org_id() and s.id = p_service_id), 'service');
  end if;
  return api.service_json(v_service);
end
$$;
comment on function api.update_service(uuid, jsonb) is 'PATCH /v1/orgs/{org_id}/services/{service_id}: OWNER or ADMIN. Existing bookings keep their times.';

create function api.delete_service(p_service_id uuid) returns json
language plpgsql volatile as $$
begin
  begin
    delete from app.services s where s.org_id = app.current_org_id() and s.id = p_service_id;
  exception when foreign_key_violation then
    raise exception 'this service has bookings; deactivate it instead (active: false)' using errcode = 'RG409';
  end;
  if not found then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.services s where s.org_id = app.current_org_id() and s.id = p_service_id), 'service');
  end if;
  return null;
end
$$;
comment on function api.delete_service(uuid) is 'DELETE /v1/orgs/{org_id}/services/{service_id}: OWNER or ADMIN; refused (409) while bookings refer to it.';
