-- Dual-scope RBAC: project memberships with project roles and permission domains,
-- invitations that pre-assign an organization role and project grants, and the kernel
-- helpers every project-scoped policy calls. Policies and grants live in policies/
-- (project_members.sql, invitations.sql, and the changed projects.sql / tenancy.sql).
--
-- THE MATRIX (the only place it is written; README "Roles and permissions" mirrors it
-- and tests/pgtap/40_role_matrix.sql proves what Postgres does with it):
--
--   project role  finance  analytics   may
--   OWNER         MANAGE   MANAGE      read, change and delete the project, manage every member
--   ADMIN         MANAGE   MANAGE      read, change and delete the project, manage members below OWNER
--   ANALYST       READ     MANAGE      read the project
--   VIEWER        READ     READ        read the project
--
--   * Those levels are the defaults of each role (app.project_role_matrix()); a project
--     membership may override finance and/or analytics explicitly (NONE, READ, MANAGE).
--   * Organization roles combine: an org OWNER acts as project OWNER and an org ADMIN as
--     project ADMIN in every project of their organization (levels: the greater of that
--     and any explicit project membership). An org MEMBER sees only the projects they
--     are a member of.
--   * Nobody grants more than they hold: a project grant (role and both levels) is
--     never above the granter's own effective permission in that project; an org role
--     granted is never above the granter's org role.
set local role rowguard_owner;

-- Declared lowest first, so `role >= 'ADMIN'` reads as "ADMIN or more".
create type app.project_role as enum ('VIEWER', 'ANALYST', 'ADMIN', 'OWNER');
comment on type app.project_role is 'A user''s role in one project, ordered: VIEWER < ANALYST < ADMIN < OWNER.';
create type app.domain_level as enum ('NONE', 'READ', 'MANAGE');
comment on type app.domain_level is 'Access to one permission domain of a project, ordered: NONE < READ < MANAGE.';
create type app.permission_domain as enum ('finance', 'analytics');
comment on type app.permission_domain is 'The permission domains a project membership grants levels in.';

-- Accepting an invitation by its emailed token proves the address: see app.accept_invitation.
-- (The sessions branch adds the same column and sets it on OTP / OIDC / password reset.)
alter table auth.users add column if not exists email_verified_at timestamptz;
comment on column auth.users.email_verified_at is 'When the user proved they receive mail at email (accepting an emailed invitation does); NULL: not yet.';

-- ---------------------------------------------------------------------------------------
-- The matrix, as pure functions (IMMUTABLE: no table, no privilege).
-- ---------------------------------------------------------------------------------------
create function app.project_role_matrix()
returns table (role app.project_role, finance app.domain_level, analytics app.domain_level)
language sql immutable parallel safe as $$
  values ('OWNER'::app.project_role, 'MANAGE'::app.domain_level, 'MANAGE'::app.domain_level),
         ('ADMIN',                   'MANAGE',                     'MANAGE'),
         ('ANALYST',                 'READ',                       'MANAGE'),
         ('VIEWER',                  'READ',                       'READ')
$$;
comment on function app.project_role_matrix() is
  'THE role matrix: each project role''s default finance and analytics level. Every other rule derives from it (README mirrors it; a test compares them).';

create function app.domain_default(p_role app.project_role, p_domain app.permission_domain) returns app.domain_level
language sql immutable parallel safe as $$
  select case p_domain when 'finance' then m.finance else m.analytics end
    from app.project_role_matrix() m
   where m.role = p_role
$$;
comment on function app.domain_default(app.project_role, app.permission_domain) is
  'The level a project role grants in a domain when the membership does not override it (NULL role: NULL).';

create function app.org_role_as_project_role(p_org_role app.org_role) returns app.project_role
language sql immutable parallel safe as $$
  select case p_org_role when 'OWNER' then 'OWNER'::app.project_role
                         when 'ADMIN' then 'ADMIN'::app.project_role end
$$;
comment on function app.org_role_as_project_role(app.org_role) is
  'How an organization role acts in every project of its organization: OWNER as OWNER, ADMIN as ADMIN, MEMBER as nothing.';

