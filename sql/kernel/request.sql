-- Who is asking: the current_* accessors every policy calls, the caller's organizations and role,
-- and auth.begin_request, the first statement of every authenticated request.
-- Part of the kernel code package (install.sql).

-- Who is asking. auth.begin_request sets both with set_config(..., true) (transaction-local).
-- After such a setting's transaction ends the backend reads '' rather than NULL: nullif.
-- Policies call them as (select app.current_user_id()) so the planner runs them once.
create or replace function app.current_user_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.user_id', true), '')::uuid
$$;
comment on function app.current_user_id() is 'The user of the current request (app.user_id), or NULL outside a request.';

create or replace function app.current_org_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.org_id', true), '')::uuid
$$;
comment on function app.current_org_id() is 'The organization the current request acts in (app.org_id, from the URL path), or NULL.';

create or replace function app.current_session_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.session_id', true), '')::uuid
$$;
comment on function app.current_session_id() is 'The session of the current request (app.session_id, set by auth.begin_request), or NULL.';

-- ---------------------------------------------------------------------------------------
-- The helpers below: SECURITY DEFINER, owned by rowguard_kernel, search_path ''.
-- plpgsql on purpose: a SQL-language SECURITY DEFINER function is never inlined and is
-- re-planned on every call; plpgsql caches its plan after the first.
-- They take no user or org argument: they answer only about the caller (app.user_id),
-- so calling one directly reveals nothing the caller may not know.
-- ---------------------------------------------------------------------------------------
set local role rowguard_kernel;

-- A deleted organization is not "mine" (it can be restored by an OWNER: app.restore_organization).
create or replace function app.my_org_ids() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return array(select m.org_id
                 from app.memberships m
                 join app.organizations o on o.id = m.org_id
                where m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
                  and o.deleted_at is null);
end
$$;
comment on function app.my_org_ids() is 'Every live (not deleted) organization the caller belongs to. Policies: org_id = any ((select app.my_org_ids())::uuid[]).';

-- No role in a deleted organization.
create or replace function app.current_org_role() returns app.org_role
language plpgsql stable security definer set search_path = '' as $$
begin
  return (select m.role
            from app.memberships m
            join app.organizations o on o.id = m.org_id
           where m.org_id = nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid
             and m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
             and o.deleted_at is null);
end
$$;
comment on function app.current_org_role() is 'The caller''s role in the current organization, or NULL when not a member or the organization is deleted. Policies: (select app.current_org_role()).';

-- The first statement of every request. A deleted organization answers like one that
-- does not exist, read in the same query as membership and suspension.
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
           or (exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = p_user_id)
               and exists (select from app.organizations o where o.id = p_org_id and o.deleted_at is null)),
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
  -- Another tenant's id, a non-existent id and a deleted organization answer the same.
  if not v_member then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if v_suspended then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  -- On a hot standby (ROWGUARD_READ_DATABASE_URL) nothing can be written: the session is
  -- checked all the same (read from the replayed row), and the touch that is due is left to
  -- the API, which sends this function to the primary (it reads app.session_touch_due).
  if v_touch and pg_catalog.pg_is_in_recovery() then
    v_set := pg_catalog.set_config('app.session_touch_due', 'on', true);
  elsif v_touch then
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
  'First statement of every authenticated request: checks the session is live (not revoked — disabling a user revokes theirs —, not past expires_at, not idle beyond idle_timeout), checks membership of the organization in the path, that it is not deleted (RG404 like a stranger''s) nor suspended (RGS03), and sets app.user_id / app.session_id / app.org_id transaction-locally. On a hot standby it writes nothing: a due last_used_at touch is flagged in app.session_touch_due for the API to send to the primary.';

set local role rowguard_owner;

-- The first statement of a request served by a read replica (docs/scaling.md): the API
-- read the primary's WAL insert position after the request arrived (p_lsn); the standby
-- answers only once it has replayed up to it, so the request sees every write acknowledged
-- before it — the client's own and a revocation alike. Waits up to p_wait, then RGR01 (the
-- API asks the primary instead). Not a standby (a promoted one): RGR02. Invoker's rights:
-- it reads nothing but the server's replay position.
create or replace function auth.await_replay(p_lsn pg_lsn, p_wait interval) returns void
language plpgsql volatile set search_path = '' as $$
declare
  v_until timestamptz := pg_catalog.clock_timestamp() + p_wait;
begin
  if not pg_catalog.pg_is_in_recovery() then
    raise exception 'this server is not a hot standby' using errcode = 'RGR02';
  end if;
  loop
    exit when pg_catalog.pg_last_wal_replay_lsn() >= p_lsn;
    if pg_catalog.clock_timestamp() >= v_until then
      raise exception 'the standby has not replayed the primary''s WAL up to %', p_lsn using errcode = 'RGR01';
    end if;
    perform pg_catalog.pg_sleep(0.001);
  end loop;
end
$$;
comment on function auth.await_replay(pg_lsn, interval) is
  'First statement of a request served by a hot standby: waits (at most p_wait) until the standby has replayed the primary''s WAL up to p_lsn, read from the primary after the request arrived (read-your-writes, revocations seen at once); RGR01 when it has not, RGR02 when this server is not a standby.';
