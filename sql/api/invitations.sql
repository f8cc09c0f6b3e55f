-- Invitations. Who may invite, with which org role and which project grants, is
-- policies/invitations.sql (never above the inviter's own role and permissions), checked
-- again as a whole at every (re)issue (app.invitation_within_authority, sql/kernel/invitations.sql);
-- the invitee accepts or declines by token through the kernel (app.accept_invitation,
-- app.decline_invitation). Tokens are random (made by the API), stored only as sha256,
-- and leave the database by email only (unless the development switch discloses them).

create function api.token_hash(p_token text) returns bytea
language sql immutable as $$
  select sha256(convert_to(p_token, 'UTF8'))
$$;

-- By id, naming its columns: the API role may not read token_hash, so no function here
-- ever takes a whole invitation row.
create function api.invitation_json(p_invitation_id uuid) returns json
language sql stable as $$
  select json_build_object(
           'id', i.id, 'org_id', i.org_id, 'email', i.email, 'role', i.role,
           'status', app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at),
           'expires_at', i.expires_at, 'invited_by', i.invited_by, 'created_at', i.created_at,
           'token_disclosed_at', i.token_disclosed_at,
           'accepted_at', i.accepted_at, 'declined_at', i.declined_at, 'revoked_at', i.revoked_at,
           'projects', coalesce((
             select json_agg(json_build_object(
                      'project_id', ip.project_id, 'role', ip.role,
                      'finance', coalesce(ip.finance, app.domain_default(ip.role, 'finance')),
                      'analytics', coalesce(ip.analytics, app.domain_default(ip.role, 'analytics')))
                    order by ip.project_id)
               from app.invitation_projects ip
              where ip.invitation_id = i.id), '[]'::json))
    from app.invitations i
   where i.id = p_invitation_id
$$;

-- The one place an invitation (new or resent) with its fresh token leaves the database:
-- the invitation email is queued in the outbox in the same transaction (sent only if it
-- commits). The answer carries no token, unless p_disclose (the development switch
-- ROWGUARD_DEV_INVITATION_TOKENS_IN_RESPONSES): then the invitation records that its
-- token was shown (token_disclosed_at), so accepting with it proves nothing.
create function api.invitation_sent(p_invitation_id uuid, p_token text, p_disclose boolean) returns json
language plpgsql volatile as $$
declare
  v_body jsonb;
begin
  if p_disclose then
    update app.invitations i set token_disclosed_at = now()
     where i.org_id = app.current_org_id() and i.id = p_invitation_id;
  end if;
  v_body := api.invitation_json(p_invitation_id)::jsonb;
  perform auth.enqueue_email(v_body->>'email', 'invitation', jsonb_build_object(
    'token', p_token,
    'organization', (select o.name from app.organizations o where o.id = (v_body->>'org_id')::uuid),
    'role', v_body->>'role',
    'expires_at', v_body->>'expires_at'));
  if p_disclose then
    v_body := v_body || jsonb_build_object('token', p_token);
  end if;
  return v_body::json;
end
$$;

create function api.create_invitation(
  p_email text, p_role text, p_projects jsonb, p_token text, p_ttl interval, p_disclose boolean
) returns json
language plpgsql volatile as $$
declare
  v_id uuid;
begin
  if exists (select from app.memberships m join auth.users u on u.id = m.user_id
              where m.org_id = app.current_org_id() and lower(u.email) = lower(btrim(p_email))) then
    raise exception 'this person is already a member of the organization' using errcode = 'RG409', column = 'email';
  end if;
  -- An expired, still open invitation to the same address gives way to the new one
  -- (stamped revoked after its expiry, so it still reads "expired").
  update app.invitations i set revoked_at = now()
   where i.org_id = app.current_org_id() and lower(i.email) = lower(btrim(p_email))
     and app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at) = 'expired' and i.revoked_at is null;

  begin
    insert into app.invitations (org_id, email, role, token_hash, expires_at, invited_by)
    values (app.current_org_id(), btrim(p_email), p_role::app.org_role, api.token_hash(p_token),
            now() + p_ttl, app.current_user_id())
    returning id into v_id;
  exception when unique_violation then
    raise exception 'an open invitation to this email exists: resend it' using errcode = 'RG409', column = 'email';
  end;

  if exists (select from jsonb_to_recordset(p_projects) g(project_id uuid)
              where not exists (select from app.projects p where p.org_id = app.current_org_id() and p.id = g.project_id)) then
    raise exception 'a project of this organization is required' using errcode = 'RG422', column = 'projects';
  end if;
  -- RLS invitation_projects_insert: each grant at most the inviter's own permission (42501).
  insert into app.invitation_projects (org_id, invitation_id, project_id, role, finance, analytics)
  select app.current_org_id(), v_id, g.project_id, g.role::app.project_role,
         g.finance::app.domain_level, g.analytics::app.domain_level
    from jsonb_to_recordset(p_projects) g(project_id uuid, role text, finance text, analytics text);
  -- The invitation as a whole, against the caller's roles now (the rule accept and resend apply too).
  if not app.invitation_within_my_authority(v_id) then
    raise exception 'your roles do not allow issuing this invitation: it grants more than you hold' using errcode = 'RG403';
  end if;

  return api.invitation_sent(v_id, p_token, p_disclose);
end
$$;
comment on function api.create_invitation(text, text, jsonb, text, interval, boolean) is
  'POST /v1/orgs/{org_id}/invitations: org OWNER/ADMIN invite an email with an org role and project grants (none above their own), valid for p_ttl; the token goes by email (in the answer only if p_disclose).';

