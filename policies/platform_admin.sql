-- Platform administration: the only policies that cross tenants. Each names the check
-- (select app.is_platform_admin()) — an active user whose auth.users.is_platform_admin
-- was set by `rowguard admin grant EMAIL` — so `grep is_platform_admin policies/` lists
-- everything an operator can reach (each table's rules stay in that table's file, so a
-- reviewer reading one file sees every way into the table):
--
--   app.organizations     read every tenant (name, slug, dates): tenancy.sql
--   app.subscriptions     read every tenant's plan and standing; change plan, suspend,
--                         unsuspend: billing.sql
--   auth.users            `rowguard admin grant|revoke` sets is_platform_admin: identity.sql
--   platform.admin_audit  read the log; append their own actions (here)
--   usage counts          through app.plan_usage (kernel; members or admins only)
--
-- Nothing else. An admin who is not a member reads no project, service, booking,
-- membership or user of a tenant (tests/pgtap/62_platform_admin.sql proves it).

alter table platform.admin_audit enable row level security;
alter table platform.admin_audit force row level security;

-- ----- the audit log ------------------------------------------------------------------------
grant select, insert (actor_user_id, actor, action, org_id, details) on platform.admin_audit to rowguard_api;
create policy admin_audit_select_platform_admin on platform.admin_audit for select to rowguard_api
  using ((select app.is_platform_admin()));
comment on policy admin_audit_select_platform_admin on platform.admin_audit is
  'Platform admins read the audit log (GET /v1/admin/audit). Tenants never see it.';
create policy admin_audit_insert_platform_admin on platform.admin_audit for insert to rowguard_api
  with check ((select app.is_platform_admin()) and actor_user_id = (select app.current_user_id()));
comment on policy admin_audit_insert_platform_admin on platform.admin_audit is
  'A platform admin''s request records its own action, in its own name. Nobody updates or deletes (no grant, and a trigger refuses).';

-- ----- rowguard admin grant|revoke (kernel, run by the migration role) ----------------------
grant insert on platform.admin_audit to rowguard_kernel;
grant execute on function app.uuid_v7() to rowguard_kernel; -- the audit row's id
create policy admin_audit_insert_kernel on platform.admin_audit for insert to rowguard_kernel
  with check (actor = 'command line' and actor_user_id is null);
comment on policy admin_audit_insert_kernel on platform.admin_audit is
  'auth.set_platform_admin and auth.set_user_status record each grant, revoke, disable and enable as a command-line action.';

-- ----- the API functions of this domain -------------------------------------------------
grant execute on function
  api.tenant_json(app.organizations, app.subscriptions),
  api.admin_audit_json(platform.admin_audit),
  api.require_platform_admin(),
  api.record_admin_action(text, uuid, jsonb),
  api.admin_list_tenants(int, uuid, boolean),
  api.admin_get_tenant(uuid),
  api.admin_set_plan(uuid, text),
  api.admin_set_suspended(uuid, boolean, text),
  api.admin_list_audit(int, uuid, uuid)
to rowguard_api;
