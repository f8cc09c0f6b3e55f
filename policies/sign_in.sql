-- Signing in without a password: email codes (and, below, password resets and OpenID
-- Connect). The tables here hold secrets or the links that let someone in: no API role
-- may read or write them; the SECURITY DEFINER functions of the migrations do, as
-- rowguard_kernel, under these policies. The API role calls those functions.

-- auth.users (the kernel creates accounts, proves addresses): identity.sql.

-- ----- auth.pending_sign_ups ----------------------------------------------------------
alter table auth.pending_sign_ups enable row level security;
alter table auth.pending_sign_ups force row level security;
grant select, insert, update (recipient, code_hash, password_hash, organization_name, attempts, expires_at, created_at), delete
   on auth.pending_sign_ups to rowguard_kernel;

create policy pending_sign_ups_select_kernel on auth.pending_sign_ups for select to rowguard_kernel
  using (true);
comment on policy pending_sign_ups_select_kernel on auth.pending_sign_ups is
  'auth.verify_sign_up reads the address''s pending sign-up.';
create policy pending_sign_ups_insert_kernel on auth.pending_sign_ups for insert to rowguard_kernel
  with check (attempts = 0);
comment on policy pending_sign_ups_insert_kernel on auth.pending_sign_ups is
  'auth.request_sign_up stores a fresh sign-up.';
create policy pending_sign_ups_update_kernel on auth.pending_sign_ups for update to rowguard_kernel
  using (true) with check (true);
comment on policy pending_sign_ups_update_kernel on auth.pending_sign_ups is
  'A new request replaces the sign-up (resetting attempts); a wrong guess counts.';
create policy pending_sign_ups_delete_kernel on auth.pending_sign_ups for delete to rowguard_kernel
  using (true);
comment on policy pending_sign_ups_delete_kernel on auth.pending_sign_ups is
  'A sign-up is deleted once verified, expired or guessed wrong too often.';

-- The API passes the HMAC of each code and the argon2id hash of the password.
grant execute on function
  auth.request_sign_up(text, bytea, text, text, text),
  auth.verify_sign_up(text, bytea)
to rowguard_api;

-- Updates: users_update_kernel_outside_request (identity.sql).

-- ----- auth.email_sign_in_codes -------------------------------------------------------
alter table auth.email_sign_in_codes enable row level security;
alter table auth.email_sign_in_codes force row level security;
grant select, insert, update (code_hash, expires_at, attempts, created_at), delete
   on auth.email_sign_in_codes to rowguard_kernel;

create policy email_sign_in_codes_select_kernel on auth.email_sign_in_codes for select to rowguard_kernel
  using (true);
comment on policy email_sign_in_codes_select_kernel on auth.email_sign_in_codes is
  'auth.verify_sign_in_code reads the address''s live code.';
create policy email_sign_in_codes_insert_kernel on auth.email_sign_in_codes for insert to rowguard_kernel
  with check (attempts = 0);
comment on policy email_sign_in_codes_insert_kernel on auth.email_sign_in_codes is
  'auth.request_sign_in_code stores a fresh code.';
create policy email_sign_in_codes_update_kernel on auth.email_sign_in_codes for update to rowguard_kernel
  using (true) with check (true);
comment on policy email_sign_in_codes_update_kernel on auth.email_sign_in_codes is
  'A wrong guess counts (a new request never replaces a live code).';
create policy email_sign_in_codes_delete_kernel on auth.email_sign_in_codes for delete to rowguard_kernel
  using (true);
comment on policy email_sign_in_codes_delete_kernel on auth.email_sign_in_codes is
  'A code is deleted once used, expired or guessed wrong too often.';

-- The API passes each code's HMAC (migration 015), keyed by a secret this database never sees.
grant execute on function
  auth.request_sign_in_code(text, bytea, text, boolean),
  auth.verify_sign_in_code(text, bytea, boolean),
  auth.verify_sign_in_code_from(text, bytea, boolean, inet, int, interval, int, interval)
to rowguard_api;

-- ----- auth.password_reset_tokens -----------------------------------------------------
alter table auth.password_reset_tokens enable row level security;
alter table auth.password_reset_tokens force row level security;
grant select, insert, delete on auth.password_reset_tokens to rowguard_kernel;

create policy password_reset_tokens_select_kernel on auth.password_reset_tokens for select to rowguard_kernel
  using (true);
comment on policy password_reset_tokens_select_kernel on auth.password_reset_tokens is
  'auth.reset_password finds the token it is given (by hash).';
create policy password_reset_tokens_insert_kernel on auth.password_reset_tokens for insert to rowguard_kernel
  with check (expires_at > now());
comment on policy password_reset_tokens_insert_kernel on auth.password_reset_tokens is
  'auth.request_password_reset stores a fresh token.';
create policy password_reset_tokens_delete_kernel on auth.password_reset_tokens for delete to rowguard_kernel
  using (true);
comment on policy password_reset_tokens_delete_kernel on auth.password_reset_tokens is
  'A token is deleted when used or expired (a new request never replaces a live one).';

-- A reset signs the user out everywhere: auth.sessions.revoked_at, auth_sessions.sql.

