-- Platform administration: operators (auth.users.is_platform_admin, migration 004) list
-- tenants with their usage, change a tenant's plan, suspend and unsuspend it. This is
-- the one place where crossing tenants is legitimate, so it is narrow and written down:
--   * what an admin may read or change is a set of explicit policies naming
--     app.is_platform_admin() (policies/platform_admin.sql) — no tenant business data;
--   * every admin action is a row in platform.admin_audit, which nobody can change;
--   * a suspended organization's members are refused by auth.begin_request (RGS03).
set local role rowguard_owner;

create table platform.admin_audit (
  id            uuid primary key default app.uuid_v7(),
  at            timestamptz not null default now(),
  actor_user_id uuid references auth.users (id) on delete set null,
  actor         text not null,
  action        text not null,
  -- No foreign key: the record of what was done to a tenant outlives the tenant.
  org_id        uuid,
  details       jsonb not null default '{}'
);
comment on table platform.admin_audit is 'Every platform-admin action (HTTP or command line), append-only: no UPDATE, DELETE or TRUNCATE succeeds, whoever asks.';
comment on column platform.admin_audit.actor is 'Who acted: the admin''s email at the time, or "command line" for `rowguard admin`.';
create index admin_audit_org_id_idx on platform.admin_audit (org_id, id);

create function platform.refuse_audit_change() returns trigger
language plpgsql as $$
begin
  raise exception 'platform.admin_audit is append-only' using errcode = 'RG403';
end
$$;
comment on function platform.refuse_audit_change() is 'BEFORE UPDATE/DELETE/TRUNCATE on admin_audit: refuses, even for the owner and superusers (short of disabling the trigger, itself a DDL trace).';
create trigger admin_audit_append_only before update or delete on platform.admin_audit
  for each row execute function platform.refuse_audit_change();
create trigger admin_audit_no_truncate before truncate on platform.admin_audit
  for each statement execute function platform.refuse_audit_change();

alter table platform.admin_audit enable row level security;
alter table platform.admin_audit force row level security;

grant create on schema auth, platform to rowguard_kernel;
set local role rowguard_kernel;

-- `rowguard admin grant|revoke EMAIL`: the only way to make or unmake a platform admin.
-- Executable by rowguard_owner (the migration role the command line uses), never by the API.
create function auth.set_platform_admin(p_email text, p_admin boolean) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid;
begin
  update auth.users u set is_platform_admin = p_admin
   where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email))
  returning u.id into v_user;
  if v_user is null then
    raise exception 'no user has the email %', p_email using errcode = 'RG404';
  end if;
  insert into platform.admin_audit (actor_user_id, actor, action, details)
  values (null, 'command line', case when p_admin then 'admin.grant' else 'admin.revoke' end,
          pg_catalog.jsonb_build_object('user_id', v_user, 'email', p_email));
  return v_user;
end
$$;
comment on function auth.set_platform_admin(text, boolean) is 'rowguard admin grant|revoke EMAIL: sets auth.users.is_platform_admin and writes the audit row. Not granted to the API role.';
grant execute on function auth.set_platform_admin(text, boolean) to rowguard_owner;

-- Redefined from migration 002 (signature unchanged). Added: after the membership check,
-- a suspended organization refuses the request with RGS03 (403 organization-suspended).
-- Non-members still get RG404 first, so suspension leaks nothing to strangers.
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
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
  -- A platform admin suspended this organization: nothing in it answers its members.
  if exists (select from app.subscriptions s where s.org_id = p_org_id and s.suspended_at is not null) then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  perform pg_catalog.set_config('app.org_id', p_org_id::text, true);
end
$$;

set local role rowguard_owner;
revoke create on schema auth, platform from rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
-- policies/platform_admin.sql put admin policies on tables that stay.
drop policy if exists organizations_select_platform_admin on app.organizations;
drop policy if exists users_update_kernel on auth.users;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;
-- Back to migration 002's begin_request: no suspension check.
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
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
  if not exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id) then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  perform pg_catalog.set_config('app.org_id', p_org_id::text, true);
end
$$;
drop function auth.set_platform_admin(text, boolean);
set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
drop table platform.admin_audit;
drop function platform.refuse_audit_change();
reset role;
