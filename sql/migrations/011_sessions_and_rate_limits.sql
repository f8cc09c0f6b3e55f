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

alter table auth.refresh_tokens enable row level security;
alter table auth.refresh_tokens force row level security;
alter table auth.rate_limits    enable row level security;
alter table auth.rate_limits    force row level security;

create function app.current_session_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.session_id', true), '')::uuid
$$;
comment on function app.current_session_id() is 'The session of the current request (app.session_id, set by auth.begin_request), or NULL.';

-- ---------------------------------------------------------------------------------------
-- Kernel functions (SECURITY DEFINER, rowguard_kernel, search_path '').
-- ---------------------------------------------------------------------------------------
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

-- Redefined from 002: also refuses sessions past their absolute lifetime or idle for
-- longer than their inactivity timeout, and sets app.session_id. Same single row read.
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_last_used_at timestamptz;
  v_member       boolean;
  v_suspended    boolean;
  v_set          text;
begin
  -- One query answers all three questions (is the session live? is the user a member of
  -- the organization in the path? is that organization suspended?): each statement a
  -- plpgsql function runs has its own cost.
  select s.last_used_at,
         p_org_id is null
           or exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id),
         p_org_id is not null
           and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null)
    into v_last_used_at, v_member, v_suspended
    from auth.sessions s
    join auth.users u on u.id = s.user_id
   where s.id = p_session_id
     and s.user_id = p_user_id
     and s.revoked_at is null
     and s.expires_at > pg_catalog.now()
     and s.last_used_at + s.idle_timeout > pg_catalog.now()
     and u.status = 'active';
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401',
      hint = 'Sign in again.';
  end if;
  -- Another tenant's id and a non-existent id answer the same: never a hint it exists.
  if not v_member then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  -- A platform admin suspended this organization: nothing in it answers its members
  -- (checked after membership, so a stranger still hears 404).
  if v_suspended then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  -- Touch the session at most once a minute: not a write on every request. Requests
  -- of one session arrive together (a page's parallel calls); the first to lock the row
  -- touches it, the others skip it rather than queue behind that lock.
  if v_last_used_at < pg_catalog.now() - interval '1 minute' then
    update auth.sessions set last_used_at = pg_catalog.now()
     where id = (select s.id from auth.sessions s
                  where s.id = p_session_id
                    and s.last_used_at < pg_catalog.now() - interval '1 minute'
                    for update skip locked);
  end if;
  -- Assignments, not PERFORM: plpgsql evaluates a table-free expression directly,
  -- without a query each.
  v_set := pg_catalog.set_config('app.user_id', p_user_id::text, true);
  v_set := pg_catalog.set_config('app.session_id', p_session_id::text, true);
  v_set := pg_catalog.set_config('app.org_id', coalesce(p_org_id::text, ''), true);
end
$$;
comment on function auth.begin_request(uuid, uuid, uuid) is
  'First statement of every authenticated request: checks the session is live (not revoked, not past expires_at, not idle beyond idle_timeout) and the user active, checks membership of the organization in the path and that it is not suspended (RGS03), and sets app.user_id / app.session_id / app.org_id transaction-locally.';

-- The one place a session is born (sign-up, password login, and every later way in).
create function auth.open_session(
  p_user_id uuid, p_user_agent text, p_ip inet, p_refresh_token_hash bytea,
  p_lifetime interval, p_idle_timeout interval
) returns table (session_id uuid, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_status     auth.user_status;
  v_session_id uuid;
begin
  -- The caller (api.create_session, api.register) names the user it authenticated.
  if p_user_id is distinct from nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid then
    raise exception 'a session can only be opened for the authenticated user' using errcode = 'RG401';
  end if;
  if p_lifetime is null or p_lifetime <= interval '0' or p_idle_timeout is null or p_idle_timeout <= interval '0' then
    raise exception 'session lifetime and idle timeout must be positive' using errcode = '22023';
  end if;
  select u.status into v_status from auth.users u where u.id = p_user_id;
  if not found then
    raise exception 'invalid credentials' using errcode = 'RG401';
  end if;
  if v_status <> 'active' then
    raise exception 'this account is disabled' using errcode = 'RG403';
  end if;

  insert into auth.sessions (user_id, user_agent, ip, expires_at, idle_timeout)
  values (p_user_id, pg_catalog.left(p_user_agent, 512), p_ip, pg_catalog.now() + p_lifetime, p_idle_timeout)
  returning id into v_session_id;
  insert into auth.refresh_tokens (token_hash, session_id) values (p_refresh_token_hash, v_session_id);
  -- Forget this user's sessions that ended over 30 days ago, and their refresh tokens
  -- (cascade): the tables do not grow forever, and a month of history stays for audits.
  delete from auth.sessions s
   where s.user_id = p_user_id
     and coalesce(s.revoked_at, least(s.expires_at, s.last_used_at + s.idle_timeout)) < pg_catalog.now() - interval '30 days';
  return query select v_session_id, pg_catalog.now() + p_lifetime;
end
$$;
comment on function auth.open_session(uuid, text, inet, bytea, interval, interval) is
  'A new session for an active user (the one app.user_id names), with its first refresh token (SHA-256 only).';

-- Rotation with reuse detection. Outcomes:
--   rotated  the token was current (or rotated less than p_reuse_grace ago: several tabs
--            refreshing at once); p_new_token_hash is now a valid token of the session.
--   reused   the token was rotated longer ago than the grace window: someone replays a
--            stolen token, or the thief already rotated it. The whole session is revoked
--            (committed: the caller must not raise after this outcome).
--   invalid  unknown token, or its session is revoked, expired, idle or its user disabled.
create function auth.rotate_refresh_token(p_token_hash bytea, p_new_token_hash bytea, p_reuse_grace interval)
returns table (outcome text, user_id uuid, session_id uuid, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
declare
  r record;
begin
  -- The token's row lock serializes concurrent refreshes of one token: the second one
  -- sees the first one's rotated_at.
  select t.rotated_at, s.id as session_id, s.user_id, s.revoked_at, s.expires_at,
         s.last_used_at, s.idle_timeout, u.status
    into r
    from auth.refresh_tokens t
    join auth.sessions s on s.id = t.session_id
    join auth.users u on u.id = s.user_id
   where t.token_hash = p_token_hash
     for update of t;
  if not found
     or r.revoked_at is not null
     or r.expires_at <= pg_catalog.now()
     or r.last_used_at + r.idle_timeout <= pg_catalog.now()
     or r.status <> 'active' then
    return query select 'invalid'::text, null::uuid, null::uuid, null::timestamptz;
    return;
  end if;
  if r.rotated_at is not null and r.rotated_at <= pg_catalog.now() - coalesce(p_reuse_grace, interval '0') then
    update auth.sessions s set revoked_at = pg_catalog.now(), revoked_reason = 'refresh_token_reused'
     where s.id = r.session_id;
    return query select 'reused'::text, r.user_id, r.session_id, r.expires_at;
    return;
  end if;
  if r.rotated_at is null then
    update auth.refresh_tokens t set rotated_at = pg_catalog.now() where t.token_hash = p_token_hash;
  end if;
  insert into auth.refresh_tokens (token_hash, session_id) values (p_new_token_hash, r.session_id);
  update auth.sessions s set last_used_at = pg_catalog.now() where s.id = r.session_id;
  return query select 'rotated'::text, r.user_id, r.session_id, r.expires_at;
end
$$;
comment on function auth.rotate_refresh_token(bytea, bytea, interval) is
  'POST /v1/auth/refresh: exchanges a refresh token (by SHA-256) for a new one; a token replayed outside the grace window revokes its session.';

create function auth.revoke_my_session(p_session_id uuid, p_reason text) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
begin
  update auth.sessions s set revoked_at = pg_catalog.now(), revoked_reason = p_reason
   where s.id = p_session_id
     and s.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
     and s.revoked_at is null;
  return found;
end
$$;
comment on function auth.revoke_my_session(uuid, text) is
  'Revokes one live session of the caller (logout, DELETE /v1/auth/sessions/{id}); false when the caller has no such live session.';

create function auth.revoke_my_sessions(p_except_session_id uuid, p_reason text) returns int
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_count int;
begin
  update auth.sessions s set revoked_at = pg_catalog.now(), revoked_reason = p_reason
   where s.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
     and s.revoked_at is null
     and s.id is distinct from p_except_session_id;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
comment on function auth.revoke_my_sessions(uuid, text) is
  'Revokes every live session of the caller but p_except_session_id (NULL: all): logout-all, password change.';

create function auth.my_sessions()
returns table (id uuid, user_agent text, ip inet, created_at timestamptz, last_used_at timestamptz, expires_at timestamptz)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select s.id, s.user_agent, s.ip, s.created_at, s.last_used_at, s.expires_at
      from auth.sessions s
     where s.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
       and s.revoked_at is null
       and s.expires_at > pg_catalog.now()
       and s.last_used_at + s.idle_timeout > pg_catalog.now()
     order by s.last_used_at desc, s.id;
end
$$;
comment on function auth.my_sessions() is 'GET /v1/auth/sessions: the caller''s live sessions, most recently used first.';

create function auth.my_password_hash() returns text
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select u.password_hash from auth.users u
           where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid);
end
$$;
comment on function auth.my_password_hash() is 'POST /v1/auth/password: the caller''s own password hash (NULL when the account has none), for the API to verify current_password.';

-- The generic rate limiter. Counts one hit in bucket and returns 0 when the hit is
-- within p_max hits per p_window, else the whole seconds until the window ends (the
-- Retry-After). A fixed window per bucket: one row, one atomic upsert (INSERT ... ON
-- CONFLICT DO UPDATE takes the row lock), so concurrent hits from any replica count
-- exactly. Name buckets '<action>:<key kind>:<key>', e.g. 'login:address:192.0.2.1',
-- 'login:account:ada@example.com', 'otp:account:...'.
create function auth.hit_rate_limit(p_bucket text, p_max int, p_window interval) returns int
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_hits    int;
  v_ends_at timestamptz;
begin
  if p_bucket is null or p_max is null or p_max < 1 or p_window is null or p_window <= interval '0' then
    raise exception 'hit_rate_limit needs a bucket, p_max >= 1 and a positive window' using errcode = '22023';
  end if;
  insert into auth.rate_limits as l (bucket, window_ends_at, hits)
  values (p_bucket, pg_catalog.clock_timestamp() + p_window, 1)
  on conflict (bucket) do update
     set hits = case when l.window_ends_at <= pg_catalog.clock_timestamp() then 1 else l.hits + 1 end,
         window_ends_at = case when l.window_ends_at <= pg_catalog.clock_timestamp()
                               then pg_catalog.clock_timestamp() + p_window else l.window_ends_at end
  returning l.hits, l.window_ends_at into v_hits, v_ends_at;
  -- Now and then, forget buckets whose window ended long ago (one in ~200 calls).
  if pg_catalog.random() < 0.005 then
    delete from auth.rate_limits l where l.window_ends_at < pg_catalog.clock_timestamp() - interval '1 hour';
  end if;
  if v_hits <= p_max then
    return 0;
  end if;
  return greatest(1, ceil(extract(epoch from v_ends_at - pg_catalog.clock_timestamp())))::int;
end
$$;
comment on function auth.hit_rate_limit(text, int, interval) is
  'Generic rate limiter (fixed window, state shared by every replica): counts a hit, returns 0 when allowed, else the seconds to wait.';

-- The same, raising RG429 (DETAIL: the seconds to wait, sent as Retry-After) when over.
-- The raise rolls the refused hit back: a refused bucket stays refused until its window ends.
create function auth.enforce_rate_limit(p_bucket text, p_max int, p_window interval) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_wait int := auth.hit_rate_limit(p_bucket, p_max, p_window);
begin
  if v_wait > 0 then
    raise exception 'too many attempts: retry in % seconds', v_wait
      using errcode = 'RG429', detail = v_wait::text;
  end if;
end
$$;
comment on function auth.enforce_rate_limit(text, int, interval) is
  'auth.hit_rate_limit that raises RG429 (DETAIL = seconds to wait; the API answers 429 with Retry-After) when the bucket is over its limit.';

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
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

-- auth.begin_request as 005 (platform admin: suspension) left it.
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_last_used_at timestamptz;
begin
  select s.last_used_at into v_last_used_at
    from auth.sessions s
    join auth.users u on u.id = s.user_id
   where s.id = p_session_id
     and s.user_id = p_user_id
     and s.revoked_at is null
     and u.status = 'active';
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401',
      hint = 'Sign in again.';
  end if;
  if v_last_used_at < pg_catalog.now() - interval '1 minute' then
    update auth.sessions set last_used_at = pg_catalog.now()
     where id = (select s.id from auth.sessions s
                  where s.id = p_session_id
                    and s.last_used_at < pg_catalog.now() - interval '1 minute'
                    for update skip locked);
  end if;
  perform pg_catalog.set_config('app.user_id', p_user_id::text, true);
  if p_org_id is null then
    perform pg_catalog.set_config('app.org_id', '', true);
    return;
  end if;
  if not exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id) then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if exists (select from app.subscriptions s where s.org_id = p_org_id and s.suspended_at is not null) then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  perform pg_catalog.set_config('app.org_id', p_org_id::text, true);
end
$$;
set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;
