-- Platform operators: who is one, making one (`rowguard admin grant`), disabling a user.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

create or replace function app.is_platform_admin() returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((select u.is_platform_admin
                     from auth.users u
                    where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
                      and u.status = 'active'), false);
end
$$;
comment on function app.is_platform_admin() is 'Whether the caller is an active platform admin. Policies: (select app.is_platform_admin()).';

-- `rowguard admin grant|revoke EMAIL`: the only way to make or unmake a platform admin.
-- Executable by rowguard_owner (the migration role the command line uses), never by the API.
create or replace function auth.set_platform_admin(p_email text, p_admin boolean) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid;
begin
  update auth.users u set is_platform_admin = p_admin
   where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_email))
  returning u.id into v_user;
  if v_user is null then
    raise exception 'no user has the email %', p_email using errcode = 'RG404';
  end if;
  insert into platform.admin_audit (actor_user_id, actor, action, details)
  values (null, 'command line', case when p_admin then 'admin.grant' else 'admin.revoke' end,
          pg_catalog.jsonb_build_object('user_id', v_user, 'email', p_email));
  return v_user;
end
$$;
comment on function auth.set_platform_admin(text, boolean) is 'rowguard admin grant|revoke EMAIL: sets auth.users.is_platform_admin and writes the audit row. Not granted to the API role.';
grant execute on function auth.set_platform_admin(text, boolean) to rowguard_owner;

-- `rowguard admin disable|enable EMAIL`. Returns the user and how many sessions the
-- change revoked (0 when enabling, or when the user was already disabled).
create or replace function auth.set_user_status(p_email text, p_status auth.user_status)
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
