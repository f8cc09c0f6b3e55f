-- Project memberships and the caller's effective permissions. The rules are the
-- project_members_* policies (policies/project_members.sql) and the matrix helpers of
-- sql/kernel/role_matrix.sql; these functions only turn what RLS hid or refused into the right code.

create function api.project_member_json(pm app.project_members) returns json
language sql stable as $$
  select json_build_object('user_id', pm.user_id, 'email', u.email, 'role', pm.role,
                           'finance', coalesce(pm.finance, app.domain_default(pm.role, 'finance')),
                           'analytics', coalesce(pm.analytics, app.domain_default(pm.role, 'analytics')),
                           'joined_at', pm.created_at, 'updated_at', pm.updated_at)
    from auth.users u
   where u.id = pm.user_id
$$;

create function api.require_visible_project(p_project_id uuid) returns void
language plpgsql stable as $$
begin
  if not exists (select from app.projects p where p.org_id = app.current_org_id() and p.id = p_project_id) then
    raise exception 'project not found' using errcode = 'RG404';
  end if;
end
$$;

create function api.list_project_members(p_project_id uuid, p_limit int, p_cursor uuid) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  perform api.require_visible_project(p_project_id);
  select array_agg(api.project_member_json(pm) order by pm.user_id desc),
         array_agg(pm.user_id order by pm.user_id desc)
    into v_items, v_ids
    from (select *
            from app.project_members pm
           where pm.org_id = app.current_org_id() and pm.project_id = p_project_id
             and pm.user_id < api.cursor_or_max(p_cursor)
           order by pm.user_id desc
           limit p_limit + 1) pm;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_project_members(uuid, int, uuid) is
  'GET /v1/orgs/{org_id}/projects/{project_id}/members: whoever sees the project; keyset-paginated.';

create function api.put_project_member(
  p_project_id uuid, p_user_id uuid, p_role text, p_finance text, p_analytics text
) returns json
language plpgsql volatile as $$
declare
  v_member app.project_members;
begin
  perform api.require_visible_project(p_project_id);
  if not exists (select from app.memberships m where m.org_id = app.current_org_id() and m.user_id = p_user_id) then
    raise exception 'member not found' using errcode = 'RG404';
  end if;
  -- RLS: project_members_insert / _update (WITH CHECK: no escalation) raise 42501 (403).
  insert into app.project_members as pm (org_id, project_id, user_id, role, finance, analytics)
  values (app.current_org_id(), p_project_id, p_user_id, p_role::app.project_role,
          p_finance::app.domain_level, p_analytics::app.domain_level)
  on conflict (project_id, user_id) do update
    set role = excluded.role, finance = excluded.finance, analytics = excluded.analytics
  returning pm.* into v_member;
  return api.project_member_json(v_member);
end
$$;
comment on function api.put_project_member(uuid, uuid, text, text, text) is
  'PUT /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}: project OWNER/ADMIN (org OWNER/ADMIN included) set a member''s role and levels (NULL: the role''s default), never above their own.';

create function api.remove_project_member(p_project_id uuid, p_user_id uuid) returns json
language plpgsql volatile as $$
begin
  perform api.require_visible_project(p_project_id);
  delete from app.project_members pm
   where pm.org_id = app.current_org_id() and pm.project_id = p_project_id and pm.user_id = p_user_id;
  if not found then
    if exists (select from app.project_members pm where pm.project_id = p_project_id and pm.user_id = p_user_id) then
      raise exception 'your role does not allow removing this project member' using errcode = 'RG403';
    end if;
    raise exception 'project member not found' using errcode = 'RG404';
  end if;
  return null;
end
$$;
comment on function api.remove_project_member(uuid, uuid) is
  'DELETE /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}: leave a project, or project OWNER/ADMIN remove a member (only an OWNER an OWNER).';
