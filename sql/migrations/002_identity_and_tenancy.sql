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

-- Who is asking. auth.begin_request sets both with set_config(..., true) (transaction-local).
-- After such a setting's transaction ends the backend reads '' rather than NULL: nullif.
-- Policies call them as (select app.current_user_id()) so the planner runs them once.
create function app.current_user_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.user_id', true), '')::uuid
$$;
comment on function app.current_user_id() is 'The user of the current request (app.user_id), or NULL outside a request.';

create function app.current_org_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.org_id', true), '')::uuid
$$;
comment on function app.current_org_id() is 'The organization the current request acts in (app.org_id, from the URL path), or NULL.';

create function app.touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;
comment on function app.touch_updated_at() is 'BEFORE UPDATE trigger: updated_at is the time of the last change, whatever the client sent.';

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
create trigger users_touch_updated_at before update on auth.users
  for each row execute function app.touch_updated_at();

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
create trigger organizations_touch_updated_at before update on app.organizations
  for each row execute function app.touch_updated_at();

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
create trigger memberships_touch_updated_at before update on app.memberships
  for each row execute function app.touch_updated_at();

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
create trigger projects_touch_updated_at before update on app.projects
  for each row execute function app.touch_updated_at();

alter table auth.users          enable row level security;
alter table auth.users          force row level security;
alter table auth.sessions       enable row level security;
alter table auth.sessions       force row level security;
alter table app.organizations   enable row level security;
alter table app.organizations   force row level security;
alter table app.memberships     enable row level security;
alter table app.memberships     force row level security;
alter table app.projects        enable row level security;
alter table app.projects        force row level security;

-- ---------------------------------------------------------------------------------------
-- Kernel helpers: SECURITY DEFINER, owned by rowguard_kernel, search_path ''.
-- plpgsql on purpose: a SQL-language SECURITY DEFINER function is never inlined and is
-- re-planned on every call; plpgsql caches its plan after the first.
-- They take no user or org argument: they answer only about the caller (app.user_id),
-- so calling one directly reveals nothing the caller may not know.
-- ---------------------------------------------------------------------------------------
grant usage on schema app, auth to rowguard_kernel;
grant create on schema app, auth to rowguard_kernel;
set local role rowguard_kernel;

create function app.current_org_role() returns app.org_role
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select m.role
            from app.memberships m
           where m.org_id = nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid
             and m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid);
end
$$;
comment on function app.current_org_role() is 'The caller''s role in the current organization, or NULL when not a member. Policies: (select app.current_org_role()).';

create function app.my_org_ids() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.org_id
                 from app.memberships m
                where m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid);
end
$$;
comment on function app.my_org_ids() is 'Every organization the caller belongs to. Policies: org_id = any ((select app.my_org_ids())::uuid[]).';

create function app.add_creator_as_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into app.memberships (org_id, user_id, role)
  values (new.id, nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid, 'OWNER');
  return null;
end
$$;
comment on function app.add_creator_as_owner() is 'AFTER INSERT on organizations: whoever creates an organization becomes its first OWNER, in the same transaction.';
-- CREATE TRIGGER checks that the table owner may execute the function.
grant execute on function app.add_creator_as_owner() to rowguard_owner;

create function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_last_used_at timestamptz;
begin
  select s.last_used_at into v_last_used_at
    from auth.sessions s
    join auth.users u on u.id = s.user_id
   where s.id = p_session_id
     and s.user_id = p_user_id
     and s.revoked_at is null
     and u.status = 'active';
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401',
      hint = 'Sign in again.';
  end if;
  -- Touch the session at most once a minute: not a write on every request. Requests
  -- of one session arrive together (a page's parallel calls); the first to lock the row
  -- touches it, the others skip it rather than queue behind that lock.
  if v_last_used_at < pg_catalog.now() - interval '1 minute' then
    update auth.sessions set last_used_at = pg_catalog.now()
     where id = (select s.id from auth.sessions s
                  where s.id = p_session_id
                    and s.last_used_at < pg_catalog.now() - interval '1 minute'
                    for update skip locked);
  end if;

  perform pg_catalog.set_config('app.user_id', p_user_id::text, true);
  if p_org_id is null then
    perform pg_catalog.set_config('app.org_id', '', true);
    return;
  end if;
  -- Another tenant's id and a non-existent id answer the same: never a hint it exists.
  if not exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id) then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  perform pg_catalog.set_config('app.org_id', p_org_id::text, true);
end
$$;
comment on function auth.begin_request(uuid, uuid, uuid) is
  'First statement of every authenticated request: checks the session is live and the user active, checks membership of the organization in the path, and sets app.user_id / app.org_id transaction-locally.';

create function auth.credentials_for(p_email text)
returns table (user_id uuid, password_hash text, status text)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select u.id, u.password_hash, u.status::text
      from auth.users u
     where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email));
end
$$;
comment on function auth.credentials_for(text) is 'Login only: the password hash for an email, before anyone is signed in. The API verifies it (argon2id) and then calls api.create_session.';

set local role rowguard_owner;
revoke create on schema app, auth from rowguard_kernel;

create trigger organizations_add_creator_as_owner after insert on app.organizations
  for each row execute function app.add_creator_as_owner();

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop schema app cascade;
drop schema auth cascade;
reset role;
