-- Identity (auth), tenancy (app) and the session helpers every policy calls.
-- Tables here are created ENABLE + FORCE ROW LEVEL SECURITY at birth: a table is never
-- readable before its policies exist. Policies and grants live in policies/.
set local role rowguard_owner;

create schema auth;
comment on schema auth is 'Identity: users and their sessions. Not tenant data: a user belongs to many organizations.';
create schema app;
comment on schema app is 'Tenant data (every table carries org_id) and the helpers policies call. Never called over HTTP.';

-- ---------------------------------------------------------------------------------------
-- Helpers with no privilege of their own.
-- ---------------------------------------------------------------------------------------

-- UUIDv7 (RFC 9562): time-ordered ids keep keyset pages and B-tree inserts cheap.
create function app.uuid_v7() returns uuid
language sql volatile parallel safe as $$
  select encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
              from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
comment on function app.uuid_v7() is 'A random UUID whose first 48 bits are the Unix time in milliseconds (RFC 9562 version 7).';

-- ---------------------------------------------------------------------------------------
-- Types
-- ---------------------------------------------------------------------------------------
-- Declared lowest first, so `role >= 'ADMIN'` reads as "ADMIN or more".
create type app.org_role as enum ('MEMBER', 'ADMIN', 'OWNER');
comment on type app.org_role is 'A user''s role in one organization, ordered: MEMBER < ADMIN < OWNER.';

create type auth.user_status as enum ('active', 'disabled');

-- ---------------------------------------------------------------------------------------
-- Identity
-- ---------------------------------------------------------------------------------------
create table auth.users (
  id            uuid primary key default app.uuid_v7(),
  email         text not null
                constraint users_email_check
                check (length(email) <= 254 and email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  password_hash text not null,
  status        auth.user_status not null default 'active',
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
comment on table auth.users is 'Every person who can sign in. Global, not tenant data: visible to oneself and to fellow members of the current organization.';
comment on column auth.users.password_hash is 'argon2id in PHC string format, computed by the API; never granted to rowguard_api for SELECT.';
create unique index users_email_key on auth.users (lower(email));

create table auth.sessions (
  -- Random, not time-ordered: a session id is a bearer secret's companion, not a page key.
  id           uuid primary key default gen_random_uuid(),
  user_id      uuid not null references auth.users (id) on delete cascade,
  user_agent   text constraint sessions_user_agent_check check (length(user_agent) <= 512),
  ip           inet,
  created_at   timestamptz not null default now(),
  last_used_at timestamptz not null default now(),
  revoked_at   timestamptz
);
comment on table auth.sessions is 'One row per sign-in. Every access token names its session (sid); auth.begin_request refuses tokens of revoked sessions.';
create index sessions_user_id_idx on auth.sessions (user_id);

-- ---------------------------------------------------------------------------------------
-- Tenancy
-- ---------------------------------------------------------------------------------------
create table app.organizations (
  id         uuid primary key default app.uuid_v7(),
  name       text not null
             constraint organizations_name_check check (length(btrim(name)) between 1 and 200),
  slug       text not null
             constraint organizations_slug_check check (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table app.organizations is 'The tenants. An organization''s id is the org_id every tenant row carries.';
create unique index organizations_slug_key on app.organizations (slug);

create table app.memberships (
  org_id     uuid not null references app.organizations (id) on delete cascade,
  user_id    uuid not null references auth.users (id) on delete cascade,
  role       app.org_role not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, user_id)
);
comment on table app.memberships is 'Who belongs to which organization, with which role. The source of every role check.';
-- "Which organizations am I in?" (app.my_org_ids) reads this index only.
create index memberships_user_id_idx on app.memberships (user_id) include (org_id, role);

create table app.projects (
  org_id      uuid not null references app.organizations (id) on delete cascade,
  id          uuid not null default app.uuid_v7() primary key,
  name        text not null
              constraint projects_name_check check (length(btrim(name)) between 1 and 200),
  description text
              constraint projects_description_check check (length(description) <= 4000),
  created_by  uuid,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  -- Children reference (org_id, id), so a child can never point into another tenant.
  constraint projects_org_id_id_key unique (org_id, id),
  -- The creator was a member of this very organization; when they leave, keep the project.
  constraint projects_created_by_fkey foreign key (org_id, created_by)
    references app.memberships (org_id, user_id) on delete set null (created_by)
);
comment on table app.projects is 'The protected business entity of an organization. Every member reads; OWNER and ADMIN write.';
create unique index projects_org_id_name_key on app.projects (org_id, lower(name));

-- The kernel's SECURITY DEFINER helpers (sql/kernel) run as rowguard_kernel.
grant usage on schema app, auth to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop schema app cascade;
drop schema auth cascade;
reset role;
