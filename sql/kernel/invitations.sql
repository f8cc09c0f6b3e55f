-- Invitations: status, lifecycle, accept/decline, and the authority to grant, checked at
-- create, resend and accept against the inviter's roles at that moment.
-- Part of the kernel code package (install.sql).

-- Takes the columns, not the row: the API role may not read token_hash, so it can never
-- name a whole invitation row.
create or replace function app.invitation_status(
  p_expires_at timestamptz, p_accepted_at timestamptz, p_declined_at timestamptz, p_revoked_at timestamptz
) returns text
language sql stable parallel safe as $$
  select case when p_accepted_at is not null then 'accepted'
              when p_declined_at is not null then 'declined'
              when p_expires_at <= coalesce(p_revoked_at, now()) then 'expired'
              when p_revoked_at is not null then 'revoked'
              else 'pending' end
$$;
comment on function app.invitation_status(timestamptz, timestamptz, timestamptz, timestamptz) is
  'pending | accepted | declined | revoked | expired (an invitation revoked after it expired stays expired).';

set local role rowguard_kernel;

create or replace function app.my_verified_email() returns text
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select pg_catalog.lower(u.email) from auth.users u
           where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
             and u.email_verified_at is not null);
end
$$;
comment on function app.my_verified_email() is
  'The caller''s email, lower-cased, once they proved it (email_verified_at); else NULL. Invitations addressed to it are theirs to read.';

-- An invitation is a grant made in advance: it stands only while its inviter could still
-- make it. When the inviter leaves, or their org role drops below ADMIN or below the
-- invited role, their pending invitations lapse (stamped revoked). BEFORE the change, so
-- the foreign key has not yet cleared invited_by; a refused change rolls this back too.
create or replace function app.lapse_invitations_of_inviter() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  -- (Not while the organization itself is being deleted: its invitations go with it.)
  if (tg_op = 'DELETE' or new.role < old.role)
     and exists (select from app.organizations o where o.id = old.org_id) then
    update app.invitations i set revoked_at = pg_catalog.now()
     where i.org_id = old.org_id and i.invited_by = old.user_id
       and i.accepted_at is null and i.declined_at is null and i.revoked_at is null
       and (tg_op = 'DELETE' or new.role < 'ADMIN' or i.role > new.role);
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$$;
comment on function app.lapse_invitations_of_inviter() is
  'BEFORE UPDATE OF role / DELETE on memberships: revokes the pending invitations a member sent that they could no longer send (left, or demoted below ADMIN or below the invited role).';
grant execute on function app.lapse_invitations_of_inviter() to rowguard_owner;

create or replace function app.decline_invitation(p_token_hash bytea) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_inv app.invitations := app.lock_my_pending_invitation(p_token_hash);
begin
  update app.invitations set declined_at = pg_catalog.now() where id = v_inv.id;
end
$$;
comment on function app.decline_invitation(bytea) is
  'POST /v1/invitations/decline: the invitee (email must match) closes a pending invitation.';

set local role rowguard_owner;

-- Closed is final: the disclosure stamp too.
create or replace function app.invitation_closed_is_final() returns trigger
language plpgsql as $$
begin
  -- (The foreign keys may still clear invited_by / accepted_by when those users go.)
  if num_nonnulls(old.accepted_at, old.declined_at, old.revoked_at) > 0
     and (old.email, old.role, old.token_hash, old.expires_at, old.accepted_at, old.declined_at, old.revoked_at, old.token_disclosed_at)
         is distinct from (new.email, new.role, new.token_hash, new.expires_at, new.accepted_at, new.declined_at, new.revoked_at, new.token_disclosed_at) then
    raise exception 'this invitation is %',
      app.invitation_status(old.expires_at, old.accepted_at, old.declined_at, old.revoked_at)
      using errcode = 'RG409';
  end if;
  return new;
end
$$;
comment on function app.invitation_closed_is_final() is 'BEFORE UPDATE on invitations: a closed invitation (accepted, declined, revoked) never changes again (RG409).';

set local role rowguard_kernel;