create function app.effective_role(p_org_role app.org_role, p_member_role app.project_role) returns app.project_role
language sql immutable parallel safe as $$
  select greatest(app.org_role_as_project_role(p_org_role), p_member_role)
$$;
comment on function app.effective_role(app.org_role, app.project_role) is
  'The project role a user acts with: the greater of their organization role''s and their project membership''s (NULL: no access).';

create function app.effective_level(
  p_org_role app.org_role, p_member_role app.project_role, p_override app.domain_level, p_domain app.permission_domain
) returns app.domain_level
language sql immutable parallel safe as $$
  select greatest(app.domain_default(app.org_role_as_project_role(p_org_role), p_domain),
                  coalesce(p_override, app.domain_default(p_member_role, p_domain)))
$$;
comment on function app.effective_level(app.org_role, app.project_role, app.domain_level, app.permission_domain) is
  'A user''s level in a domain of a project: the greater of what their organization role grants and what their membership grants (its override, else its role''s default).';

-- ---------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------
create table app.project_members (
  org_id     uuid not null,
  project_id uuid not null,
  user_id    uuid not null,
  role       app.project_role not null,
  finance    app.domain_level,
  analytics  app.domain_level,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (project_id, user_id),
  constraint project_members_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade,
  -- Only a member of the organization can be a member of one of its projects; leaving
  -- the organization ends every project membership in it.
  constraint project_members_member_fkey foreign key (org_id, user_id)
    references app.memberships (org_id, user_id) on delete cascade
);
comment on table app.project_members is
  'Who belongs to which project, with which project role; finance/analytics NULL = the role''s default (app.project_role_matrix), else an explicit override.';
-- "My projects in this organization" (app.my_project_permissions) reads this index only.
create index project_members_user_idx on app.project_members (user_id, org_id) include (project_id, role, finance, analytics);
create index project_members_org_project_idx on app.project_members (org_id, project_id);
create trigger project_members_touch_updated_at before update on app.project_members
  for each row execute function app.touch_updated_at();

