-- Invitations bind to proven identities and to the authority of whoever issues them.
--
-- 1. A token the API showed to anyone proves nothing about a mailbox. Tokens go by
--    email only; a development switch may still put one in the API answer, and then
--    the invitation records it (token_disclosed_at). Accepting requires a verified
--    email matching the invitation, except with a token that was never disclosed: it
--    came from the mailbox alone, so accepting with it proves the address (first proof
--    wins: auth.prove_email_ownership).
-- 2. Authority at every (re)issue: app.invitation_within_authority checks, against the
--    actor's roles at that moment, the invited org role and every project grant. Create
--    (api.create_invitation) and resend (trigger invitations_reissue: whoever re-tokens
--    an invitation must hold all it grants, and becomes its inviter) check the caller;
--    accept checks the inviter now, and refuses the whole invitation when they no
--    longer hold it (RGL09, invitation-lapsed).
-- 3. auth.claim_emails_to: the sender's claim for one address, so `rowguard seed-demo`
--    can read its demo accounts' invitation emails (their tokens are in no answer).
set local role rowguard_owner;

alter table app.invitations add column token_disclosed_at timestamptz;
comment on column app.invitations.token_disclosed_at is
  'When the current token was shown in an API answer (ROWGUARD_DEV_INVITATION_TOKENS_IN_RESPONSES); NULL: it went only to the mailbox. A disclosed token proves nothing about the address: accepting with it needs a verified email.';
comment on column app.invitations.invited_by is
  'Who issued the current token: the creator, or whoever resent it last. Accepting checks their authority at that moment (app.invitation_within_authority).';

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

grant create on schema app, auth to rowguard_kernel;
set local role rowguard_kernel;

-- A sender for one mailbox: `rowguard seed-demo` reads its demo accounts' invitation
-- emails as their mailbox would (the tokens are in no API answer any more), leaving
-- everyone else's mail to the server's sender. The API role already claims every email
-- (auth.claim_emails): this narrower claim grants nothing new.
create function auth.claim_emails_to(p_recipient text, p_lease interval)
returns table (id uuid, recipient text, template text, payload jsonb, attempts int)
language plpgsql volatile security definer set search_path = '' as $$
begin
  return query
    update auth.email_outbox o
       set attempts = o.attempts + 1,
           next_attempt_at = pg_catalog.now() + p_lease
     where o.id in (select d.id
                      from auth.email_outbox d
                     where pg_catalog.lower(d.recipient) = pg_catalog.lower(p_recipient)
                       and d.sent_at is null and d.gave_up_at is null
                       and d.next_attempt_at <= pg_catalog.now()
                     order by d.next_attempt_at
                       for update skip locked)
    returning o.id, o.recipient, o.template, o.payload, o.attempts;
end
$$;
comment on function auth.claim_emails_to(text, interval) is
  'Sender only: claim the due emails to one address for p_lease (rows another sender holds are skipped), as auth.claim_emails does for all. rowguard seed-demo reads its demo accounts'' mail with it.';

-- THE rule: may p_actor_id, with their roles right now, issue this invitation? Their org
-- role is ADMIN or more and at least the invited one, and every project grant (role and
-- both levels, or the role's defaults) is at most their effective permission in that
-- project (org role and explicit project membership combined, as
-- app.my_project_permissions computes for the caller).
create function app.invitation_within_authority(p_invitation_id uuid, p_actor_id uuid) returns boolean
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

create function app.invitation_within_my_authority(p_invitation_id uuid) returns boolean
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
create function app.my_inviter_ids() returns uuid[]
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
create function app.invitation_reissued() returns trigger
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

grant execute on function app.invitation_reissued() to rowguard_owner;

set local role rowguard_owner;
revoke create on schema app, auth from rowguard_kernel;
create trigger invitations_reissue before update on app.invitations
  for each row execute function app.invitation_reissued();

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger invitations_reissue on app.invitations;
-- (policies/ is reinstalled for the migration rolled back to; meanwhile its kernel
-- policy on project members must not need 018's function.)
drop policy if exists project_members_select_kernel on app.project_members;
create policy project_members_select_kernel on app.project_members for select to rowguard_kernel
  using (user_id = (select app.current_user_id()));
comment on policy project_members_select_kernel on app.project_members is
  'app.my_project_permissions reads the caller''s own project memberships, nobody else''s.';
grant create on schema app to rowguard_kernel;
set local role rowguard_kernel;
drop function app.invitation_reissued();
drop function auth.claim_emails_to(text, interval);
drop function app.my_inviter_ids();
drop function app.invitation_within_my_authority(uuid);
drop function app.invitation_within_authority(uuid, uuid);
create or replace function app.accept_invitation(p_token_hash bytea) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user_id uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_inv     app.invitations := app.lock_my_pending_invitation(p_token_hash);
begin
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
  update auth.users set email_verified_at = pg_catalog.now() where id = v_user_id and email_verified_at is null;
  return v_inv.org_id;
end
$$;
set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
create or replace function app.invitation_closed_is_final() returns trigger
language plpgsql as $$
begin
  if num_nonnulls(old.accepted_at, old.declined_at, old.revoked_at) > 0
     and (old.email, old.role, old.token_hash, old.expires_at, old.accepted_at, old.declined_at, old.revoked_at)
         is distinct from (new.email, new.role, new.token_hash, new.expires_at, new.accepted_at, new.declined_at, new.revoked_at) then
    raise exception 'this invitation is %',
      app.invitation_status(old.expires_at, old.accepted_at, old.declined_at, old.revoked_at)
      using errcode = 'RG409';
  end if;
  return new;
end
$$;
alter table app.invitations drop column token_disclosed_at;
reset role;
