-- Billing: the plan catalogue, subscriptions, checkout sessions, usage limits.
--
--   platform.plans, limit_kinds, plan_limits   read: every signed-in user (a price list)
--   app.subscriptions                          read: every member of the organization;
--                                              written only by the kernel (webhook) and
--                                              platform admins (policies/platform_admin.sql)
--   app.checkout_sessions                      OWNER only: start, read, attach the provider's URL
--   platform.webhook_events                    kernel only (app.apply_payment_event)
-- Limits are not a policy: trigger app.enforce_plan_limit refuses the row (RG402).

grant usage on schema platform to rowguard_api, rowguard_kernel;

alter table platform.plans enable row level security;
alter table platform.plans force row level security;

-- ----- the catalogue --------------------------------------------------------------------
grant select on platform.plans, platform.limit_kinds, platform.plan_limits to rowguard_api, rowguard_kernel;

create policy plans_select on platform.plans for select to rowguard_api
  using ((select app.current_user_id()) is not null);
comment on policy plans_select on platform.plans is 'The price list: every signed-in user reads it.';
alter table platform.limit_kinds enable row level security;
alter table platform.limit_kinds force row level security;

create policy limit_kinds_select on platform.limit_kinds for select to rowguard_api
  using ((select app.current_user_id()) is not null);
comment on policy limit_kinds_select on platform.limit_kinds is 'What plans limit: every signed-in user reads it.';
alter table platform.plan_limits enable row level security;
alter table platform.plan_limits force row level security;

create policy plan_limits_select on platform.plan_limits for select to rowguard_api
  using ((select app.current_user_id()) is not null);
comment on policy plan_limits_select on platform.plan_limits is 'Each plan''s limits: every signed-in user reads them.';

create policy plans_select_kernel on platform.plans for select to rowguard_kernel using (true);
comment on policy plans_select_kernel on platform.plans is 'Kernel helpers read the catalogue (limits, checkout, webhook).';
create policy limit_kinds_select_kernel on platform.limit_kinds for select to rowguard_kernel using (true);
comment on policy limit_kinds_select_kernel on platform.limit_kinds is 'app.enforce_plan_limit and app.plan_usage read what each kind counts.';
create policy plan_limits_select_kernel on platform.plan_limits for select to rowguard_kernel using (true);
comment on policy plan_limits_select_kernel on platform.plan_limits is 'app.enforce_plan_limit and app.plan_usage read the limits.';

-- ----- app.subscriptions ----------------------------------------------------------------
alter table app.subscriptions enable row level security;
alter table app.subscriptions force row level security;
grant select on app.subscriptions to rowguard_api;
create policy subscriptions_select on app.subscriptions for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) is not null);
comment on policy subscriptions_select on app.subscriptions is
  'Every member of the current organization sees its plan and standing. No tenant writes it: a plan changes through checkout + the provider''s signed webhook.';

grant select, insert (org_id, plan_code), update (plan_code, provider_customer_id, provider_subscription_id, plan_changed_at)
   on app.subscriptions to rowguard_kernel;
create policy subscriptions_select_kernel on app.subscriptions for select to rowguard_kernel using (true);
comment on policy subscriptions_select_kernel on app.subscriptions is
  'app.enforce_plan_limit reads an organization''s plan; auth.begin_request reads whether it is suspended; the webhook finds the row it changes.';
create policy subscriptions_insert_kernel on app.subscriptions for insert to rowguard_kernel
  with check (plan_code = 'free');
comment on policy subscriptions_insert_kernel on app.subscriptions is
  'Trigger app.add_free_subscription: a new organization starts on the free plan, and nothing else.';
create policy subscriptions_update_kernel on app.subscriptions for update to rowguard_kernel
  using (true) with check (true);
comment on policy subscriptions_update_kernel on app.subscriptions is
  'app.apply_payment_event: a verified provider event changes the plan (the column grant allows the plan and provider ids only, never suspension).';

