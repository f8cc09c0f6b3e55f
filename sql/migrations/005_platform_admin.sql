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

reset role;

---- create above / drop below ----

set local role rowguard_owner;
-- policies/platform_admin.sql put admin policies on tables that stay.
drop policy if exists organizations_select_platform_admin on app.organizations;
drop policy if exists users_update_kernel on auth.users;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;
drop function if exists auth.set_platform_admin(text, boolean);
set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
drop table platform.admin_audit;
drop function if exists platform.refuse_audit_change();
reset role;