create table app.invitations (
  org_id      uuid not null references app.organizations (id) on delete cascade,
  id          uuid not null default app.uuid_v7() primary key,
  email       text not null
              constraint invitations_email_check
              check (length(email) <= 254 and email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  role        app.org_role not null,
  -- sha256 of the random token (256 bits, made by the API): the token is never stored.
  token_hash  bytea not null constraint invitations_token_hash_check check (length(token_hash) = 32),
  expires_at  timestamptz not null,
  invited_by  uuid,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  declined_at timestamptz,
  revoked_at  timestamptz,
  constraint invitations_org_id_id_key unique (org_id, id),
  constraint invitations_invited_by_fkey foreign key (org_id, invited_by)
    references app.memberships (org_id, user_id) on delete set null (invited_by),
  -- An invitation ends once, one way.
  constraint invitations_closed_once_check
    check (num_nonnulls(accepted_at, declined_at, revoked_at) <= 1),
  constraint invitations_accepted_by_check check ((accepted_at is null) = (accepted_by is null))
);
comment on table app.invitations is
  'An invitation to join an organization with a role (and project grants: app.invitation_projects). Status: accepted / declined / revoked when so stamped, expired after expires_at, else pending.';
create unique index invitations_token_hash_key on app.invitations (token_hash);
-- One open invitation per address and organization (an expired one is closed by the next).
create unique index invitations_org_id_email_key on app.invitations (org_id, lower(email))
  where accepted_at is null and declined_at is null and revoked_at is null;
create index invitations_email_idx on app.invitations (lower(email));
create trigger invitations_touch_updated_at before update on app.invitations
  for each row execute function app.touch_updated_at();

create table app.invitation_projects (
  org_id        uuid not null,
  invitation_id uuid not null,
  project_id    uuid not null,
  role          app.project_role not null,
  finance       app.domain_level,
  analytics     app.domain_level,
  primary key (invitation_id, project_id),
  constraint invitation_projects_invitation_fkey foreign key (org_id, invitation_id)
    references app.invitations (org_id, id) on delete cascade,
  constraint invitation_projects_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade
);
comment on table app.invitation_projects is
  'The project memberships an invitation grants on acceptance, each with its role and optional level overrides.';
create index invitation_projects_org_project_idx on app.invitation_projects (org_id, project_id);

-- Takes the columns, not the row: the API role may not read token_hash, so it can never
-- name a whole invitation row.
create function app.invitation_status(
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

-- Accepted, declined and revoked are final: nobody reopens, re-tokens or re-stamps a
-- closed invitation, whatever column grants the API role holds.
create function app.invitation_closed_is_final() returns trigger
language plpgsql as $$
begin
  -- (The foreign keys may still clear invited_by / accepted_by when those users go.)
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
comment on function app.invitation_closed_is_final() is 'BEFORE UPDATE on invitations: a closed invitation (accepted, declined, revoked) never changes again (RG409).';
create trigger invitations_closed_is_final before update on app.invitations
  for each row execute function app.invitation_closed_is_final();

alter table app.project_members     enable row level security;
alter table app.project_members     force row level security;
alter table app.invitations         enable row level security;
alter table app.invitations         force row level security;
alter table app.invitation_projects enable row level security;
alter table app.invitation_projects force row level security;

-- ---------------------------------------------------------------------------------------
-- Kernel helpers (SECURITY DEFINER, rowguard_kernel, search_path ''), about the caller only.
-- ---------------------------------------------------------------------------------------
grant usage on schema app, auth to rowguard_kernel;
grant create on schema app, auth to rowguard_kernel;
set local role rowguard_kernel;

create function app.my_project_permissions()
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
    -- Every project of the organization, raised by any explicit membership.
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
  'The projects of the current organization the caller may see, each with the caller''s effective role, finance and analytics level. Kernel of every project-scoped policy.';

create function app.my_project_ids(p_min_role app.project_role default 'VIEWER') returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.project_id from app.my_project_permissions() m where m.role >= p_min_role);
end
$$;
comment on function app.my_project_ids(app.project_role) is
  'Projects of the current organization where the caller acts with at least p_min_role. Policies: project_id = any ((select app.my_project_ids(''ADMIN''))) — computed once per statement.';

create function app.my_domain_project_ids(p_domain app.permission_domain, p_min_level app.domain_level) returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.project_id from app.my_project_permissions() m
                where case p_domain when 'finance' then m.finance else m.analytics end >= p_min_level);
end
$$;
comment on function app.my_domain_project_ids(app.permission_domain, app.domain_level) is
  'Projects of the current organization where the caller''s level in p_domain is at least p_min_level. For domain tables: project_id = any ((select app.my_domain_project_ids(''finance'', ''READ''))) — once per statement.';

create function app.within_my_project_permission(
  p_project_id uuid, p_role app.project_role, p_finance app.domain_level, p_analytics app.domain_level
) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return exists (
    select from app.my_project_permissions() m
     where m.project_id = p_project_id
       and p_role <= m.role
       and coalesce(p_finance, app.domain_default(p_role, 'finance')) <= m.finance
       and coalesce(p_analytics, app.domain_default(p_role, 'analytics')) <= m.analytics);
end
$$;
comment on function app.within_my_project_permission(uuid, app.project_role, app.domain_level, app.domain_level) is
  'No escalation: is a project grant (role, levels or role defaults) at most what the caller holds in that project? WITH CHECK of single-row grant writes only (project_members, invitation_projects).';

create function app.my_verified_email() returns text
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select pg_catalog.lower(u.email) from auth.users u
           where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
             and u.email_verified_at is not null);
end
$$;
comment on function app.my_verified_email() is
  'The caller''s email, lower-cased, once they proved it (email_verified_at); else NULL. Invitations addressed to it are theirs to read.';

create function app.my_invitation_organizations() returns table (org_id uuid, name text, slug text)
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
comment on function app.my_invitation_organizations() is
  'The organizations inviting the caller (pending invitations to their verified email): who is inviting them, before they belong.';

