-- Disabling a user revokes their sessions, so that auth.begin_request, the first
-- statement of every request, reads the session row alone.
--
-- Until now begin_request joined auth.users to refuse a disabled user's live sessions:
-- a second table (and its indexes) locked, probed and joined on every request of every
-- user, to catch an event that happens to almost nobody. The event now does the work
-- once: a trigger revokes every live session of a user whose status leaves 'active'
-- (revoked_reason 'disabled', which 011 already allows), and auth.open_session locks
-- the user row (FOR SHARE) while it checks the status, so a sign-in racing the disable
-- either finishes first (and its session is revoked by the trigger) or waits and is
-- refused. Re-enabling an account revives no session: its owner signs in again.
--
-- Also: auth.set_user_status, the kernel function behind `rowguard admin disable|enable
-- EMAIL`, which records each change in platform.admin_audit.
set local role rowguard_owner;
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;

create function auth.revoke_sessions_of_disabled_user() returns trigger
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

-- Redefined from 011: locks the user row while it checks the status (see above).
create or replace function auth.open_session(
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
  -- FOR SHARE conflicts with the UPDATE that disables the user: a disable in flight
  -- makes this wait, then read 'disabled'. Without the lock, a session could be born
  -- after the trigger revoked the others, and live on.
  select u.status into v_status from auth.users u where u.id = p_user_id for share;
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
  'A new session for an active user (the one app.user_id names), with its first refresh token (SHA-256 only). Locks the user row FOR SHARE, so a concurrent disable cannot miss the new session.';

-- Redefined from 011: the session row alone answers "is this session live?" (a disabled
-- user has no live session), still in the one query that also answers membership and
-- suspension, and that also says whether to touch the session.
--
-- enable_seqscan = off pins that query to what it is at every size: three primary-key
-- probes. Below a few hundred sessions the planner's estimate prefers reading the whole
-- of auth.sessions (a page or two) and filtering every row, which measured several
-- times the cost of the probe (tests/load, "revocation check"). Every table it reads
-- has the index it needs, so the setting can choose nothing worse.
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' set enable_seqscan = off as $$
declare
  v_touch     boolean;
  v_member    boolean;
  v_suspended boolean;
  v_set       text;
begin
  select s.last_used_at < pg_catalog.now() - interval '1 minute',
         p_org_id is null
           or exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id),
         p_org_id is not null
           and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null)
    into v_touch, v_member, v_suspended
    from auth.sessions s
   where s.id = p_session_id
     and s.user_id = p_user_id
     and s.revoked_at is null
     and s.expires_at > pg_catalog.now()
     and s.last_used_at + s.idle_timeout > pg_catalog.now();
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
  if v_touch then
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
  'First statement of every authenticated request: checks the session is live (not revoked — disabling a user revokes theirs —, not past expires_at, not idle beyond idle_timeout), checks membership of the organization in the path and that it is not suspended (RGS03), and sets app.user_id / app.session_id / app.org_id transaction-locally.';

-- `rowguard admin disable|enable EMAIL`. Returns the user and how many sessions the
-- change revoked (0 when enabling, or when the user was already disabled).
create function auth.set_user_status(p_email text, p_status auth.user_status)
returns table (user_id uuid, sessions_revoked int)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user    uuid;
  v_old     auth.user_status;
  v_revoked int := 0;
begin
  -- The row lock keeps sign-ins (auth.open_session locks it FOR SHARE) out until the
  -- change commits: the sessions counted here are the ones the trigger revokes.
  select u.id, u.status into v_user, v_old from auth.users u
   where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email))
     for update;
  if not found then
    raise exception 'no user has the email %', p_email using errcode = 'RG404';
  end if;
  if v_old = 'active' and p_status <> 'active' then
    select count(*)::int into v_revoked from auth.sessions s
     where s.user_id = v_user and s.revoked_at is null;
  end if;
  update auth.users u set status = p_status where u.id = v_user;
  insert into platform.admin_audit (actor_user_id, actor, action, details)
  values (null, 'command line', case p_status when 'active' then 'user.enable' else 'user.disable' end,
          pg_catalog.jsonb_build_object('user_id', v_user, 'email', p_email, 'sessions_revoked', v_revoked));
  return query select v_user, v_revoked;
end
$$;
comment on function auth.set_user_status(text, auth.user_status) is
  'rowguard admin disable|enable EMAIL: sets auth.users.status (disabling revokes every live session, by trigger) and writes the audit row. Not granted to the API role.';
-- The command-line role calls it (policies/ revokes only from the API role and PUBLIC).
grant execute on function auth.set_user_status(text, auth.user_status) to rowguard_owner;

set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;

create trigger users_revoke_sessions_when_disabled
  after update of status on auth.users
  for each row
  when (old.status = 'active' and new.status <> 'active')
  execute function auth.revoke_sessions_of_disabled_user();


-- Users disabled before this migration keep no live session: begin_request no longer
-- looks at their status.
update auth.sessions s
   set revoked_at = now(), revoked_reason = 'disabled'
  from auth.users u
 where u.id = s.user_id
   and u.status <> 'active'
   and s.revoked_at is null;
reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger users_revoke_sessions_when_disabled on auth.users;
drop function auth.set_user_status(text, auth.user_status);
drop function auth.revoke_sessions_of_disabled_user();

-- auth.begin_request and auth.open_session as 011 left them.
grant create on schema auth to rowguard_kernel;
set local role rowguard_kernel;
create or replace function auth.begin_request(p_user_id uuid, p_session_id uuid, p_org_id uuid default null) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_last_used_at timestamptz;
  v_member       boolean;
  v_suspended    boolean;
  v_set          text;
begin
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
  if not v_member then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if v_suspended then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  if v_last_used_at < pg_catalog.now() - interval '1 minute' then
    update auth.sessions set last_used_at = pg_catalog.now()
     where id = (select s.id from auth.sessions s
                  where s.id = p_session_id
                    and s.last_used_at < pg_catalog.now() - interval '1 minute'
                    for update skip locked);
  end if;
  v_set := pg_catalog.set_config('app.user_id', p_user_id::text, true);
  v_set := pg_catalog.set_config('app.session_id', p_session_id::text, true);
  v_set := pg_catalog.set_config('app.org_id', coalesce(p_org_id::text, ''), true);
end
$$;
comment on function auth.begin_request(uuid, uuid, uuid) is
  'First statement of every authenticated request: checks the session is live (not revoked, not past expires_at, not idle beyond idle_timeout) and the user active, checks membership of the organization in the path and that it is not suspended (RGS03), and sets app.user_id / app.session_id / app.org_id transaction-locally.';

create or replace function auth.open_session(
  p_user_id uuid, p_user_agent text, p_ip inet, p_refresh_token_hash bytea,
  p_lifetime interval, p_idle_timeout interval
) returns table (session_id uuid, expires_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_status     auth.user_status;
  v_session_id uuid;
begin
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
  delete from auth.sessions s
   where s.user_id = p_user_id
     and coalesce(s.revoked_at, least(s.expires_at, s.last_used_at + s.idle_timeout)) < pg_catalog.now() - interval '30 days';
  return query select v_session_id, pg_catalog.now() + p_lifetime;
end
$$;
comment on function auth.open_session(uuid, text, inet, bytea, interval, interval) is
  'A new session for an active user (the one app.user_id names), with its first refresh token (SHA-256 only).';
set local role rowguard_owner;
revoke create on schema auth from rowguard_kernel;
reset role;