create function api.list_invitations(p_status text, p_limit int, p_cursor uuid) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  -- RLS would merely show a MEMBER an empty list; say plainly that the role is too low.
  if app.current_org_role() < 'ADMIN' then
    raise exception 'your role does not allow listing invitations' using errcode = 'RG403';
  end if;
  select array_agg(api.invitation_json(i.id) order by i.id desc), array_agg(i.id order by i.id desc)
    into v_items, v_ids
    from (select i.id
            from app.invitations i
           where i.org_id = app.current_org_id()
             and i.id < api.cursor_or_max(p_cursor)
             and (p_status is null or app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at) = p_status)
           order by i.id desc
           limit p_limit + 1) i;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_invitations(text, int, uuid) is
  'GET /v1/orgs/{org_id}/invitations[?status=]: org OWNER/ADMIN; newest first, keyset-paginated.';

-- Revoke and resend act on an invitation that is still open; anything else is a 409.
-- (Called when the UPDATE touched nothing: RLS hid the row, or its status refused it.)
create function api.raise_invitation_unchangeable(p_invitation_id uuid) returns void
language plpgsql stable as $$
declare
  v_role   app.org_role;
  v_status text;
begin
  select i.role, app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at) into v_role, v_status
    from app.invitations i where i.org_id = app.current_org_id() and i.id = p_invitation_id;
  -- Below ADMIN no invitation is visible: say the role is too low, whatever the id.
  if app.current_org_role() < 'ADMIN' or v_role > app.current_org_role() then
    raise exception 'your role does not allow changing this invitation' using errcode = 'RG403';
  end if;
  if v_role is null then
    raise exception 'invitation not found' using errcode = 'RG404';
  end if;
  raise exception 'this invitation is %', v_status using errcode = 'RG409';
end
$$;

create function api.revoke_invitation(p_invitation_id uuid) returns json
language plpgsql volatile as $$
begin
  update app.invitations i set revoked_at = now()
   where i.org_id = app.current_org_id() and i.id = p_invitation_id and app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at) = 'pending';
  if not found then
    perform api.raise_invitation_unchangeable(p_invitation_id);
  end if;
  return null;
end
$$;
comment on function api.revoke_invitation(uuid) is
  'DELETE /v1/orgs/{org_id}/invitations/{invitation_id}: org OWNER/ADMIN revoke a pending invitation; its token stops working at once.';

create function api.resend_invitation(p_invitation_id uuid, p_token text, p_ttl interval, p_disclose boolean) returns json
language plpgsql volatile as $$
begin
  -- A new token is a new issue: trigger invitations_reissue checks the caller holds all
  -- the invitation grants now (RG403) and makes them its inviter.
  update app.invitations i
     set token_hash = api.token_hash(p_token), expires_at = now() + p_ttl, token_disclosed_at = null
   where i.org_id = app.current_org_id() and i.id = p_invitation_id
     and app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at) in ('pending', 'expired') and i.revoked_at is null;
  if not found then
    perform api.raise_invitation_unchangeable(p_invitation_id);
  end if;
  return api.invitation_sent(p_invitation_id, p_token, p_disclose);
end
$$;
comment on function api.resend_invitation(uuid, text, interval, boolean) is
  'POST /v1/orgs/{org_id}/invitations/{invitation_id}/resend: a new token (the old one stops working) and a new expiry, for a pending or expired invitation, by someone holding all it grants now (who becomes its inviter).';

create function api.list_my_invitations(p_limit int, p_cursor uuid) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  -- Unverified, the address is only a claim: nothing addressed to it is shown.
  if app.my_verified_email() is null then
    raise exception 'verify your email address first: invitations are listed to a proven address only' using errcode = 'RGV03';
  end if;
  select array_agg((api.invitation_json(i.id)::jsonb
                    || jsonb_build_object('organization', json_build_object('id', o.org_id, 'name', o.name, 'slug', o.slug)))::json
                   order by i.id desc),
         array_agg(i.id order by i.id desc)
    into v_items, v_ids
    from (select i.id, i.org_id
            from app.invitations i
           where lower(i.email) = app.my_verified_email()
             and app.invitation_status(i.expires_at, i.accepted_at, i.declined_at, i.revoked_at) = 'pending'
             and i.id < api.cursor_or_max(p_cursor)
           order by i.id desc
           limit p_limit + 1) i
    join app.my_invitation_organizations() o on o.org_id = i.org_id;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_my_invitations(int, uuid) is
  'GET /v1/invitations: the pending invitations addressed to the caller''s verified email (RGV03 while unverified), each with the inviting organization.';

create function api.accept_invitation(p_token text) returns json
language plpgsql volatile as $$
declare
  v_org_id uuid := app.accept_invitation(api.token_hash(p_token));
begin
  return (
    select json_build_object(
             'organization', api.organization_json(o, m.role),
             'projects', coalesce((
               select json_agg(json_build_object('project_id', pm.project_id)::jsonb
                               || jsonb_build_object('permissions', api.permissions_json(m.role, pm.role, pm.finance, pm.analytics))
                               order by pm.project_id)
                 from app.project_members pm
                where pm.org_id = o.id and pm.user_id = app.current_user_id()), '[]'::json))
      from app.organizations o
      join app.memberships m on m.org_id = o.id and m.user_id = app.current_user_id()
     where o.id = v_org_id);
end
$$;
comment on function api.accept_invitation(text) is
  'POST /v1/invitations/accept: the invitee joins with the invited org role and every project grant, in one transaction.';

create function api.decline_invitation(p_token text) returns json
language plpgsql volatile as $$
begin
  perform app.decline_invitation(api.token_hash(p_token));
  return null;
end
$$;
comment on function api.decline_invitation(text) is 'POST /v1/invitations/decline: the invitee declines by token.';