-- Last OWNER: an organization always keeps one, whoever asks and however (a demotion,
-- a removal, leaving). Serialized per organization, so two OWNERs demoting each other
-- at once cannot both win. Deleting the organization itself removes them all.
create function app.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.role <> 'OWNER' or (tg_op = 'UPDATE' and new.role = 'OWNER') then
    return null;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(old.org_id::text, 4));
  if exists (select from app.organizations o where o.id = old.org_id)
     and not exists (select from app.memberships m where m.org_id = old.org_id and m.role = 'OWNER') then
    raise exception 'an organization must keep at least one OWNER' using errcode = 'RG409', column = 'role',
      hint = 'Make another member OWNER first.';
  end if;
  return null;
end
$$;
comment on function app.keep_an_owner() is
  'AFTER UPDATE OF role / DELETE on memberships: refuses (RG409) to leave an existing organization without an OWNER.';
grant execute on function app.keep_an_owner() to rowguard_owner;

-- An invitation is a grant made in advance: it stands only while its inviter could still
-- make it. When the inviter leaves, or their org role drops below ADMIN or below the
-- invited role, their pending invitations lapse (stamped revoked). BEFORE the change, so
-- the foreign key has not yet cleared invited_by; a refused change rolls this back too.
create function app.lapse_invitations_of_inviter() returns trigger
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

-- The invitation a token opens for the caller, locked until the transaction ends (so it
-- is used once): RG404 when the token is unknown or the invitation is addressed to another
-- email (the same answer: the token says nothing to the wrong account), RG409 unless pending.
create function app.lock_my_pending_invitation(p_token_hash bytea) returns app.invitations
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
comment on function app.lock_my_pending_invitation(bytea) is
  'app.accept_invitation / app.decline_invitation: the pending invitation a token opens for the caller (email must match), locked.';

-- Accepting an invitation: the one place a user joins an organization other than founding it.
-- Its token proves the invitee receives mail at the address, so the address is verified.
create function app.accept_invitation(p_token_hash bytea) returns uuid
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
comment on function app.accept_invitation(bytea) is
  'POST /v1/invitations/accept: for the signed-in user whose email the invitation names, in one transaction: the org role (never lowering one held), every project grant, accepted, email verified.';

create function app.decline_invitation(p_token_hash bytea) returns void
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
revoke create on schema app, auth from rowguard_kernel;

create trigger memberships_keep_an_owner after update of role or delete on app.memberships
  for each row execute function app.keep_an_owner();
create trigger memberships_lapse_invitations before update of role or delete on app.memberships
  for each row execute function app.lapse_invitations_of_inviter();

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger memberships_keep_an_owner on app.memberships;
drop trigger memberships_lapse_invitations on app.memberships;
-- cascade: the policies/ package's policies that call these helpers go with them.
drop function app.accept_invitation(bytea) cascade;
drop function app.decline_invitation(bytea) cascade;
drop function app.lock_my_pending_invitation(bytea);
drop function app.keep_an_owner() cascade;
drop function app.lapse_invitations_of_inviter();
drop function app.my_invitation_organizations();
drop function app.my_verified_email() cascade;
drop function app.within_my_project_permission(uuid, app.project_role, app.domain_level, app.domain_level) cascade;
drop function app.my_domain_project_ids(app.permission_domain, app.domain_level) cascade;
drop function app.my_project_ids(app.project_role) cascade;
drop function app.my_project_permissions() cascade;
drop table app.invitation_projects;
drop function app.invitation_status(timestamptz, timestamptz, timestamptz, timestamptz);
drop table app.invitations;
drop function app.invitation_closed_is_final();
drop table app.project_members;
drop function app.effective_level(app.org_role, app.project_role, app.domain_level, app.permission_domain);
drop function app.effective_role(app.org_role, app.project_role);
drop function app.org_role_as_project_role(app.org_role);
drop function app.domain_default(app.project_role, app.permission_domain);
drop function app.project_role_matrix();
alter table auth.users drop column if exists email_verified_at;
drop type app.permission_domain;
drop type app.domain_level;
drop type app.project_role;
reset role;
