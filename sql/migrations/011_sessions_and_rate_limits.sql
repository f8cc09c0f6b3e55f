-- Sessions that end (absolute lifetime, inactivity timeout), refresh tokens that rotate
-- with reuse detection, and a rate limiter whose state holds across replicas.
--
-- None of these tables is granted to rowguard_api: the API reaches them only through
-- the SECURITY DEFINER functions below, each of which answers about the caller only
-- (app.user_id, app.session_id) or, for the pre-login ones, about the one row its
-- secret names. Their policies (TO rowguard_kernel) are in policies/auth_sessions.sql.
set local role rowguard_owner;

-- Accounts that sign in by email code or single sign-on have no password. Idempotent:
-- another migration may drop the same constraint.
alter table auth.users alter column password_hash drop not null;

-- Existing sessions get the defaults (30 days from now, 7 days idle); new sessions get
-- what the server is configured with (auth.open_session).
alter table auth.sessions
  add column if not exists expires_at timestamptz not null default now() + interval '30 days',
  add column if not exists idle_timeout interval not null default interval '7 days',
  add column if not exists revoked_reason text;
alter table auth.sessions drop constraint if exists sessions_revoked_reason_check;
alter table auth.sessions add constraint sessions_revoked_reason_check
  check (revoked_reason in ('logout', 'logout_all', 'removed', 'password_changed', 'refresh_token_reused', 'password_reset', 'disabled'));
comment on column auth.sessions.expires_at is 'Absolute end of the session: no refresh extends it.';
comment on column auth.sessions.idle_timeout is 'The session ends when unused (last_used_at) for this long.';
comment on column auth.sessions.revoked_reason is 'Why revoked_at was set (logout, refresh_token_reused, ...): for the user''s session list and for audits.';

-- A refresh token is 32 random bytes the server hands out once; only its SHA-256 is
-- kept. A rotated token stays (rotated_at set) so that presenting it again is detected.
create table auth.refresh_tokens (
  token_hash bytea primary key
             constraint refresh_tokens_token_hash_check check (length(token_hash) = 32),
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null default now(),
  rotated_at timestamptz
);
comment on table auth.refresh_tokens is 'SHA-256 of every refresh token of a session. Never the token itself. Reachable only through auth.open_session and auth.rotate_refresh_token.';
create index refresh_tokens_session_id_idx on auth.refresh_tokens (session_id);

-- One row per rate-limit bucket (e.g. 'login:address:192.0.2.1'): a fixed window.
create table auth.rate_limits (
  bucket         text primary key
                 constraint rate_limits_bucket_check check (length(bucket) between 1 and 512),
  window_ends_at timestamptz not null,
  hits           int not null
);
comment on table auth.rate_limits is 'Fixed-window hit counters of auth.hit_rate_limit, shared by every replica. Holds no secret but an address or an email: kernel-only.';
create index rate_limits_window_ends_at_idx on auth.rate_limits (window_ends_at);

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop function if exists auth.enforce_rate_limit(text, int, interval);
drop function if exists auth.hit_rate_limit(text, int, interval);
drop function if exists auth.my_password_hash();
drop function if exists auth.my_sessions();
drop function if exists auth.revoke_my_sessions(uuid, text);
drop function if exists auth.revoke_my_session(uuid, text);
drop function if exists auth.rotate_refresh_token(bytea, bytea, interval);
drop function if exists auth.open_session(uuid, text, inet, bytea, interval, interval);
drop function if exists app.current_session_id();
drop table auth.rate_limits;
drop table auth.refresh_tokens;
-- policies/ (reinstalled at the latest version) has a policy reading these columns.
drop policy if exists sessions_delete_kernel on auth.sessions;
alter table auth.sessions
  drop column revoked_reason,
  drop column idle_timeout,
  drop column expires_at;
-- auth.users.password_hash stays nullable: accounts without a password may exist by now.

reset role;
