-- Step-up for destructive acts, soft-deleted organizations, and OIDC bound to the browser.
--
-- * auth.sessions.reauthenticated_at: when the session last gave a fresh proof (its
--   password, or a code emailed to its user: auth.reauthentication_codes, keyed by the
--   API's HMAC like sign-in codes). auth.require_recent_reauthentication() raises RGR03
--   (403 reauthentication-required) unless that was within 5 minutes. Required for:
--   deleting an organization, removing or demoting the last other OWNER of one
--   (trigger app.step_up_for_last_other_owner), changing a password without the
--   current one. Every proof is recorded in auth.reauthentications.
-- * app.organizations.deleted_at / deleted_by: DELETE /v1/orgs/{org_id} soft-deletes.
--   A deleted organization disappears for its members at once: auth.begin_request
--   refuses it (404, in the same query as the membership check), app.my_org_ids,
--   app.current_org_role and app.my_project_permissions skip it, so RLS hides every row
--   of it. Its OWNERs may restore it for 30 days; `rowguard purge-deleted` then deletes
--   it (app.purge_deleted_organizations). The API role loses DELETE on organizations.
-- * auth.oidc_login_states.binding_hash: /start gives the browser a random binding in a
--   cookie and stores its SHA-256; the callback takes the state only with that cookie.
set local role rowguard_owner;

-- ----- OIDC: a sign-in in flight belongs to the browser that started it ----------------
-- States in flight have no binding: they are dropped (10 minutes at most; start again).
-- TRUNCATE: the migrating role sees no row of this FORCE RLS table.
truncate auth.oidc_login_states;
alter table auth.oidc_login_states add column binding_hash bytea not null
  constraint oidc_login_states_binding_hash_check check (length(binding_hash) = 32);
comment on column auth.oidc_login_states.binding_hash is
  'SHA-256 of the random binding /start put in the browser''s cookie (__Host-rowguard_oidc); the callback must present it.';

-- ----- Step-up ---------------------------------------------------------------------------
alter table auth.sessions add column reauthenticated_at timestamptz;
comment on column auth.sessions.reauthenticated_at is
  'When this session last proved its user again (password or emailed code): auth.require_recent_reauthentication accepts 5 minutes.';

create table auth.reauthentication_codes (
  session_id uuid primary key references auth.sessions (id) on delete cascade,
  user_id    uuid not null references auth.users (id) on delete cascade,
  code_hash  bytea not null constraint reauthentication_codes_code_hash_check check (length(code_hash) = 32),
  expires_at timestamptz not null,
  attempts   int not null default 0,
  created_at timestamptz not null default now()
);
comment on table auth.reauthentication_codes is
  'The live step-up code of a session (HMAC-SHA256 keyed by the API, bound to the session; never the code). Reachable only through auth.request_reauthentication_code / auth.verify_reauthentication_code.';
create index reauthentication_codes_expires_at_idx on auth.reauthentication_codes (expires_at);
alter table auth.reauthentication_codes enable row level security;
alter table auth.reauthentication_codes force row level security;

create table auth.reauthentications (
  id         uuid primary key default app.uuid_v7(),
  user_id    uuid not null references auth.users (id) on delete cascade,
  -- No foreign key: the record outlives the session.
  session_id uuid not null,
  method     text not null constraint reauthentications_method_check check (method in ('password', 'code', 'password_change')),
  request_id text,
  at         timestamptz not null default now()
);
comment on table auth.reauthentications is
  'Audit of every step-up proof (which session, how, which request). Written only by the kernel; the API role holds nothing on it.';
create index reauthentications_user_id_idx on auth.reauthentications (user_id, id);
alter table auth.reauthentications enable row level security;
alter table auth.reauthentications force row level security;

-- ----- Soft-deleted organizations ----------------------------------------------------------
alter table app.organizations
  add column deleted_at timestamptz,
  add column deleted_by uuid references auth.users (id) on delete set null,
  add constraint organizations_deleted_by_check check (deleted_at is not null or deleted_by is null);
comment on column app.organizations.deleted_at is
  'Soft delete (DELETE /v1/orgs/{org_id}): invisible to members from then on; an OWNER may restore it for 30 days, then `rowguard purge-deleted` deletes it.';
comment on column app.organizations.deleted_by is 'Who deleted the organization (NULL while it is live).';
create index organizations_deleted_at_idx on app.organizations (deleted_at) where deleted_at is not null;

grant create on schema auth, app to rowguard_kernel;
set local role rowguard_kernel;

-- Redefined from 010: the binding's hash is stored with the state.
drop function auth.begin_oidc_login(text, text, text, text);
drop function auth.take_oidc_login(text, text);

create function auth.begin_oidc_login(p_provider text, p_state text, p_nonce text, p_code_verifier text, p_binding text) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  if pg_catalog.length(p_state) < 32 or pg_catalog.length(p_nonce) < 32 or pg_catalog.length(p_binding) < 32 then
    raise exception 'state, nonce and binding need at least 32 characters' using errcode = '22023';
  end if;
  delete from auth.oidc_login_states where expires_at < pg_catalog.now();
  insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at, binding_hash)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8')), p_provider,
          pg_catalog.sha256(pg_catalog.convert_to(p_nonce, 'UTF8')), p_code_verifier,
          pg_catalog.now() + interval '10 minutes',
          pg_catalog.sha256(pg_catalog.convert_to(p_binding, 'UTF8')));
