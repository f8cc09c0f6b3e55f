-- tern code package: the SQL functions the HTTP layer calls, one file per resource.
-- Dropped and recreated on every install; policies/ (installed after this package)
-- grants EXECUTE on them. Every function is SECURITY INVOKER: it runs as the API role,
-- under row-level security. Role rules are not written here; they are the policies.
-- A function only turns "RLS hid or refused the row" into the right error code.
--
-- Error codes raised here (mapped once by the HTTP layer):
--   RG401 unauthenticated   RG403 forbidden   RG404 not found
--   RG409 conflict          RG422 invalid input (COLUMN names the field)
--   RG402 plan limit reached (COLUMN names the limit kind)
--   RGS03 the organization is suspended (403, its own problem type)
--   RGV03 the caller's email is not verified (403, email-unverified)
--   RGL09 an invitation whose inviter no longer holds what it grants (409, invitation-lapsed)
--   RG429 too many requests (DETAIL: seconds to wait → Retry-After; auth.enforce_rate_limit)
--   RG412 a stale If-Match (precondition failed)
drop schema if exists api cascade;
set local role rowguard_owner;
create schema api;
comment on schema api is 'The functions the HTTP layer calls. SECURITY INVOKER: everything here runs under the caller''s policies.';

{{ template "errors.sql" . }}
{{ template "json.sql" . }}
{{ template "identity.sql" . }}
{{ template "account.sql" . }}
{{ template "sessions.sql" . }}
{{ template "organizations.sql" . }}
{{ template "projects.sql" . }}
{{ template "audit.sql" . }}
{{ template "services.sql" . }}
{{ template "bookings.sql" . }}
{{ template "billing.sql" . }}
{{ template "platform_admin.sql" . }}
{{ template "members.sql" . }}
{{ template "project_members.sql" . }}
{{ template "invitations.sql" . }}
{{ template "finance.sql" . }}
{{ template "finance_tags.sql" . }}
{{ template "finance_export.sql" . }}
{{ template "org_export.sql" . }}
{{ template "analytics.sql" . }}
{{ template "exchange_rates.sql" . }}

reset role;
