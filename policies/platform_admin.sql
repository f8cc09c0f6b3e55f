-- Platform administration: the only policies that cross tenants. Each names the check
-- (select app.is_platform_admin()) — an active user whose auth.users.is_platform_admin
-- was set by `rowguard admin grant EMAIL` — so `grep is_platform_admin policies/` lists
-- everything an operator can reach:
--
--   app.organizations     read every tenant (name, slug, dates)
--   app.subscriptions     read every tenant's plan and standing; change plan, suspend, unsuspend
--   platform.admin_audit  read the log; append their own actions
--   usage counts          through app.plan_usage (kernel; members or admins only)
--
-- Nothing else. An admin who is not a member reads no project, service, booking,
-- membership or user of a tenant (tests/pgtap/62_platform_admin.sql proves it).

-- ----- tenants ------------------------------------------------------------------------------
create policy organizations_select_platform_admin on app.organizations for select to rowguard_api
  using ((select app.is_platform_admin()));
comment on policy organizations_select_platform_admin on app.organizations is
  'Platform admins read every organization (GET /v1/admin/tenants). Not their data: no other tenant table has an admin policy but subscriptions.';

grant update (plan_code, plan_changed_at, suspended_at, suspended_reason) on app.subscriptions to rowguard_api;
create policy subscriptions_select_platform_admin on app.subscriptions for select to rowguard_api
  using ((select app.is_platform_admin()));
comment on policy subscriptions_select_platform_admin on app.subscriptions is
  'Platform admins read every organization''s plan and suspension.';
create policy subscriptions_update_platform_admin on app.subscriptions for update to rowguard_api
  using ((select app.is_platform_admin()))
  with check ((select app.is_platform_admin()));
comment on policy subscriptions_update_platform_admin on app.subscriptions is
  'Platform admins change a tenant''s plan and suspend or unsuspend it (the column grant: plan and suspension only). Tenants have no update policy here at all.';

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
grant update (is_platform_admin) on auth.users to rowguard_kernel;
-- The update itself: users_update_kernel_outside_request (identity.sql).
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