end
$$;
comment on function auth.begin_oidc_login(text, text, text, text, text) is
  'GET /v1/auth/oidc/{provider}/start: remember a sign-in in flight for 10 minutes (state, nonce and the browser''s cookie binding hashed).';

create function auth.take_oidc_login(p_provider text, p_state text, p_binding text)
returns table (nonce_hash bytea, code_verifier text)
language plpgsql volatile security definer set search_path = '' as $$
begin
  -- Deleted whatever happens next: a state is used once, and a state presented from
  -- another browser (login CSRF) is burnt, not left for a second try.
  return query
    with taken as (
      delete from auth.oidc_login_states s
       where s.state_hash = pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8'))
      returning s.provider, s.nonce_hash, s.code_verifier, s.expires_at, s.binding_hash)
    select t.nonce_hash, t.code_verifier from taken t
     where t.provider = p_provider and t.expires_at > pg_catalog.now()
       and t.binding_hash = pg_catalog.sha256(pg_catalog.convert_to(coalesce(p_binding, ''), 'UTF8'));
end
$$;
comment on function auth.take_oidc_login(text, text, text) is
  'GET /v1/auth/oidc/{provider}/callback: the nonce hash and PKCE verifier of a live state of this provider whose binding is the browser''s cookie, used up; no row for an unknown, used, expired, other provider''s or other browser''s state.';

-- The step-up rule. 5 minutes: long enough to confirm and act, short enough that a
-- token stolen later finds it expired.
create function auth.require_recent_reauthentication() returns void
language plpgsql stable security definer set search_path = '' as $$
begin
  if not exists (
    select from auth.sessions s
     where s.id = nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid
       and s.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
       and s.reauthenticated_at > pg_catalog.now() - interval '5 minutes') then
    raise exception 'this action needs a fresh proof of identity: reauthenticate (password or emailed code) and retry within 5 minutes'
      using errcode = 'RGR03', hint = 'POST /v1/auth/reauthenticate';
  end if;
end
$$;
comment on function auth.require_recent_reauthentication() is
  'Raises RGR03 (403 reauthentication-required) unless the current session (app.session_id) reauthenticated within the last 5 minutes.';

-- Records a proof of the current session. Kernel-internal and for the API after it
-- verified the password (the API asserts who is asking, as it does at sign-in).
create function auth.record_reauthentication(p_method text) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_session uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_user    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  update auth.sessions s set reauthenticated_at = pg_catalog.now()
   where s.id = v_session and s.user_id = v_user and s.revoked_at is null;
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401';
  end if;
  insert into auth.reauthentications (user_id, session_id, method, request_id)
  values (v_user, v_session, p_method, nullif(pg_catalog.current_setting('app.request_id', true), ''));
end
$$;
comment on function auth.record_reauthentication(text) is
  'The current session just proved its user again (p_method: password, code, password_change): sets reauthenticated_at and writes auth.reauthentications.';

create function auth.request_reauthentication_code(p_code_hash bytea, p_code text) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_ttl constant interval := interval '10 minutes';
  v_session uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_user    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_email   text;
