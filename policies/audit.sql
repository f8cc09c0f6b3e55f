-- Audit: app.audit_log is append-only. The API role only reads it (OWNER and ADMIN, their
-- own organization); only the kernel inserts (trigger app.audit_row_change, a tag
-- operation's summary, an export's entry); nobody updates or deletes: no grant, no
-- policy, and trigger app.audit_log_refuse_change.

alter table app.audit_log enable row level security;
alter table app.audit_log force row level security;

grant select on app.audit_log to rowguard_api;

create policy audit_log_select on app.audit_log for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy audit_log_select on app.audit_log is
  'OWNER and ADMIN read the audit trail of the current organization; MEMBERs and other organizations see nothing.';

grant insert on app.audit_log to rowguard_kernel;
grant execute on function app.uuid_v7() to rowguard_kernel; -- the entry's id default
create policy audit_log_insert_kernel on app.audit_log for insert to rowguard_kernel
  with check (actor_user_id is not distinct from (select app.current_user_id()));
comment on policy audit_log_insert_kernel on app.audit_log is
  'Trigger app.audit_row_change, app.audit_tag_operation (a tag rename) and app.audit_export (an export) append entries, and only in the name of the caller of the current request.';

grant execute on function
  api.audit_export(text, uuid, jsonb, boolean),
  app.audit_export(text, uuid, jsonb),
  api.audit_entry_json(app.audit_log),
  api.list_audit(int, uuid, text, text, uuid, text, timestamptz, timestamptz)
to rowguard_api;
