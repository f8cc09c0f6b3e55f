-- Sign-up, sign-in and "who am I". complete_sign_up and create_session run before any
-- session exists: they set app.user_id to the user the kernel just created from a proven
-- mailbox, or that the API has just authenticated (argon2id, in Go), so the inserts below
-- pass the ordinary policies.

-- A password sign-up is only pending until its emailed code comes back
-- (auth.request_sign_up, called by the API directly); then the account is born here.
create function api.complete_sign_up(
  p_email text, p_code_hash bytea, p_user_agent text, p_ip text,
  p_refresh_token_hash bytea, p_session_lifetime interval, p_session_idle_timeout interval
) returns json
language plpgsql volatile as $$
declare
  v_proof   record;
  v_session record;
  v_org     json;
begin
  select * into v_proof from auth.verify_sign_up(p_email, p_code_hash);
  if v_proof.user_id is null then
    return null; -- wrong, expired, used or unknown: the caller answers 401 (and the count commits)
  end if;
  perform set_config('app.user_id', v_proof.user_id::text, true);
  select * into v_session from auth.open_session(v_proof.user_id, p_user_agent, p_ip::inet,
    p_refresh_token_hash, p_session_lifetime, p_session_idle_timeout);

  if v_proof.organization_name is not null then
    begin
      v_org := api.create_organization(v_proof.organization_name, null);
    exception when check_violation or not_null_violation or sqlstate 'RG409' then
      -- The client named no slug; whatever the organization refused is its name.
      raise exception 'organization_name cannot be used as an organization name'
        using errcode = 'RG422', column = 'organization_name';
    end;
  end if;

  return json_build_object(
    'user', api.user_json(v_proof.user_id),
    'organization', v_org,
    'session_id', v_session.session_id,
    'session_expires_at', v_session.expires_at);
end
$$;
comment on function api.complete_sign_up(text, bytea, text, text, bytea, interval, interval) is
  'POST /v1/auth/register/verify: the account of a pending sign-up whose code the API hashed (auth.verify_sign_up), a session (auth.open_session), and the organization it asked for, which the user OWNs. NULL for a wrong, expired, used or unknown code.';

-- Every way in (password login, and the ways later added) ends here, after the API has
-- authenticated the user: api.create_session → auth.open_session, the one place a
-- session and its first refresh token are born.
create function api.create_session(
  p_user_id uuid, p_user_agent text, p_ip text,
  p_refresh_token_hash bytea, p_session_lifetime interval, p_session_idle_timeout interval
) returns json
language plpgsql volatile as $$
declare
  v_session record;
begin
  perform set_config('app.user_id', p_user_id::text, true);
  select * into v_session from auth.open_session(p_user_id, p_user_agent, p_ip::inet,
    p_refresh_token_hash, p_session_lifetime, p_session_idle_timeout);
  return json_build_object('user', api.user_json(p_user_id),
    'session_id', v_session.session_id, 'session_expires_at', v_session.expires_at);
end
$$;
comment on function api.create_session(uuid, text, text, bytea, interval, interval) is
  'After the API authenticated a user (password login, or any later way in): a new session for an active user, with its first refresh token (SHA-256 only).';

-- The caller's effective permissions in one organization: what their org role grants in
-- every project (OWNER/ADMIN; NULL for a MEMBER) and each project they are a member of.
create function api.my_permissions_json(m app.memberships) returns json
language sql stable as $$
  select json_build_object(
           'all_projects', api.permissions_json(m.role, null, null, null),
           'projects', coalesce((
             select json_agg(json_build_object('project_id', pm.project_id)::jsonb
                             || jsonb_build_object('permissions', api.permissions_json(m.role, pm.role, pm.finance, pm.analytics))
                             order by pm.project_id)
               from app.project_members pm
              where pm.org_id = m.org_id and pm.user_id = m.user_id), '[]'::json))
$$;

create function api.me() returns json
language plpgsql stable as $$
begin
  return json_build_object(
    'user', api.user_json(app.current_user_id()),
    'memberships', coalesce((
      select json_agg(json_build_object(
               'organization', json_build_object('id', o.id, 'name', o.name, 'slug', o.slug),
               'role', m.role,
               'joined_at', m.created_at,
               'permissions', api.my_permissions_json(m)) order by o.name, o.id)
        from app.memberships m
        join app.organizations o on o.id = m.org_id
       where m.user_id = app.current_user_id()), '[]'::json));
end
$$;
comment on function api.me() is 'GET /v1/auth/me: the caller and every membership with its role and effective project permissions.';