-- THE rule: may p_actor_id, with their roles right now, issue this invitation? Their org
-- role is ADMIN or more and at least the invited one, and every project grant (role and
-- both levels, or the role's defaults) is at most their effective permission in that
-- project (org role and explicit project membership combined, as
-- app.my_project_permissions computes for the caller).
create or replace function app.invitation_within_authority(p_invitation_id uuid, p_actor_id uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $$
declare
  v_org_id     uuid;
  v_role       app.org_role;
  v_actor_role app.org_role;
begin
  select i.org_id, i.role into v_org_id, v_role from app.invitations i where i.id = p_invitation_id;
  select m.role into v_actor_role from app.memberships m where m.org_id = v_org_id and m.user_id = p_actor_id;
  if v_org_id is null or v_actor_role is null or v_actor_role < 'ADMIN' or v_role > v_actor_role then
    return false;
  end if;
  return not exists (
    select from app.invitation_projects ip
      left join app.project_members pm on pm.project_id = ip.project_id and pm.user_id = p_actor_id
     where ip.invitation_id = p_invitation_id
       and not coalesce(
             ip.role <= app.effective_role(v_actor_role, pm.role)
             and coalesce(ip.finance, app.domain_default(ip.role, 'finance'))
                 <= app.effective_level(v_actor_role, pm.role, pm.finance, 'finance')
             and coalesce(ip.analytics, app.domain_default(ip.role, 'analytics'))
                 <= app.effective_level(v_actor_role, pm.role, pm.analytics, 'analytics'),
             false));
end
$$;
comment on function app.invitation_within_authority(uuid, uuid) is
  'Authority at every (re)issue: does p_actor_id hold, right now, the invited org role (and ADMIN at least) and every project grant of the invitation (role and levels, at most their effective permission in that project)? Kernel only: create and resend ask it about the caller, accept about the inviter.';
revoke execute on function app.invitation_within_authority(uuid, uuid) from public;

create or replace function app.invitation_within_my_authority(p_invitation_id uuid) returns boolean
language plpgsql stable security definer set search_path = '' as $$
declare
  v_user_id uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_org_id  uuid := nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid;
begin
  return exists (select from app.invitations i where i.id = p_invitation_id and i.org_id = v_org_id)
         and app.invitation_within_authority(p_invitation_id, v_user_id);
end
$$;
comment on function app.invitation_within_my_authority(uuid) is
  'api.create_invitation: app.invitation_within_authority for the caller, about an invitation of the current organization only (false for any other).';
revoke execute on function app.invitation_within_my_authority(uuid) from public;

-- Whose project memberships accepting must read: the inviters of the pending
-- invitations addressed to the caller's email (verified or not: accepting checks that).
create or replace function app.my_inviter_ids() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(
    select distinct i.invited_by
      from app.invitations i
     where pg_catalog.lower(i.email) = (select pg_catalog.lower(u.email) from auth.users u
                                         where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid)
       and i.invited_by is not null
       and i.accepted_at is null and i.declined_at is null and i.revoked_at is null);
end
$$;
comment on function app.my_inviter_ids() is
  'The users who sent the pending invitations addressed to the caller''s email: app.accept_invitation checks their authority now (policy project_members_select_kernel).';
revoke execute on function app.my_inviter_ids() from public;

-- Re-tokening an invitation (resend) is issuing it again: the caller must hold all it
-- grants now, and becomes its inviter. A disclosed token stays marked until replaced.
create or replace function app.invitation_reissued() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_user_id uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  if new.token_hash is not distinct from old.token_hash then
    if old.token_disclosed_at is not null and new.token_disclosed_at is distinct from old.token_disclosed_at then
      raise exception 'this invitation''s token was disclosed; only a new token clears that' using errcode = 'RG409';
    end if;
    return new;
  end if;
  if v_user_id is not null then -- (outside a request: maintenance as a superuser)
    new.invited_by := v_user_id;
    if not app.invitation_within_authority(new.id, v_user_id) then
      raise exception 'your roles do not allow issuing this invitation: it grants more than you hold'
        using errcode = 'RG403';
    end if;
  end if;
  return new;
end
$$;
comment on function app.invitation_reissued() is
  'BEFORE UPDATE on invitations: a new token (resend) is a new issue: the caller must hold all the invitation grants right now (RG403), and becomes invited_by. A disclosed token''s stamp stays until the token changes.';
grant execute on function app.invitation_reissued() to rowguard_owner;

-- Accepting, now: a verified email matching the invitation, or a token that went only to
-- the mailbox (which proves it: first proof wins); and the inviter's authority, now.
create or replace function app.accept_invitation(p_token_hash bytea) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user_id    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_session_id uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_inv        app.invitations := app.lock_my_pending_invitation(p_token_hash);
  v_verified   boolean;
begin
  select u.email_verified_at is not null into v_verified from auth.users u where u.id = v_user_id;
  if not v_verified and v_inv.token_disclosed_at is not null then
    raise exception 'verify your email address first: this invitation''s token was shown to its inviter, so it proves nothing about your mailbox'
      using errcode = 'RGV03';
  end if;
  if not app.invitation_within_authority(v_inv.id, v_inv.invited_by) then
    raise exception 'this invitation has lapsed: whoever sent it no longer holds everything it grants; ask for a new one'
      using errcode = 'RGL09';
  end if;
  if not v_verified then
    -- The token came from the mailbox alone: the address is proven, first proof wins.
    perform auth.prove_email_ownership(v_user_id, v_session_id);
  end if;

  insert into app.memberships as m (org_id, user_id, role)
  values (v_inv.org_id, v_user_id, v_inv.role)
  on conflict (org_id, user_id) do update set role = greatest(m.role, excluded.role);

  insert into app.project_members as pm (org_id, project_id, user_id, role, finance, analytics)
  select ip.org_id, ip.project_id, v_user_id, ip.role, ip.finance, ip.analytics
    from app.invitation_projects ip
   where ip.invitation_id = v_inv.id
  on conflict (project_id, user_id) do update
    set role = excluded.role, finance = excluded.finance, analytics = excluded.analytics;

  update app.invitations set accepted_at = pg_catalog.now(), accepted_by = v_user_id where id = v_inv.id;
  return v_inv.org_id;
end
$$;
comment on function app.accept_invitation(bytea) is
  'POST /v1/invitations/accept: for the signed-in user whose email the invitation names — verified, or proven by this very token if it was never disclosed (RGV03 otherwise) — and only while the inviter still holds all it grants (RGL09): in one transaction the org role (never lowering one held), every project grant, accepted.';

create or replace function app.my_invitation_organizations() returns table (org_id uuid, name text, slug text)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select o.id, o.name, o.slug
      from app.organizations o
     where o.deleted_at is null
       and o.id in (select i.org_id from app.invitations i
                     where pg_catalog.lower(i.email) = app.my_verified_email()
                       and i.accepted_at is null and i.declined_at is null and i.revoked_at is null
                       and i.expires_at > pg_catalog.now());
end
$$;
comment on function app.my_invitation_organizations() is
  'The organizations inviting the caller (pending invitations to their verified email): who is inviting them, before they belong.';

create or replace function app.lock_my_pending_invitation(p_token_hash bytea) returns app.invitations
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_inv    app.invitations;
  v_email  text;
  v_status text;
  v_live   boolean;
begin
  select * into v_inv from app.invitations i where i.token_hash = p_token_hash for update;
  select u.email into v_email from auth.users u
   where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  select o.deleted_at is null into v_live from app.organizations o where o.id = v_inv.org_id for share;
  if v_inv.id is null or pg_catalog.lower(v_email) is distinct from pg_catalog.lower(v_inv.email)
     or v_live is not true then
    raise exception 'invitation not found' using errcode = 'RG404';
  end if;
  v_status := app.invitation_status(v_inv.expires_at, v_inv.accepted_at, v_inv.declined_at, v_inv.revoked_at);
  if v_status <> 'pending' then
    raise exception 'this invitation is %', v_status using errcode = 'RG409';
  end if;
  return v_inv;
end
$$;
comment on function app.lock_my_pending_invitation(bytea) is
  'app.accept_invitation / app.decline_invitation: the pending invitation a token opens for the caller (email must match), locked.';

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger invitations_closed_is_final before update on app.invitations
  for each row execute function app.invitation_closed_is_final();
create or replace trigger invitations_reissue before update on app.invitations
  for each row execute function app.invitation_reissued();
create or replace trigger memberships_lapse_invitations before update of role or delete on app.memberships
  for each row execute function app.lapse_invitations_of_inviter();
