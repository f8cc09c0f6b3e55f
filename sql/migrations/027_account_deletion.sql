-- DELETE /v1/auth/me (issue 18, GDPR article 17): a user erases their account. The row
-- of auth.users stays as a tombstone holding nothing personal (email replaced by a
-- pseudonym, no password, disabled, deleted_at set): its id is what every audit entry,
-- platform.admin_audit row and invitation names as actor, and an id that resolves to a
-- tombstone is pseudonymous. What goes and what stays: auth.delete_account
-- (sql/kernel/account_deletion.sql) and docs/account-and-data.md. The sessions' reasons:
-- those of 016 and account_deleted.
set local role rowguard_owner;

alter table auth.users add column deleted_at timestamptz;
comment on column auth.users.deleted_at is
  'When the user deleted their account (DELETE /v1/auth/me): the row is then a tombstone (pseudonymous email, no password, disabled), kept because audit entries name its id.';

alter table auth.sessions drop constraint sessions_revoked_reason_check;
alter table auth.sessions add constraint sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_all', 'removed', 'password_changed', 'refresh_token_reused',
                            'password_reset', 'disabled', 'email_proven', 'account_deleted'));

reset role;

---- create above / drop below ----

set local role rowguard_owner;
update auth.sessions set revoked_reason = 'disabled' where revoked_reason = 'account_deleted';
alter table auth.sessions drop constraint sessions_revoked_reason_check;
alter table auth.sessions add constraint sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_all', 'removed', 'password_changed', 'refresh_token_reused',
                            'password_reset', 'disabled', 'email_proven'));
alter table auth.users drop column deleted_at;
reset role;
