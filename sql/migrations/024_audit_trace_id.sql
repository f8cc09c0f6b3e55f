-- The OpenTelemetry trace of the request that made a change (issue 16): with tracing on
-- (OTEL_EXPORTER_OTLP_ENDPOINT), the API sets app.trace_id transaction-locally in the
-- request's one batch, beside app.request_id (api.BeginRequestTracedSQL), and
-- app.audit_row_change (sql/kernel/audit.sql) copies it into this column, as it copies
-- app.request_id. With tracing off nothing sets it and the column stays NULL, as in
-- every row written before.
set local role rowguard_owner;
alter table app.audit_log add column trace_id text;
comment on column app.audit_log.trace_id is
  'OpenTelemetry trace id (32 hex digits) of the request that made the change, from app.trace_id; NULL when tracing was off.';
reset role;

---- create above / drop below ----

set local role rowguard_owner;
alter table app.audit_log drop column trace_id;
reset role;
