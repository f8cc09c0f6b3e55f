-- Organization member management. The rules are policies memberships_update /
-- memberships_delete (no escalation, only an OWNER touches an OWNER, anyone leaves) and
-- trigger app.keep_an_owner (the last OWNER stays); these functions only turn "RLS hid
-- or refused the row" into the documented answer.

create function api.member_json(m app.memberships) returns json
language sql stable as $$
  select json_build_object('user_id', m.user_id, 'email', u.email, 'role', m.role, 'joined_at', m.created_at)
    from auth.users u
   where u.id = m.user_id
$$;

create function api.update_member(p_user_id uuid, p_role text) returns json
language plpgsql volatile as $$
declare
  v_member app.memberships;
begin
  update app.memberships m set role = p_role::app.org_role
   where m.org_id = app.current_org_id() and m.user_id = p_user_id
  returning m.* into v_member;
  if v_member.user_id is null then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.memberships m where m.org_id = app.current_org_id() and m.user_id = p_user_id), 'member');
  end if;
  return api.member_json(v_member);
end
$$;
comment on function api.update_member(uuid, text) is
  'PATCH /v1/orgs/{org_id}/members/{user_id}: OWNER/ADMIN, never above their own role, only an OWNER changes an OWNER; the last OWNER stays (RG409).';

create function api.remove_member(p_user_id uuid) returns json
language plpgsql volatile as $$
begin
  delete from app.memberships m where m.org_id = app.current_org_id() and m.user_id = p_user_id;
  if not found then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.memberships m where m.org_id = app.current_org_id() and m.user_id = p_user_id), 'member');
  end if;
  return null;
end
$$;
comment on function api.remove_member(uuid) is
  'DELETE /v1/orgs/{org_id}/members/{user_id}: leave (oneself), or OWNER/ADMIN remove a member (only an OWNER an OWNER); the last OWNER stays (RG409).';
