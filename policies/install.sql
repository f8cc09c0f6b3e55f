-- tern code package: per table, ENABLE + FORCE ROW LEVEL SECURITY, every policy and every
-- GRANT, one file per domain (a table's rules never span two files:
-- tests/pgtap/policy_files_test.go). Install after sql/kernel and sql/api (it names and
-- grants on their functions). The migrations create tables without RLS; nothing can
-- reach them before this package runs, in the same `rowguard migrate`.
--
-- Re-installable: it first drops every policy in the rowguard schemas and every
-- privilege of rowguard_api and PUBLIC, so this package is the whole truth about who
-- may do what. A privilege or policy that is not written here does not exist.
--
-- Conventions a DBA can rely on:
--   * policies are per command and `TO rowguard_api` (or `TO rowguard_kernel` for the
--     SECURITY DEFINER helpers), named <table>_<command>[_<who>], each with a COMMENT;
--   * "the caller" is (select app.current_user_id()); "the current organization" is
--     (select app.current_org_id()); the caller's role there is (select app.current_org_role()).
--     Wrapped in (select …) so each runs once per statement, not once per row;
--   * membership is never checked by passing a row's org_id into a function: rows are
--     compared to the current organization, and membership is checked once.

do $$
declare
  p record;
begin
  for p in select schemaname, tablename, policyname
             from pg_catalog.pg_policies
            where schemaname in ('auth', 'app', 'platform')
  loop
    execute format('drop policy %I on %I.%I', p.policyname, p.schemaname, p.tablename);
  end loop;
end
$$;

revoke all on all tables in schema auth, app, platform from rowguard_api, rowguard_kernel, public;
revoke all on all sequences in schema auth, app, platform from rowguard_api, public;
revoke all on all functions in schema auth, app, api, platform from rowguard_api, public;
revoke all on schema auth, app, api, platform from rowguard_api, public;

grant usage on schema auth, app, api to rowguard_api;
grant usage on schema auth, app to rowguard_kernel;

{{ template "session.sql" . }}
{{ template "identity.sql" . }}
{{ template "auth_sessions.sql" . }}
{{ template "tenancy.sql" . }}
{{ template "projects.sql" . }}
{{ template "audit.sql" . }}
{{ template "bookings.sql" . }}
{{ template "billing.sql" . }}
{{ template "platform_admin.sql" . }}
{{ template "project_members.sql" . }}
{{ template "invitations.sql" . }}
{{ template "email_outbox.sql" . }}
{{ template "sign_in.sql" . }}
{{ template "finance.sql" . }}
{{ template "finance_tags.sql" . }}