begin
  if p_code is null or p_code !~ '^[0-9]{6,10}$' then
    raise exception 'a code is 6 to 10 digits' using errcode = '22023';
  end if;
  if p_code_hash is null or pg_catalog.length(p_code_hash) <> 32 then
    raise exception 'a code hash is 32 bytes (HMAC-SHA256)' using errcode = '22023';
  end if;
  select u.email into v_email from auth.users u where u.id = v_user;
  if v_email is null or v_session is null then
    raise exception 'the session is not valid' using errcode = 'RG401';
  end if;
  delete from auth.reauthentication_codes where expires_at < pg_catalog.now();
  insert into auth.reauthentication_codes (session_id, user_id, code_hash, expires_at)
  values (v_session, v_user, p_code_hash, pg_catalog.now() + c_ttl)
  on conflict (session_id) do update
    set code_hash = excluded.code_hash, expires_at = excluded.expires_at,
        attempts = 0, created_at = excluded.created_at;
  perform auth.enqueue_email(v_email, 'reauthentication_code',
    pg_catalog.jsonb_build_object('code', p_code,
                                  'expires_in_minutes', (extract(epoch from c_ttl))::int / 60));
end
$$;
comment on function auth.request_reauthentication_code(bytea, text) is
  'POST /v1/auth/reauthenticate/code: replace the current session''s step-up code with p_code_hash (10 minutes) and email p_code to its user.';

create function auth.verify_reauthentication_code(p_code_hash bytea) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
  c_max_attempts constant int := 5;
  v_session uuid := nullif(pg_catalog.current_setting('app.session_id', true), '')::uuid;
  v_user    uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_code    auth.reauthentication_codes;
begin
  select * into v_code from auth.reauthentication_codes c
   where c.session_id = v_session and c.user_id = v_user for update;
  if not found then
    return false;
  end if;
  if v_code.expires_at <= pg_catalog.now() then
    delete from auth.reauthentication_codes c where c.session_id = v_session;
    return false;
  end if;
  if v_code.code_hash is distinct from p_code_hash then
    -- Returns (not raises), so that the count commits.
    if v_code.attempts + 1 >= c_max_attempts then
      delete from auth.reauthentication_codes c where c.session_id = v_session;
    else
      update auth.reauthentication_codes c set attempts = c.attempts + 1 where c.session_id = v_session;
    end if;
    return false;
  end if;
  delete from auth.reauthentication_codes c where c.session_id = v_session;
  perform auth.record_reauthentication('code');
  -- The code went only to the account's mailbox: ownership of the address is proven
  -- (first proof wins; this session is the prover's and stays).
  perform auth.prove_email_ownership(v_user, v_session);
  return true;
end
$$;
comment on function auth.verify_reauthentication_code(bytea) is
  'POST /v1/auth/reauthenticate {code}: true when p_code_hash is the current session''s live code (used up; records the proof, and proves the mailbox); false when wrong (counted; the 5th voids it), expired or absent.';

-- Removing or demoting the last OWNER besides oneself hands the organization to the
-- caller alone: a stolen token must not do it without a fresh proof.
create function app.step_up_for_last_other_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  if old.role = 'OWNER' and (tg_op = 'DELETE' or new.role < 'OWNER')
     and v_user is not null and old.user_id <> v_user
     and exists (select from app.organizations o where o.id = old.org_id)
     and not exists (select from app.memberships m
                      where m.org_id = old.org_id and m.role = 'OWNER'
                        and m.user_id <> old.user_id and m.user_id <> v_user) then
    perform auth.require_recent_reauthentication();
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$$;
comment on function app.step_up_for_last_other_owner() is
  'BEFORE UPDATE OF role / DELETE on memberships: removing or demoting the last OWNER other than the caller needs a recent reauthentication (RGR03).';
grant execute on function app.step_up_for_last_other_owner() to rowguard_owner;

-- Redefined from 002: a deleted organization is no longer "mine".
create or replace function app.my_org_ids() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.org_id
                 from app.memberships m
                 join app.organizations o on o.id = m.org_id
                where m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
                  and o.deleted_at is null);
end
$$;
comment on function app.my_org_ids() is 'Every live (not deleted) organization the caller belongs to. Policies: org_id = any ((select app.my_org_ids())::uuid[]).';

-- Redefined from 002: no role in a deleted organization.
create or replace function app.current_org_role() returns app.org_role
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select m.role
            from app.memberships m
            join app.organizations o on o.id = m.org_id
           where m.org_id = nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid
             and m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
             and o.deleted_at is null);
end
$$;
comment on function app.current_org_role() is 'The caller''s role in the current organization, or NULL when not a member or the organization is deleted. Policies: (select app.current_org_role()).';

