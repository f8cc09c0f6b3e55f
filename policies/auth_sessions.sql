-- Sessions, refresh tokens and rate-limit counters hold secrets (a session id is half of
-- a bearer credential; a refresh token's hash; addresses and emails). rowguard_api has
-- no privilege on these tables at all: it reaches them through the SECURITY DEFINER
-- functions of sql/kernel/sessions.sql and rate_limits.sql (auth.open_session, auth.rotate_refresh_token,
-- auth.revoke_my_session(s), auth.my_sessions, auth.hit_rate_limit, ...), which run as
-- rowguard_kernel under the policies below.

-- ----- auth.sessions ------------------------------------------------------------------
alter table auth.sessions enable row level security;
alter table auth.sessions force row level security;
-- revoked_at: also auth.reset_password (a reset signs the user out everywhere);
-- reauthenticated_at: the step-up functions (auth.record_reauthentication).
grant select, insert (user_id, user_agent, ip, expires_at, idle_timeout),
      update (last_used_at, revoked_at, revoked_reason, reauthenticated_at)
   on auth.sessions to rowguard_kernel;
-- auth.delete_account (and auth.erase_account) erase the user agent and IP of the deleted user's sessions.
grant update (user_agent, ip) on auth.sessions to rowguard_kernel;

create policy sessions_select_kernel on auth.sessions for select to rowguard_kernel
  using (true);
comment on policy sessions_select_kernel on auth.sessions is
  'auth.begin_request (is the session live?), auth.rotate_refresh_token (the token''s session), auth.my_sessions (filters by app.user_id itself).';

create policy sessions_insert_kernel on auth.sessions for insert to rowguard_kernel
  with check (user_id = (select app.current_user_id()));
comment on policy sessions_insert_kernel on auth.sessions is
  'auth.open_session: a session only for the user the request authenticated (app.user_id).';

create policy sessions_update_kernel on auth.sessions for update to rowguard_kernel
  using (true) with check (true);
comment on policy sessions_update_kernel on auth.sessions is
  'Touch last_used_at, revoke (revoked_at, revoked_reason): the column grants allow nothing else; the functions filter by the caller or by the presented token, and the trigger auth.revoke_sessions_of_disabled_user by the user being disabled.';

grant delete on auth.sessions to rowguard_kernel;
create policy sessions_delete_kernel on auth.sessions for delete to rowguard_kernel
  using (coalesce(revoked_at, least(expires_at, last_used_at + idle_timeout)) < now() - interval '30 days');
comment on policy sessions_delete_kernel on auth.sessions is
  'auth.open_session forgets sessions that ended over 30 days ago; a live or recently ended session can never be deleted.';

-- ----- auth.refresh_tokens ----------------------------------------------------------------
alter table auth.refresh_tokens enable row level security;
alter table auth.refresh_tokens force row level security;
grant select, insert, update (rotated_at, successor_hash, successor_sealed) on auth.refresh_tokens to rowguard_kernel;

create policy refresh_tokens_select_kernel on auth.refresh_tokens for select to rowguard_kernel
  using (true);
comment on policy refresh_tokens_select_kernel on auth.refresh_tokens is
  'auth.rotate_refresh_token looks a token up by its SHA-256: only who holds the token can name its row.';

create policy refresh_tokens_insert_kernel on auth.refresh_tokens for insert to rowguard_kernel
  with check (true);
comment on policy refresh_tokens_insert_kernel on auth.refresh_tokens is
  'auth.open_session (first token) and auth.rotate_refresh_token (its successor).';

create policy refresh_tokens_update_kernel on auth.refresh_tokens for update to rowguard_kernel
  using (true) with check (true);
comment on policy refresh_tokens_update_kernel on auth.refresh_tokens is
  'auth.rotate_refresh_token marks a token rotated, naming its successor (sealed), and drops older sealed successors (the column grant allows nothing else).';

-- ----- auth.rate_limits -------------------------------------------------------------------
alter table auth.rate_limits enable row level security;
alter table auth.rate_limits force row level security;
grant select, insert, update, delete on auth.rate_limits to rowguard_kernel;

create policy rate_limits_select_kernel on auth.rate_limits for select to rowguard_kernel
  using (true);
comment on policy rate_limits_select_kernel on auth.rate_limits is 'auth.hit_rate_limit reads its bucket (ON CONFLICT).';
create policy rate_limits_insert_kernel on auth.rate_limits for insert to rowguard_kernel
  with check (true);
comment on policy rate_limits_insert_kernel on auth.rate_limits is 'auth.hit_rate_limit opens a bucket.';
create policy rate_limits_update_kernel on auth.rate_limits for update to rowguard_kernel
  using (true) with check (true);
comment on policy rate_limits_update_kernel on auth.rate_limits is 'auth.hit_rate_limit counts a hit or starts a new window; auth.forgive_sign_in_failure takes back the hit of a sign-in that succeeded.';
create policy rate_limits_delete_kernel on auth.rate_limits for delete to rowguard_kernel
  using (window_ends_at < now());
comment on policy rate_limits_delete_kernel on auth.rate_limits is 'auth.hit_rate_limit forgets buckets whose window has ended, never a live one.';

-- ----- functions ---------------------------------------------------------------------------
grant execute on function app.current_session_id() to rowguard_api, rowguard_kernel;

-- The kernel entry points the api.* functions (SECURITY INVOKER, running as the API
-- role) call. Each answers about the caller or about the row its secret names.
grant execute on function
  auth.open_session(uuid, text, inet, bytea, interval, interval),
  auth.rotate_refresh_token(bytea, bytea, bytea, interval),
  auth.revoke_my_session(uuid, text),
  auth.revoke_my_sessions(uuid, text),
  auth.my_sessions(),
  auth.my_password_hash(),
  auth.hit_rate_limit(text, int, interval),
  auth.enforce_rate_limit(text, int, interval),
  auth.hit_sign_in_failure(text, inet, int, interval, int, interval),
  auth.forgive_sign_in_failure(text, inet)
to rowguard_api;
-- auth.enforce_rate_limit calls auth.hit_rate_limit as rowguard_kernel.
grant execute on function auth.hit_rate_limit(text, int, interval) to rowguard_kernel;

grant execute on function
  api.refresh_session(bytea, bytea, bytea, interval, int, interval),
  api.logout(),
  api.logout_all(),
  api.list_sessions(),
  api.delete_session(uuid),
  api.current_password_hash(int, interval),
  api.change_password(text, boolean),
  api.reauthenticated_by_password(),
  api.reauthenticate_by_code(bytea),
  api.request_reauthentication_code(bytea, text, int, interval),
  api.reauthentication_json()
to rowguard_api;
