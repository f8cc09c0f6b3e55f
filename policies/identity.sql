-- Identity: users and sessions. Not tenant data (a user belongs to many organizations),
-- so the rules are about the caller and the people they share the current organization with.

-- ----- auth.users ---------------------------------------------------------------------
alter table auth.users enable row level security;
alter table auth.users force row level security;
-- password_hash is not readable by the API role at all: login reads it through
-- auth.credentials_for. status is not writable: nobody re-enables themselves.
-- No INSERT: an account is born only when its mailbox answered (auth.verify_sign_up,
-- auth.verify_sign_in_code, auth.oidc_sign_in: users_insert_kernel below).
grant select (id, email, status, created_at, updated_at),
      update (email, password_hash)
   on auth.users to rowguard_api;

create policy users_select on auth.users for select to rowguard_api
  using (id = (select app.current_user_id())
         or exists (select from app.memberships m
                     where m.user_id = users.id
                       and m.org_id = (select app.current_org_id())));
comment on policy users_select on auth.users is
  'A user sees themselves, and the members of the organization the request acts in (whose memberships they can see: memberships_select).';

create policy users_update on auth.users for update to rowguard_api
  using (id = (select app.current_user_id()))
  with check (id = (select app.current_user_id()));
comment on policy users_update on auth.users is
  'A user changes only their own account (email, password hash: the column grants).';

grant select on auth.users to rowguard_kernel;
create policy users_select_kernel on auth.users for select to rowguard_kernel
  using (true);
comment on policy users_select_kernel on auth.users is
  'SECURITY DEFINER helpers: auth.credentials_for (login by email), auth.open_session and auth.rotate_refresh_token (is the user active?).';

-- The kernel creates accounts and proves addresses. The only way an account is born is
-- a proven mailbox; the column grants say what each writer may change.
grant insert (email, password_hash, email_verified_at), update (password_hash, email_verified_at)
   on auth.users to rowguard_kernel;
-- DELETE /v1/auth/me (auth.delete_account, the caller's own row: users_update_kernel)
-- sets deleted_at; POST /v1/auth/restore (auth.restore_account, outside a request)
-- clears it; `rowguard purge-deleted` (auth.erase_account, acting as the erased user:
-- users_update_kernel) replaces the address by a pseudonym and marks the tombstone.
grant update (email, deleted_at, erased_at) on auth.users to rowguard_kernel;
create policy users_insert_kernel on auth.users for insert to rowguard_kernel
  with check (status = 'active');
comment on policy users_insert_kernel on auth.users is
  'The only way an account is born: auth.verify_sign_up (a password sign-up whose emailed code came back), auth.verify_sign_in_code (sign-up by email code, when configured) and auth.oidc_sign_in create an active account for the address they just proved.';

-- Invitations: the invitee reads whether their address is proven; a mailed token proves
-- it, inside the invitee's own request.
grant select (email_verified_at) on auth.users to rowguard_api;
create policy users_update_kernel on auth.users for update to rowguard_kernel
  using (id = (select app.current_user_id())) with check (id = (select app.current_user_id()));
comment on policy users_update_kernel on auth.users is
  'The caller''s own row: app.accept_invitation (a token that went only to the mailbox proves the address: email_verified_at, password_hash), auth.delete_account (deleted_at), auth.erase_account (rowguard purge-deleted, acting as the erased user: the tombstone). The column grants allow nothing else.';

-- `rowguard admin grant|revoke EMAIL` (auth.set_platform_admin, outside any request:
-- users_update_kernel_outside_request below).
grant update (is_platform_admin) on auth.users to rowguard_kernel;

-- auth.sessions: see auth_sessions.sql (reachable through kernel functions only).

-- ----- the API functions of this domain -------------------------------------------------
grant execute on function
  api.complete_sign_up(text, bytea, text, text, bytea, interval, interval),
  api.create_session(uuid, text, text, bytea, interval, interval),
  api.me()
to rowguard_api;
grant execute on function api.delete_me(), auth.delete_account(), auth.account_grace() to rowguard_api;
-- POST /v1/auth/restore: after the API verified the password, as api.create_session.
grant execute on function auth.restore_account(uuid) to rowguard_api;

-- Kernel functions that change a user they identified by a proven secret or the command
-- line run outside any request (no app.user_id); inside one, the kernel changes the
-- caller's own row only (users_update_kernel, above). What they may change is
-- the column grants next to each writer: email_verified_at, password_hash, is_platform_admin.
create policy users_update_kernel_outside_request on auth.users for update to rowguard_kernel
  using ((select app.current_user_id()) is null) with check ((select app.current_user_id()) is null);
comment on policy users_update_kernel_outside_request on auth.users is
  'Outside a request only: auth.verify_sign_in_code and auth.oidc_sign_in (a proven address), auth.reset_password (a reset token), auth.restore_account (a verified password, POST /v1/auth/restore), auth.set_platform_admin and auth.set_user_status (`rowguard admin`, never HTTP). Column grants limit each to its columns.';

-- rowguard admin disable|enable EMAIL (auth.set_user_status, outside any request). The
-- trigger it fires revokes the user's sessions as rowguard_kernel: sessions_update_kernel.
grant update (status) on auth.users to rowguard_kernel;