-- Platform admins (platform_admin.sql lists every cross-tenant rule).
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

-- ----- app.checkout_sessions ------------------------------------------------------------
alter table app.checkout_sessions enable row level security;
alter table app.checkout_sessions force row level security;
grant select, insert (org_id, plan_code, created_by), update (provider_session_id, url)
   on app.checkout_sessions to rowguard_api;
create policy checkout_sessions_select on app.checkout_sessions for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) = 'OWNER');
comment on policy checkout_sessions_select on app.checkout_sessions is
  'Only an OWNER of the current organization sees its checkout sessions.';
create policy checkout_sessions_insert on app.checkout_sessions for insert to rowguard_api
  with check (org_id = (select app.current_org_id()) and (select app.current_org_role()) = 'OWNER'
              and created_by = (select app.current_user_id()) and status = 'open');
comment on policy checkout_sessions_insert on app.checkout_sessions is
  'Only an OWNER starts a checkout (buys a plan), for the current organization, as themselves.';
create policy checkout_sessions_update on app.checkout_sessions for update to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) = 'OWNER' and status = 'open')
  with check (org_id = (select app.current_org_id()) and status = 'open');
comment on policy checkout_sessions_update on app.checkout_sessions is
  'The OWNER''s request records the provider''s session id and URL on its open checkout (column grant: nothing else).';

grant select, update (status, completed_at) on app.checkout_sessions to rowguard_kernel;
create policy checkout_sessions_select_kernel on app.checkout_sessions for select to rowguard_kernel using (true);
comment on policy checkout_sessions_select_kernel on app.checkout_sessions is
  'app.apply_payment_event finds the checkout a verified provider event refers to.';
create policy checkout_sessions_update_kernel on app.checkout_sessions for update to rowguard_kernel
  using (status = 'open') with check (status = 'completed');
comment on policy checkout_sessions_update_kernel on app.checkout_sessions is
  'app.apply_payment_event completes an open checkout, once.';

-- ----- platform.webhook_events ------------------------------------------------------------
alter table platform.webhook_events enable row level security;
alter table platform.webhook_events force row level security;
grant select, insert, update (outcome, org_id) on platform.webhook_events to rowguard_kernel;
create policy webhook_events_select_kernel on platform.webhook_events for select to rowguard_kernel using (true);
comment on policy webhook_events_select_kernel on platform.webhook_events is
  'app.apply_payment_event: has this event id been processed?';
create policy webhook_events_insert_kernel on platform.webhook_events for insert to rowguard_kernel with check (true);
comment on policy webhook_events_insert_kernel on platform.webhook_events is
  'app.apply_payment_event records each event id before acting on it (the primary key makes it once).';
create policy webhook_events_update_kernel on platform.webhook_events for update to rowguard_kernel using (true) with check (true);
comment on policy webhook_events_update_kernel on platform.webhook_events is
  'app.apply_payment_event records what the event did (column grant: outcome and org_id).';

-- ----- rows the plan limits count -------------------------------------------------------
-- app.projects: projects_select_kernel in projects.sql covers app.count_usage too.

grant execute on function app.billing_period_start() to rowguard_api, rowguard_kernel;

-- ----- the API functions of this domain -------------------------------------------------
grant execute on function
  api.plan_json(platform.plans),
  api.get_billing(),
  api.list_plans(),
  api.checkout_json(app.checkout_sessions),
  api.require_checkout_role(),
  api.start_checkout(text),
  api.attach_checkout(uuid, text, text),
  api.payment_webhook(text, text, uuid, text, text)
to rowguard_api;
grant execute on function app.plan_usage(uuid), app.is_platform_admin() to rowguard_api;
-- The webhook has no user: the HTTP layer verifies the provider's HMAC signature and only
-- then calls this. A DBA should read it as "whoever holds the API role's connection may
-- report a payment", the same trust as auth.credentials_for.
grant execute on function app.apply_payment_event(text, text, uuid, text, text) to rowguard_api;
