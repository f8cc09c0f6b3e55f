-- tern code package: the security kernel. Every function outside the api schema that
-- decides who is asking and what they may touch, and every trigger, defined once here
-- with CREATE OR REPLACE. Installed after the migrations and before sql/api and policies/:
--
--   migrations (tables, types, constraints, data) -> sql/kernel -> sql/api -> policies
--
-- Re-installable: running it again changes nothing. It never drops a function (a table's
-- default or a policy may depend on it), so:
--   * a body change is a change here, nothing else;
--   * a signature change (arguments, return type, an argument's name) or a removal needs
--     a migration that drops the old function first (`drop function if exists …`);
--     this package then creates the new one;
--   * the four functions a table needs to exist (app.uuid_v7 in a default,
--     app.is_iso_currency and app.tags_valid in CHECKs, app.finance_tag_keys in an
--     index) are schema, not kernel: they stay in their migrations.
--
-- Owners: the SECURITY DEFINER helpers belong to rowguard_kernel, a role with only the
-- grants and policies written for it in policies/ (it cannot bypass RLS); everything else
-- to rowguard_owner, which owns the tables. Each file switches role around the functions
-- rowguard_kernel owns, so CREATE OR REPLACE runs as the owner on an upgraded database
-- and makes the same owner on an empty one. EXECUTE for rowguard_api is granted in
-- policies/ (installed last, after it revokes everything); the grants to rowguard_owner
-- written here let it fire the kernel's triggers.
--
-- Files, in install order:
--   request.sql           who is asking: auth.begin_request and the current_* accessors
--   role_matrix.sql       project roles x permission domains, the caller's effective levels
--   generic_triggers.sql  updated_at
--   audit.sql             the audit trigger and the append-only guards
--   organizations.sql     creator becomes OWNER, an organization keeps an OWNER, soft delete
--   platform_admin.sql    platform operators, disabling users
--   bookings.sql          the booking state machine and slot checks
--   billing.sql           subscriptions, plan limits, usage, payment events
--   invitations.sql       invitation lifecycle and the authority to grant
--   email_outbox.sql      the outbox the mailer drains
--   sessions.sql          sessions and the refresh-token chain
--   rate_limits.sql       rate limits and sign-in failure counting
--   sign_in.sql           credentials, sign-in codes, sign-up, password reset, OIDC
--   step_up.sql           fresh proof before destructive acts
--   account_deletion.sql  a user erases their account (DELETE /v1/auth/me)
--   finance.sql           record versions and the daily and monthly totals rollups
--   finance_tags.sql      the per-tag rollup and the one audit entry of a tag operation
grant create on schema auth, app, platform to rowguard_kernel;
set local role rowguard_owner;

{{ template "request.sql" . }}
{{ template "role_matrix.sql" . }}
{{ template "generic_triggers.sql" . }}
{{ template "audit.sql" . }}
{{ template "organizations.sql" . }}
{{ template "platform_admin.sql" . }}
{{ template "bookings.sql" . }}
{{ template "billing.sql" . }}
{{ template "invitations.sql" . }}
{{ template "email_outbox.sql" . }}
{{ template "sessions.sql" . }}
{{ template "rate_limits.sql" . }}
{{ template "sign_in.sql" . }}
{{ template "step_up.sql" . }}
{{ template "account_deletion.sql" . }}
{{ template "finance.sql" . }}
{{ template "finance_tags.sql" . }}

reset role;
revoke create on schema auth, app, platform from rowguard_kernel;
