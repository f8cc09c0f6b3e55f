-- A soft-deleted organization (migration 020) kept recruiting: its pending invitations
-- were still listed to their invitees (app.my_invitation_organizations) and accepted
-- (app.lock_my_pending_invitation), so someone could join an organization its OWNER
-- had deleted, and be a member when it was restored. Both now treat an invitation to a
-- deleted organization as not there (404), until an OWNER restores it. The accept and
-- decline take a share lock on the organization row, so they serialize with a
-- concurrent soft delete (an UPDATE of that row) instead of racing it.
-- tests/e2e/deleted_org_invitations_test.go proves it.
set local role rowguard_owner;
grant create on schema app to rowguard_kernel;
set local role rowguard_kernel;

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

set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
reset role;

---- create above / drop below ----

set local role rowguard_owner;
grant create on schema app to rowguard_kernel;
set local role rowguard_kernel;

create or replace function app.my_invitation_organizations() returns table (org_id uuid, name text, slug text)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select o.id, o.name, o.slug
      from app.organizations o
     where o.id in (select i.org_id from app.invitations i
                     where pg_catalog.lower(i.email) = app.my_verified_email()
                       and i.accepted_at is null and i.declined_at is null and i.revoked_at is null
                       and i.expires_at > pg_catalog.now());
end
$$;

create or replace function app.lock_my_pending_invitation(p_token_hash bytea) returns app.invitations
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_inv    app.invitations;
  v_email  text;
  v_status text;
begin
  select * into v_inv from app.invitations i where i.token_hash = p_token_hash for update;
  select u.email into v_email from auth.users u
   where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  if v_inv.id is null or pg_catalog.lower(v_email) is distinct from pg_catalog.lower(v_inv.email) then
    raise exception 'invitation not found' using errcode = 'RG404';
  end if;
  v_status := app.invitation_status(v_inv.expires_at, v_inv.accepted_at, v_inv.declined_at, v_inv.revoked_at);
  if v_status <> 'pending' then
    raise exception 'this invitation is %', v_status using errcode = 'RG409';
  end if;
  return v_inv;
end
$$;

set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
reset role;