-- Redefined from 006: no project of a deleted organization.
create or replace function app.my_project_permissions()
returns table (project_id uuid, role app.project_role, finance app.domain_level, analytics app.domain_level)
language plpgsql stable security definer set search_path = '' as $$
declare
  v_org_id   uuid := nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid;
  v_user_id  uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_org_role app.org_role;
begin
  select m.role into v_org_role
    from app.memberships m
    join app.organizations o on o.id = m.org_id
   where m.org_id = v_org_id and m.user_id = v_user_id and o.deleted_at is null;
  if v_org_role is null then
    return;
  end if;
  if v_org_role >= 'ADMIN' then
    return query
      select p.id, app.effective_role(v_org_role, pm.role),
             app.effective_level(v_org_role, pm.role, pm.finance, 'finance'),
             app.effective_level(v_org_role, pm.role, pm.analytics, 'analytics')
        from app.projects p
        left join app.project_members pm on pm.project_id = p.id and pm.user_id = v_user_id
       where p.org_id = v_org_id;
  else
    return query
      select pm.project_id, pm.role,
             app.effective_level(v_org_role, pm.role, pm.finance, 'finance'),
             app.effective_level(v_org_role, pm.role, pm.analytics, 'analytics')
        from app.project_members pm
       where pm.user_id = v_user_id and pm.org_id = v_org_id;
  end if;
end
$$;
comment on function app.my_project_permissions() is
  'The projects of the current (live) organization the caller may see, each with the caller''s effective role, finance and analytics level. Kernel of every project-scoped policy.';

-- DELETE /v1/orgs/{org_id}: an OWNER, freshly reauthenticated, soft-deletes the current
-- organization. The audit trigger on organizations records it (deleted_at, deleted_by).
create function app.soft_delete_organization() returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_org  uuid := nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid;
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  if not exists (select from app.memberships m join app.organizations o on o.id = m.org_id
                  where m.org_id = v_org and m.user_id = v_user and o.deleted_at is null) then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if not exists (select from app.memberships m where m.org_id = v_org and m.user_id = v_user and m.role = 'OWNER') then
    raise exception 'only an OWNER deletes the organization' using errcode = 'RG403';
  end if;
  perform auth.require_recent_reauthentication();
  update app.organizations o set deleted_at = pg_catalog.now(), deleted_by = v_user
   where o.id = v_org and o.deleted_at is null;
end
$$;
comment on function app.soft_delete_organization() is
  'DELETE /v1/orgs/{org_id}: an OWNER who reauthenticated within 5 minutes (RGR03 otherwise) soft-deletes the current organization.';

-- The caller's deleted organizations they may restore (OWNER, within 30 days).
create function app.my_deleted_organizations()
returns table (id uuid, name text, slug text, deleted_at timestamptz, deleted_by uuid, purge_after timestamptz)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select o.id, o.name, o.slug, o.deleted_at, o.deleted_by, o.deleted_at + interval '30 days'
      from app.memberships m
      join app.organizations o on o.id = m.org_id
     where m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
       and m.role = 'OWNER'
       and o.deleted_at > pg_catalog.now() - interval '30 days'
     order by o.deleted_at desc, o.id desc;
end
$$;
comment on function app.my_deleted_organizations() is
  'GET /v1/orgs/deleted: the organizations deleted in the last 30 days of which the caller is an OWNER.';

create function app.restore_organization(p_org_id uuid) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  -- A suspended organization answers its members as auth.begin_request does: nothing
  -- in it changes, this included.
  if exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = v_user)
     and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null) then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  -- Another tenant's, a live, a purged and a too-old organization all answer 404, as
  -- does one where the caller is not an OWNER: nothing says it exists.
  update app.organizations o set deleted_at = null, deleted_by = null
   where o.id = p_org_id
     and o.deleted_at > pg_catalog.now() - interval '30 days'
     and exists (select from app.memberships m where m.org_id = o.id and m.user_id = v_user and m.role = 'OWNER');
  if not found then
    raise exception 'no deleted organization of yours has this id (restorable for 30 days)' using errcode = 'RG404';
  end if;
end
$$;
comment on function app.restore_organization(uuid) is
  'POST /v1/orgs/{org_id}/restore: an OWNER of a soft-deleted organization restores it within 30 days of its deletion.';

