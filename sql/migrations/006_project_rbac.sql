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

-- The kernel's helpers (sql/kernel) run as rowguard_kernel.
grant usage on schema app, auth to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists memberships_keep_an_owner on app.memberships;
drop trigger if exists memberships_lapse_invitations on app.memberships;
-- cascade: the policies/ package's policies that call these helpers go with them.
drop function if exists app.accept_invitation(bytea) cascade;
drop function if exists app.decline_invitation(bytea) cascade;
drop function if exists app.lock_my_pending_invitation(bytea);
drop function if exists app.keep_an_owner() cascade;
drop function if exists app.lapse_invitations_of_inviter();
drop function if exists app.my_invitation_organizations();
drop function if exists app.my_verified_email() cascade;
drop function if exists app.within_my_project_permission(uuid, app.project_role, app.domain_level, app.domain_level) cascade;
drop function if exists app.my_domain_project_ids(app.permission_domain, app.domain_level) cascade;
drop function if exists app.my_project_ids(app.project_role) cascade;
drop function if exists app.my_project_permissions() cascade;
drop table app.invitation_projects;
drop function if exists app.invitation_status(timestamptz, timestamptz, timestamptz, timestamptz);
drop table app.invitations;
drop function if exists app.invitation_closed_is_final();
drop table app.project_members;
drop function if exists app.effective_level(app.org_role, app.project_role, app.domain_level, app.permission_domain);
drop function if exists app.effective_role(app.org_role, app.project_role);
drop function if exists app.org_role_as_project_role(app.org_role);
drop function if exists app.domain_default(app.project_role, app.permission_domain);
drop function if exists app.project_role_matrix();
alter table auth.users drop column if exists email_verified_at;
drop type app.permission_domain;
drop type app.domain_level;
drop type app.project_role;
reset role;
