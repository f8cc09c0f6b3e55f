-- Issue 18, second part.
--
-- An account's deletion is reversible for 30 days, as an organization's is (DESIGN.md,
-- identity rules): DELETE /v1/auth/me now sets auth.users.deleted_at (pending deletion:
-- sessions end, no new one opens, the memberships grant nothing and stop counting as an
-- OWNER), POST /v1/auth/restore clears it, and `rowguard purge-deleted` erases the
-- personal data of accounts deleted over 30 days ago and sets erased_at. An account that
-- 027 erased at once is a tombstone already: its erased_at is its deleted_at.
--
-- The audit trail records exports (action EXPORT): an organization's archive and every
-- CSV answer, one entry each, naming who and what (api.audit_export).
set local role rowguard_owner;

alter table auth.users add column erased_at timestamptz;
comment on column auth.users.deleted_at is
  'When the user deleted their account (DELETE /v1/auth/me). For 30 days the account is pending deletion and can be restored (POST /v1/auth/restore); then `rowguard purge-deleted` erases it (erased_at).';
comment on column auth.users.erased_at is
  'When `rowguard purge-deleted` erased the account''s personal data: the row is then a tombstone (pseudonymous email, no password, disabled), kept because audit entries name its id.';
update auth.users set erased_at = deleted_at where deleted_at is not null;
alter table auth.users add constraint users_erased_after_deleted check (erased_at is null or deleted_at is not null);
-- rowguard purge-deleted finds the accounts to erase.
create index users_pending_deletion_idx on auth.users (deleted_at) where deleted_at is not null and erased_at is null;

alter table app.audit_log drop constraint audit_log_action_check;
alter table app.audit_log add constraint audit_log_action_check
  check (action in ('INSERT', 'UPDATE', 'DELETE', 'EXPORT'));

reset role;

---- create above / drop below ----

set local role rowguard_owner;
-- Down: export entries cannot stay under the old constraint, and the log is append-only
-- (its trigger refuses a DELETE): the constraint is put back NOT VALID, so entries
-- written meanwhile stay and new ones are checked.
alter table app.audit_log drop constraint audit_log_action_check;
alter table app.audit_log add constraint audit_log_action_check
  check (action in ('INSERT', 'UPDATE', 'DELETE')) not valid;
drop index auth.users_pending_deletion_idx;
alter table auth.users drop constraint users_erased_after_deleted;
-- A pending deletion is not undone by the down migration: it is erased then, as 027 did
-- at once (rowguard purge-deleted before migrating down, or it stays pending with its
-- data: deleted_at without erased_at, which 027's code reads as a tombstone).
alter table auth.users drop column erased_at;
reset role;
