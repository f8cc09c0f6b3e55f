-- Organizations (the tenants) and their member list.

create function api.slugify(p_name text) returns text
language sql immutable as $$
  -- Cut first, then trim: a cut can leave a trailing dash, which the slug CHECK refuses.
  select coalesce(nullif(trim(both '-' from left(regexp_replace(lower(p_name), '[^a-z0-9]+', '-', 'g'), 56)), ''), 'org')
$$;
comment on function api.slugify(text) is 'A URL slug from a name: lower-case ASCII letters, digits and dashes (at most 56, room for a suffix).';

create function api.list_organizations(p_limit int, p_cursor uuid) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  select array_agg(api.organization_json(o, m.role) order by o.id desc),
         array_agg(o.id order by o.id desc)
    into v_items, v_ids
    from (select m.org_id, m.role
            from app.memberships m
           where m.user_id = app.current_user_id()
             and m.org_id < api.cursor_or_max(p_cursor)
           order by m.org_id desc
           limit p_limit + 1) m
    join app.organizations o on o.id = m.org_id;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_organizations(int, uuid) is 'GET /v1/orgs: the organizations the caller belongs to, newest first, keyset-paginated.';

create function api.create_organization(p_name text, p_slug text) returns json
language plpgsql volatile as $$
declare
  v_id      uuid := app.uuid_v7();
  v_slug    text := coalesce(p_slug, api.slugify(p_name));
  v_attempt int := 0;
begin
  if app.current_user_id() is null then
    raise exception 'sign in to create an organization' using errcode = 'RG401';
  end if;
  -- The AFTER INSERT trigger app.add_creator_as_owner makes the caller its OWNER.
  loop
    begin
      insert into app.organizations (id, name, slug) values (v_id, btrim(p_name), v_slug);
      exit;
    exception when unique_violation then
      if p_slug is not null then
        raise exception 'this slug is already taken' using errcode = 'RG409', column = 'slug';
      end if;
      v_attempt := v_attempt + 1;
      if v_attempt > 5 then
        raise exception 'could not find a free slug; choose one' using errcode = 'RG409', column = 'slug';
      end if;
      -- A derived slug collided: keep the name, add a short random suffix.
      v_slug := api.slugify(p_name) || '-' || substr(md5(random()::text), 1, 6);
    end;
  end loop;
  return (select api.organization_json(o, 'OWNER') from app.organizations o where o.id = v_id);
end
$$;
comment on function api.create_organization(text, text) is 'POST /v1/orgs: a new organization whose first OWNER is the caller.';

create function api.get_organization() returns json
language plpgsql stable as $$
declare
  v_org json;
begin
  select api.organization_json(o, app.current_org_role()) into v_org
    from app.organizations o
   where o.id = app.current_org_id();
  if v_org is null then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  return v_org;
end
$$;
comment on function api.get_organization() is 'GET /v1/orgs/{org_id}: any member.';

create function api.update_organization(p_patch jsonb) returns json
language plpgsql volatile as $$
declare
  v_org app.organizations;
begin
  begin
    update app.organizations o
       set name = case when p_patch ? 'name' then btrim(p_patch->>'name') else o.name end,
           slug = case when p_patch ? 'slug' then p_patch->>'slug' else o.slug end
     where o.id = app.current_org_id()
    returning o.* into v_org;
  exception when unique_violation then
    raise exception 'this slug is already taken' using errcode = 'RG409', column = 'slug';
  end;
  if v_org.id is null then
    perform api.raise_hidden_or_forbidden(exists (select from app.organizations o where o.id = app.current_org_id()), 'organization');
  end if;
  return api.organization_json(v_org, app.current_org_role());
end
$$;
comment on function api.update_organization(jsonb) is 'PATCH /v1/orgs/{org_id}: OWNER or ADMIN (policy organizations_update).';

create function api.delete_organization() returns json
language plpgsql volatile as $$
begin
  -- OWNER only, after a fresh reauthentication (RGR03); a soft delete, restorable for
  -- 30 days (app.soft_delete_organization, kernel).
  perform app.soft_delete_organization();
  return null;
end
$$;
comment on function api.delete_organization() is 'DELETE /v1/orgs/{org_id}: an OWNER who reauthenticated within 5 minutes soft-deletes the organization (restorable for 30 days).';

create function api.list_deleted_organizations() returns json
language plpgsql stable as $$
begin
  return json_build_object('items', coalesce((
    select json_agg(json_build_object('id', d.id, 'name', d.name, 'slug', d.slug,
                                      'deleted_at', d.deleted_at, 'deleted_by', d.deleted_by,
                                      'purge_after', d.purge_after)
                    order by d.deleted_at desc, d.id desc)
      from app.my_deleted_organizations() d), '[]'::json));
end
$$;
comment on function api.list_deleted_organizations() is 'GET /v1/orgs/deleted: the organizations the caller is an OWNER of, deleted in the last 30 days (restorable).';

create function api.restore_organization(p_org_id uuid) returns json
language plpgsql volatile as $$
begin
  perform app.restore_organization(p_org_id);
  return (select api.organization_json(o, 'OWNER') from app.organizations o where o.id = p_org_id);
end
$$;
comment on function api.restore_organization(uuid) is 'POST /v1/orgs/{org_id}/restore: an OWNER restores a soft-deleted organization within 30 days.';

create function api.list_members(p_limit int, p_cursor uuid) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  select array_agg(json_build_object('user_id', m.user_id, 'email', u.email, 'role', m.role,
                                     'joined_at', m.created_at) order by m.user_id desc),
         array_agg(m.user_id order by m.user_id desc)
    into v_items, v_ids
    from (select m.user_id, m.role, m.created_at
            from app.memberships m
           where m.org_id = app.current_org_id()
             and m.user_id < api.cursor_or_max(p_cursor)
           order by m.user_id desc
           limit p_limit + 1) m
    join auth.users u on u.id = m.user_id;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_members(int, uuid) is 'GET /v1/orgs/{org_id}/members: any member; newest account first, keyset-paginated.';
