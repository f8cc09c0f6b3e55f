-- Audit trail: one append-only table, written by one generic trigger function attached
-- to every tenant table (tests/pgtap/00_rls_coverage.sql fails when a tenant table lacks it).
-- Who changed what: the actor (app.user_id, app.session_id), the request (app.request_id,
-- all transaction-local settings the API sets in the request's one batch), the table, the
-- row, the action and the changed columns before and after.
set local role rowguard_owner;

create table app.audit_log (
  -- No foreign key to app.organizations: the trail of a deleted organization stays.
  org_id           uuid not null,
  id               uuid not null default app.uuid_v7() primary key,
  actor_user_id    uuid,
  actor_session_id uuid,
  request_id       text,
  table_name       text not null,
  row_id           text,
  action           text not null
                   constraint audit_log_action_check check (action in ('INSERT', 'UPDATE', 'DELETE')),
  -- INSERT: new_values holds every column; DELETE: old_values does; UPDATE: both hold
  -- only the columns that changed. Secret-looking columns are redacted (see below).
  old_values       jsonb,
  new_values       jsonb,
  changed_at       timestamptz not null default now()
);
comment on table app.audit_log is
  'Append-only trail of every change to a tenant table. Written only by trigger app.audit_row_change; nobody may update or delete it (grants, policies and trigger app.audit_log_refuse_change).';
-- GET /v1/orgs/{org_id}/audit: newest first within one organization.
create index audit_log_org_id_id_idx on app.audit_log (org_id, id desc);

grant usage on schema app to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists invitation_projects_audit on app.invitation_projects;
drop trigger if exists invitations_audit on app.invitations;
drop trigger if exists project_members_audit on app.project_members;
drop trigger if exists checkout_sessions_audit on app.checkout_sessions;
drop trigger if exists subscriptions_audit on app.subscriptions;
drop trigger if exists bookings_audit on app.bookings;
drop trigger if exists services_audit on app.services;
drop trigger if exists projects_audit on app.projects;
drop trigger if exists memberships_audit on app.memberships;
drop trigger if exists organizations_audit on app.organizations;
drop table app.audit_log;
drop function if exists app.audit_log_refuse_change();
set local role rowguard_kernel;
drop function if exists app.audit_row_change();
reset role;
