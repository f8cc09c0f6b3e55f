-- Sessions and the refresh-token chain: one live refresh token per session, a replay never
-- forks the chain; disabling a user revokes their sessions.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

create or replace function auth.revoke_my_session(p_session_id uuid, p_reason text) returns boolean
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

create or replace function auth.revoke_my_sessions(p_except_session_id uuid, p_reason text) returns int
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

create or replace function auth.my_sessions()
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

create or replace function auth.my_password_hash() returns text
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select u.password_hash from auth.users u
           where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid);
end
$$;
comment on function auth.my_password_hash() is 'POST /v1/auth/password: the caller''s own password hash (NULL when the account has none), for the API to verify current_password.';

create or replace function auth.revoke_sessions_of_disabled_user() returns trigger
language plpgsql volatile security definer set search_path = '' as $$
begin
  update auth.sessions s
     set revoked_at = pg_catalog.now(), revoked_reason = 'disabled'
   where s.user_id = new.id
     and s.revoked_at is null;
  return null;
end
$$;
comment on function auth.revoke_sessions_of_disabled_user() is
  'Trigger of auth.users: when a user''s status leaves ''active'', every live session of theirs is revoked (reason ''disabled''). auth.begin_request relies on it: it checks the session only.';
grant execute on function auth.revoke_sessions_of_disabled_user() to rowguard_owner; -- who creates the trigger

-- Locks the user row while it checks the status, so a sign-in racing a disable either
-- finishes first (and its session is revoked by the trigger above) or waits and is refused.
create or replace function auth.open_session(
  p_user_id uuid, p_user_agent text, p_ip inet, p_refresh_token_hash bytea,
  p_lifetime interval, p_idle_timeout interval
) returns table (session_id uuid, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_status     auth.user_status;
  v_deleted    timestamptz;
  v_session_id uuid;
begin
  -- The caller (api.create_session, api.register) names the user it authenticated.
  if p_user_id is distinct from nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid then
    raise exception 'a session can only be opened for the authenticated user' using errcode = 'RG401';
  end if;
  if p_lifetime is null or p_lifetime <= interval '0' or p_idle_timeout is null or p_idle_timeout <= interval '0' then
    raise exception 'session lifetime and idle timeout must be positive' using errcode = '22023';
  end if;
  -- FOR SHARE conflicts with the UPDATE that disables the user: a disable in flight
  -- makes this wait, then read 'disabled'. Without the lock, a session could be born
  -- after the trigger revoked the others, and live on.
  -- The same lock serializes with DELETE /v1/auth/me (auth.delete_account), which
  -- revokes every session: none is born after it.
  select u.status, u.deleted_at into v_status, v_deleted from auth.users u where u.id = p_user_id for share;
  if not found then
    raise exception 'invalid credentials' using errcode = 'RG401';
  end if;
  if v_status <> 'active' then
    raise exception 'this account is disabled' using errcode = 'RG403';
  end if;
  if v_deleted is not null then
    raise exception 'this account was deleted on % and will be erased after %: to cancel the deletion, send the same email and password to POST /v1/auth/restore (an account without a password sets one with a password reset first)',
      pg_catalog.to_char(v_deleted at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      pg_catalog.to_char((v_deleted + auth.account_grace()) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      using errcode = 'RGA03', hint = 'POST /v1/auth/restore';
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
  'A new session for an active user (the one app.user_id names) whose account is not pending deletion (RGA03), with its first refresh token (SHA-256 only). Locks the user row FOR SHARE, so a concurrent disable or account deletion cannot miss the new session.';

-- Outcomes:
--   rotated   the token was the session's live one: p_new_token_hash is now, and the
--             presented token keeps p_new_token_sealed for a replay within the window.
--   replayed  the token was rotated less than p_reuse_grace ago and its successor is
--             still live (several tabs, a lost answer retried): successor_sealed is
--             that successor, for the API to hand out again. Nothing new is issued.
--   reused    the token was rotated longer ago, or its successor was rotated in turn:
--             a stolen token replayed. The whole session is revoked (committed: the
--             caller must not raise after this outcome).
--   invalid   unknown token, or its session is revoked, expired, idle or its user disabled.
create or replace function auth.rotate_refresh_token(
  p_token_hash bytea, p_new_token_hash bytea, p_new_token_sealed bytea, p_reuse_grace interval
) returns table (outcome text, user_id uuid, session_id uuid, expires_at timestamptz, successor_sealed bytea)
language plpgsql volatile security definer set search_path = '' as $$
declare
  r record;
begin
  -- The token's row lock serializes concurrent refreshes of one token: the second one
  -- sees the first one's rotation, and gets its successor.
  select t.rotated_at, t.successor_hash, t.successor_sealed, s.id as session_id, s.user_id,
         s.revoked_at, s.expires_at, s.last_used_at, s.idle_timeout, u.status
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
    return query select 'invalid'::text, null::uuid, null::uuid, null::timestamptz, null::bytea;
    return;
  end if;
  if r.rotated_at is not null then
    if r.rotated_at > pg_catalog.now() - coalesce(p_reuse_grace, interval '0')
       and r.successor_sealed is not null
       and exists (select from auth.refresh_tokens n
                    where n.token_hash = r.successor_hash and n.session_id = r.session_id and n.rotated_at is null) then
      update auth.sessions s set last_used_at = pg_catalog.now() where s.id = r.session_id;
      return query select 'replayed'::text, r.user_id, r.session_id, r.expires_at, r.successor_sealed;
      return;
    end if;
    update auth.sessions s set revoked_at = pg_catalog.now(), revoked_reason = 'refresh_token_reused'
     where s.id = r.session_id;
    return query select 'reused'::text, r.user_id, r.session_id, r.expires_at, null::bytea;
    return;
  end if;
  if p_new_token_sealed is null then
    raise exception 'rotation needs the sealed successor' using errcode = '22023';
  end if;
  -- Only the live token's predecessor keeps a sealed successor: the older ones can no
  -- longer be replayed within any window.
  update auth.refresh_tokens t set successor_sealed = null
   where t.session_id = r.session_id and t.successor_sealed is not null;
  update auth.refresh_tokens t
     set rotated_at = pg_catalog.now(), successor_hash = p_new_token_hash, successor_sealed = p_new_token_sealed
   where t.token_hash = p_token_hash;
  insert into auth.refresh_tokens (token_hash, session_id) values (p_new_token_hash, r.session_id);
  update auth.sessions s set last_used_at = pg_catalog.now() where s.id = r.session_id;
  return query select 'rotated'::text, r.user_id, r.session_id, r.expires_at, null::bytea;
end
$$;
comment on function auth.rotate_refresh_token(bytea, bytea, bytea, interval) is
  'POST /v1/auth/refresh: exchanges the session''s live refresh token (by SHA-256) for a new one (its sealed copy kept on the old row); a replay within the grace window gets that same successor back (replayed), never a second live token; a replay after it revokes the session (reused).';

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger users_revoke_sessions_when_disabled
  after update of status on auth.users
  for each row
  when (old.status = 'active' and new.status <> 'active')
  execute function auth.revoke_sessions_of_disabled_user();