grant execute on function
  auth.request_password_reset(text, text, text),
  auth.reset_password(text, text)
to rowguard_api;

-- ----- auth.oidc_login_states ---------------------------------------------------------
alter table auth.oidc_login_states enable row level security;
alter table auth.oidc_login_states force row level security;
grant select, insert, delete on auth.oidc_login_states to rowguard_kernel;

create policy oidc_login_states_select_kernel on auth.oidc_login_states for select to rowguard_kernel
  using (true);
comment on policy oidc_login_states_select_kernel on auth.oidc_login_states is
  'auth.take_oidc_login finds the state it is given (by hash).';
create policy oidc_login_states_insert_kernel on auth.oidc_login_states for insert to rowguard_kernel
  with check (expires_at > now());
comment on policy oidc_login_states_insert_kernel on auth.oidc_login_states is
  'auth.begin_oidc_login remembers a sign-in in flight.';
create policy oidc_login_states_delete_kernel on auth.oidc_login_states for delete to rowguard_kernel
  using (true);
comment on policy oidc_login_states_delete_kernel on auth.oidc_login_states is
  'A state is deleted when used or expired.';

-- ----- auth.identities ----------------------------------------------------------------
alter table auth.identities enable row level security;
alter table auth.identities force row level security;
grant select, insert, update (email, last_sign_in_at), delete on auth.identities to rowguard_kernel;
create policy identities_delete_kernel on auth.identities for delete to rowguard_kernel
  using (user_id = (select app.current_user_id()));
comment on policy identities_delete_kernel on auth.identities is
  'auth.erase_account (rowguard purge-deleted, acting as the erased user) unlinks that user''s provider accounts; never anyone else''s.';

create policy identities_select_kernel on auth.identities for select to rowguard_kernel
  using (true);
comment on policy identities_select_kernel on auth.identities is
  'auth.oidc_sign_in finds the user of a provider account.';
create policy identities_insert_kernel on auth.identities for insert to rowguard_kernel
  with check (true);
comment on policy identities_insert_kernel on auth.identities is
  'auth.oidc_sign_in links a provider account to a user.';
create policy identities_update_kernel on auth.identities for update to rowguard_kernel
  using (true) with check (true);
comment on policy identities_update_kernel on auth.identities is
  'auth.oidc_sign_in records each sign-in (the email the provider reports, the time).';

grant execute on function
  auth.begin_oidc_login(text, text, text, text, text),
  auth.take_oidc_login(text, text, text),
  auth.oidc_sign_in(text, text, text)
to rowguard_api;

alter table auth.reauthentication_codes enable row level security;
alter table auth.reauthentication_codes force row level security;

-- ----- auth.reauthentication_codes (step-up, migration 020) -----------------------------
grant select, insert, update (code_hash, expires_at, attempts, created_at), delete
   on auth.reauthentication_codes to rowguard_kernel;

create policy reauthentication_codes_select_kernel on auth.reauthentication_codes for select to rowguard_kernel
  using (user_id = (select app.current_user_id()));
comment on policy reauthentication_codes_select_kernel on auth.reauthentication_codes is
  'auth.verify_reauthentication_code reads the caller''s own session''s code.';
create policy reauthentication_codes_insert_kernel on auth.reauthentication_codes for insert to rowguard_kernel
  with check (user_id = (select app.current_user_id()) and attempts = 0);
comment on policy reauthentication_codes_insert_kernel on auth.reauthentication_codes is
  'auth.request_reauthentication_code stores a fresh code for the caller''s session.';
create policy reauthentication_codes_update_kernel on auth.reauthentication_codes for update to rowguard_kernel
  using (user_id = (select app.current_user_id())) with check (user_id = (select app.current_user_id()));
comment on policy reauthentication_codes_update_kernel on auth.reauthentication_codes is
  'A new request replaces the caller''s code (resetting attempts); a wrong guess counts.';
create policy reauthentication_codes_delete_kernel on auth.reauthentication_codes for delete to rowguard_kernel
  using (user_id = (select app.current_user_id()) or expires_at < now());
comment on policy reauthentication_codes_delete_kernel on auth.reauthentication_codes is
  'The caller''s code is deleted once used or guessed wrong too often; anyone''s once expired.';

alter table auth.reauthentications enable row level security;
alter table auth.reauthentications force row level security;

-- ----- auth.reauthentications (the step-up audit) ----------------------------------------
grant insert on auth.reauthentications to rowguard_kernel;
create policy reauthentications_insert_kernel on auth.reauthentications for insert to rowguard_kernel
  with check (user_id = (select app.current_user_id()));
comment on policy reauthentications_insert_kernel on auth.reauthentications is
  'auth.record_reauthentication records the caller''s own proof. Nobody reads it through the API, nobody updates or deletes it.';

-- The step-up entry points (answer about the caller's session only).
-- (auth.sessions.reauthenticated_at, written by the kernel: auth_sessions.sql.)
grant execute on function
  auth.require_recent_reauthentication(),
  auth.record_reauthentication(text),
  auth.request_reauthentication_code(bytea, text),
  auth.verify_reauthentication_code(bytea)
to rowguard_api;