-- `rowguard purge-deleted`: deletes, with every tenant row (cascade), the organizations
-- deleted more than p_grace ago; each one is written to platform.admin_audit. For the
-- command line (rowguard_owner), never the API.
create function app.purge_deleted_organizations(p_grace interval default interval '30 days')
returns table (org_id uuid, name text, deleted_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
begin
  if p_grace is null or p_grace < interval '30 days' then
    raise exception 'an organization stays restorable for 30 days' using errcode = '22023';
  end if;
  return query
    with purged as (
      delete from app.organizations o
       where o.deleted_at < pg_catalog.now() - p_grace
      returning o.id, o.name, o.slug, o.deleted_at, o.deleted_by),
    audited as (
      insert into platform.admin_audit (actor_user_id, actor, action, org_id, details)
      select null, 'command line', 'organization.purge', p.id,
             pg_catalog.jsonb_build_object('name', p.name, 'slug', p.slug, 'deleted_at', p.deleted_at, 'deleted_by', p.deleted_by)
        from purged p
      returning 1)
    select p.id, p.name, p.deleted_at from purged p;
end
$$;
comment on function app.purge_deleted_organizations(interval) is
  'rowguard purge-deleted: deletes (with every tenant row) the organizations soft-deleted over p_grace (at least 30 days) ago, each recorded in platform.admin_audit.';
grant execute on function app.purge_deleted_organizations(interval) to rowguard_owner;

-- Redefined from 014 (its live definition): a deleted organization answers like one
-- that does not exist, read in the same query as membership and suspension.
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' set enable_seqscan = off as $$
declare
  v_touch     boolean;
  v_member    boolean;
  v_suspended boolean;
  v_set       text;
begin
  select s.last_used_at < pg_catalog.now() - interval '1 minute',
         p_org_id is null
           or (exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id)
               and exists (select from app.organizations o where o.id = p_org_id and o.deleted_at is null)),
         p_org_id is not null
           and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null)
    into v_touch, v_member, v_suspended
    from auth.sessions s
   where s.id = p_session_id
     and s.user_id = p_user_id
     and s.revoked_at is null
     and s.expires_at > pg_catalog.now()
     and s.last_used_at + s.idle_timeout > pg_catalog.now();
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401',
      hint = 'Sign in again.';
  end if;
  -- Another tenant's id, a non-existent id and a deleted organization answer the same.
  if not v_member then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if v_suspended then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  if v_touch then
    update auth.sessions set last_used_at = pg_catalog.now()
     where id = (select s.id from auth.sessions s
                  where s.id = p_session_id
                    and s.last_used_at < pg_catalog.now() - interval '1 minute'
                    for update skip locked);
  end if;
  v_set := pg_catalog.set_config('app.user_id', p_user_id::text, true);
  v_set := pg_catalog.set_config('app.session_id', p_session_id::text, true);
  v_set := pg_catalog.set_config('app.org_id', coalesce(p_org_id::text, ''), true);
end
$$;
comment on function auth.begin_request(uuid, uuid, uuid) is
  'First statement of every authenticated request: checks the session is live (not revoked — disabling a user revokes theirs —, not past expires_at, not idle beyond idle_timeout), checks membership of the organization in the path, that it is not deleted (RG404 like a stranger''s) nor suspended (RGS03), and sets app.user_id / app.session_id / app.org_id transaction-locally.';

set local role rowguard_owner;
revoke create on schema auth, app from rowguard_kernel;

create trigger memberships_step_up_for_last_other_owner before update of role or delete on app.memberships
  for each row execute function app.step_up_for_last_other_owner();
reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger memberships_step_up_for_last_other_owner on app.memberships;
grant create on schema auth, app to rowguard_kernel;
set local role rowguard_kernel;
drop function app.step_up_for_last_other_owner();
drop function app.purge_deleted_organizations(interval);
drop function app.restore_organization(uuid);
drop function app.my_deleted_organizations();
drop function app.soft_delete_organization();
drop function auth.verify_reauthentication_code(bytea);
drop function auth.request_reauthentication_code(bytea, text);
drop function auth.record_reauthentication(text);
drop function auth.require_recent_reauthentication();
drop function auth.take_oidc_login(text, text, text);
drop function auth.begin_oidc_login(text, text, text, text, text);

-- As 010 left them.
create function auth.begin_oidc_login(p_provider text, p_state text, p_nonce text, p_code_verifier text) returns void
language plpgsql volatile security definer set search_path = '' as $$
begin
  if pg_catalog.length(p_state) < 32 or pg_catalog.length(p_nonce) < 32 then
    raise exception 'state and nonce need at least 32 characters' using errcode = '22023';
  end if;
  delete from auth.oidc_login_states where expires_at < pg_catalog.now();
  insert into auth.oidc_login_states (state_hash, provider, nonce_hash, code_verifier, expires_at)
  values (pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8')), p_provider,
          pg_catalog.sha256(pg_catalog.convert_to(p_nonce, 'UTF8')), p_code_verifier,
          pg_catalog.now() + interval '10 minutes');
