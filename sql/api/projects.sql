-- Projects: org OWNER/ADMIN and the project's members read; org OWNER/ADMIN create;
-- project OWNER/ADMIN change and delete (policies projects_*). Every project answer
-- carries the caller's effective permissions in it (api.project_permissions).
-- The explicit org_id filters help the planner pick the (org_id, id) index;
-- the policies, not these filters, are what keep tenants apart.

-- The caller's effective permissions in one project (their org role and membership).
-- PL/pgSQL, so that its query's plan is kept: as a SQL function with a FROM it was
-- planned again at every call, most of a project create's CPU (tests/load -writes).
create function api.project_permissions(p_project_id uuid) returns json
language plpgsql stable as $$
declare
  v_member   app.project_members;
  -- A variable, not app.current_org_role() in the call below: PostgreSQL inlines a SQL
  -- function only when an argument it uses more than once is cheap, and a call is not.
  -- Not inlined, api.permissions_json was parsed and planned again at every request
  -- (~30 % of api.create_project's CPU, perf; tests/load -writes).
  v_org_role app.org_role := app.current_org_role();
begin
  select pm.* into v_member
    from app.project_members pm
   where pm.project_id = p_project_id and pm.user_id = app.current_user_id();
  return api.permissions_json(v_org_role, v_member.role, v_member.finance, v_member.analytics);
end
$$;

create function api.list_projects(p_limit int, p_cursor uuid) returns json
language plpgsql stable as $$
declare
  v_items    json[];
  v_ids      uuid[];
  v_org_role app.org_role := app.current_org_role();
  -- What the org role grants in every project (NULL for a MEMBER), and the caller's own
  -- project memberships here: computed once, not per listed row (a join per row cost
  -- 4× the PostgreSQL CPU of the whole list in tests/load).
  v_everywhere json := api.permissions_json(v_org_role, null, null, null);
  v_mine       jsonb;
begin
  select jsonb_object_agg(pm.project_id, api.permissions_json(v_org_role, pm.role, pm.finance, pm.analytics))
    into v_mine
    from app.project_members pm
   where pm.org_id = app.current_org_id() and pm.user_id = app.current_user_id();
  select array_agg(api.project_json(p, coalesce((v_mine -> p.id::text)::json, v_everywhere)) order by p.id desc),
         array_agg(p.id order by p.id desc)
    into v_items, v_ids
    from (select *
            from app.projects p
           where p.org_id = app.current_org_id()
             and p.id < api.cursor_or_max(p_cursor)
           order by p.id desc
           limit p_limit + 1) p;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_projects(int, uuid) is 'GET /v1/orgs/{org_id}/projects: newest first, keyset-paginated.';

create function api.create_project(p_name text, p_description text) returns json
language plpgsql volatile as $$
declare
  v_project app.projects;
begin
  insert into app.projects (org_id, name, description, created_by)
  values (app.current_org_id(), btrim(p_name), p_description, app.current_user_id())
  returning * into v_project;
  return api.project_json(v_project, api.project_permissions(v_project.id));
exception when unique_violation then
  raise exception 'a project with this name already exists in this organization'
    using errcode = 'RG409', column = 'name';
end
$$;
comment on function api.create_project(text, text) is 'POST /v1/orgs/{org_id}/projects: OWNER or ADMIN; a MEMBER is refused by policy projects_insert (42501).';

create function api.get_project(p_project_id uuid) returns json
language plpgsql stable as $$
declare
  v_project json;
begin
  select api.project_json(p, api.project_permissions(p.id)) into v_project
    from app.projects p
   where p.org_id = app.current_org_id() and p.id = p_project_id;
  if v_project is null then
    raise exception 'project not found' using errcode = 'RG404';
  end if;
  return v_project;
end
$$;
comment on function api.get_project(uuid) is 'GET /v1/orgs/{org_id}/projects/{project_id}: org OWNER/ADMIN and the project''s members.';

create function api.update_project(p_project_id uuid, p_patch jsonb) returns json
language plpgsql volatile as $$
declare
  v_project app.projects;
begin
  begin
    update app.projects p
       set name        = case when p_patch ? 'name' then btrim(p_patch->>'name') else p.name end,
           description = case when p_patch ? 'description' then p_patch->>'description' else p.description end
     where p.org_id = app.current_org_id() and p.id = p_project_id
    returning p.* into v_project;
  exception when unique_violation then
    raise exception 'a project with this name already exists in this organization'
      using errcode = 'RG409', column = 'name';
  end;
  if v_project.id is null then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.projects p where p.org_id = app.current_org_id() and p.id = p_project_id), 'project');
  end if;
  return api.project_json(v_project, api.project_permissions(v_project.id));
end
$$;
comment on function api.update_project(uuid, jsonb) is 'PATCH /v1/orgs/{org_id}/projects/{project_id}: project OWNER or ADMIN (org OWNER/ADMIN included). Keys: name, description.';

create function api.delete_project(p_project_id uuid) returns json
language plpgsql volatile as $$
begin
  delete from app.projects p where p.org_id = app.current_org_id() and p.id = p_project_id;
  if not found then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.projects p where p.org_id = app.current_org_id() and p.id = p_project_id), 'project');
  end if;
  return null;
end
$$;
comment on function api.delete_project(uuid) is 'DELETE /v1/orgs/{org_id}/projects/{project_id}: project OWNER or ADMIN (org OWNER/ADMIN included).';