end
$$;
create function auth.take_oidc_login(p_provider text, p_state text)
returns table (nonce_hash bytea, code_verifier text)
language plpgsql volatile security definer set search_path = '' as $$
begin
  return query
    with taken as (
      delete from auth.oidc_login_states s
       where s.state_hash = pg_catalog.sha256(pg_catalog.convert_to(p_state, 'UTF8'))
      returning s.provider, s.nonce_hash, s.code_verifier, s.expires_at)
    select t.nonce_hash, t.code_verifier from taken t
     where t.provider = p_provider and t.expires_at > pg_catalog.now();
end
$$;

-- As 002 / 006 / 014 left them.
create or replace function app.my_org_ids() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.org_id
                 from app.memberships m
                where m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid);
end
$$;
create or replace function app.current_org_role() returns app.org_role
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select m.role
            from app.memberships m
           where m.org_id = nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid
             and m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid);
end
$$;
create or replace function app.my_project_permissions()
returns table (project_id uuid, role app.project_role, finance app.domain_level, analytics app.domain_level)
language plpgsql stable security definer set search_path = '' as $$
declare
  v_org_id   uuid := nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid;
  v_user_id  uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_org_role app.org_role;
begin
  select m.role into v_org_role from app.memberships m where m.org_id = v_org_id and m.user_id = v_user_id;
  if v_org_role is null then
    return;
  end if;
  if v_org_role >= 'ADMIN' then
    return query
      select p.id, app.effective_role(v_org_role, pm.role),
             app.effective_level(v_org_role, pm.role, pm.finance, 'finance'),
             app.effective_level(v_org_role, pm.role, pm.analytics, 'analytics')
        from app.projects p
        left join app.project_members pm on pm.project_id = p.id and pm.user_id = v_user_id
       where p.org_id = v_org_id;
  else
    return query
      select pm.project_id, pm.role,
             app.effective_level(v_org_role, pm.role, pm.finance, 'finance'),
             app.effective_level(v_org_role, pm.role, pm.analytics, 'analytics')
        from app.project_members pm
       where pm.user_id = v_user_id and pm.org_id = v_org_id;
  end if;
end
$$;
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' set enable_seqscan = off as $$
declare
  v_touch     boolean;
  v_member    boolean;
  v_suspended boolean;
  v_set       text;
begin
  select s.last_used_at < pg_catalog.now() - interval '1 minute',
         p_org_id is null
           or exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id),
         p_org_id is not null
           and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null)
    into v_touch, v_member, v_suspended
    from auth.sessions s
   where s.id = p_session_id
     and s.user_id = p_user_id
     and s.revoked_at is null
     and s.expires_at > pg_catalog.now()
     and s.last_used_at + s.idle_timeout > pg_catalog.now();
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401',
      hint = 'Sign in again.';
  end if;
  if not v_member then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if v_suspended then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  if v_touch then
    update auth.sessions set last_used_at = pg_catalog.now()
     where id = (select s.id from auth.sessions s
                  where s.id = p_session_id
                    and s.last_used_at < pg_catalog.now() - interval '1 minute'
                    for update skip locked);
  end if;
  v_set := pg_catalog.set_config('app.user_id', p_user_id::text, true);
  v_set := pg_catalog.set_config('app.session_id', p_session_id::text, true);
  v_set := pg_catalog.set_config('app.org_id', coalesce(p_org_id::text, ''), true);
end
$$;
set local role rowguard_owner;
revoke create on schema auth, app from rowguard_kernel;
-- Rolling back past this migration brings soft-deleted organizations back (live):
-- without the column there is no way to hide them, and deleting them here would lose
-- data an OWNER could still restore.
drop policy if exists organizations_delete_kernel on app.organizations; -- policies/ (020 onwards) reads deleted_at
alter table app.organizations drop constraint organizations_deleted_by_check,
  drop column deleted_by, drop column deleted_at;
drop table auth.reauthentications;
drop table auth.reauthentication_codes;
alter table auth.sessions drop column reauthenticated_at;
truncate auth.oidc_login_states;
alter table auth.oidc_login_states drop column binding_hash;
reset role;
