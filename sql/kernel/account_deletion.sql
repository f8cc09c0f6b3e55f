-- Deleting an account (issue 18): DELETE /v1/auth/me schedules it, POST /v1/auth/restore
-- cancels it within 30 days, `rowguard purge-deleted` erases it after that. As an
-- organization's deletion (organizations.sql): reversible for a grace period.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

-- How long a deleted account can be restored. One place: the functions below and the
-- answer of DELETE /v1/auth/me read it.
create or replace function auth.account_grace() returns interval
language sql immutable parallel safe as $$ select interval '30 days' $$;
comment on function auth.account_grace() is
  'How long a deleted account stays restorable before `rowguard purge-deleted` erases it: 30 days.';

-- DELETE /v1/auth/me, for the caller only, in one transaction:
--   * deleted_at = now: the account is pending deletion. auth.open_session refuses it
--     (RGA03, 403 account-deletion-pending, telling how to restore), so no way in
--     (password, email code, provider, sign-up verification) opens a session;
--   * every session: revoked now (reason account_deleted), its user agent and IP erased;
--     the refresh tokens die with the session, the access tokens at the next request
--     (auth.begin_request reads the session);
--   * the memberships stay, inert: without a session they grant nothing, and they no
--     longer count as an OWNER (app.keep_an_owner, the check below), so an organization
--     always keeps an OWNER who can act. Its OWNERs and ADMINs may remove them as any
--     member; a restore finds the rest as they were; the purge ends them;
--   * an email to the account's address says when it will be erased and how to restore it.
-- Refused (RG409) while the caller is the last OWNER of an organization (OWNERs pending
-- deletion do not count), naming them: hand it over or delete it first. Needs a fresh
-- proof (RGR03).
create or replace function auth.delete_account() returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user  uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_orgs  text;
  v_email text;
begin
  perform auth.require_recent_reauthentication();
  -- Serialize with a concurrent demotion, removal or deletion of a fellow OWNER
  -- (app.keep_an_owner takes the same locks).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(m.org_id::text, 4))
     from app.memberships m where m.user_id = v_user and m.role = 'OWNER' order by m.org_id;
  select pg_catalog.string_agg(pg_catalog.format('%s (%s)', o.name, o.id), ', ' order by o.name, o.id)
    into v_orgs
    from app.memberships m join app.organizations o on o.id = m.org_id
   where m.user_id = v_user and m.role = 'OWNER'
     and not exists (select from app.memberships x join auth.users xu on xu.id = x.user_id
                      where x.org_id = m.org_id and x.role = 'OWNER' and x.user_id <> v_user
                        and xu.deleted_at is null);
  if v_orgs is not null then
    raise exception 'you are the last OWNER of %: make another member OWNER or delete the organization first', v_orgs
      using errcode = 'RG409', column = 'organizations';
  end if;

  update auth.users u set deleted_at = pg_catalog.now()
   where u.id = v_user and u.deleted_at is null
  returning u.email into v_email;
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401';
  end if;
  update auth.sessions s
     set revoked_at = coalesce(s.revoked_at, pg_catalog.now()),
         revoked_reason = coalesce(s.revoked_reason, 'account_deleted'),
         user_agent = null, ip = null
   where s.user_id = v_user;
  perform auth.enqueue_email(v_email, 'account_deletion_scheduled',
    pg_catalog.jsonb_build_object('purge_after', pg_catalog.to_char(
      (pg_catalog.now() + auth.account_grace()) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
end
$$;
comment on function auth.delete_account() is
  'DELETE /v1/auth/me: with a fresh proof (RGR03), unless the last OWNER of an organization (RG409 naming them; OWNERs pending deletion do not count), marks the caller''s account deleted (restorable for 30 days: auth.restore_account), ends every session of theirs and emails the address.';

-- POST /v1/auth/restore: the API verified the account's password (as at sign-in: the
-- API asserts who proved it), outside any request. Clears deleted_at within the grace
-- period and emails the address; the caller then opens a session (api.create_session)
-- in the same statement. NULL (→ 401 like a wrong password) for an erased account or one
-- past its grace period; RG409 for an account that is not pending deletion.
create or replace function auth.restore_account(p_user_id uuid) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user  uuid;
  v_email text;
begin
  update auth.users u set deleted_at = null
   where u.id = p_user_id and u.erased_at is null
     and u.deleted_at > pg_catalog.now() - auth.account_grace()
  returning u.id, u.email into v_user, v_email;
  if v_user is null then
    if exists (select from auth.users u where u.id = p_user_id and u.deleted_at is null) then
      raise exception 'this account is not scheduled for deletion: sign in as usual' using errcode = 'RG409';
    end if;
    return null;
  end if;
  perform auth.enqueue_email(v_email, 'account_restored', '{}'::jsonb);
  return v_user;
end
$$;
comment on function auth.restore_account(uuid) is
  'POST /v1/auth/restore, after the API verified the password: cancels the pending deletion of p_user_id (within 30 days, never an erased account) and emails the address. NULL when there is nothing to restore; RG409 when the account is not pending deletion.';

-- The erasure, as the user (app.user_id set to them, transaction-locally, so that the
-- policies written for "the caller's own rows" apply and the audit trail names them as
-- the member leaving):
--   * every membership (their project roles go with them: foreign keys); the records,
--     bookings and projects they created stay with their organizations, created_by /
--     updated_by cleared by the membership's foreign keys (organization data, not theirs);
--   * every session (revoked already): its user agent and IP erased again, in case;
--   * OpenID Connect links (provider subject, provider email) and password reset tokens;
--   * the account row's personal data: email → deleted-<id>@deleted.invalid (the address
--     is free for a new account from then on), password hash and email_verified_at → NULL,
--     status disabled, platform operator right removed, erased_at = now.
-- What stays, and why: docs/account-and-data.md.
create or replace function auth.erase_account(p_user_id uuid) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_set text;
begin
  v_set := pg_catalog.set_config('app.user_id', p_user_id::text, true);
  delete from app.memberships m where m.user_id = p_user_id;
  update auth.sessions s
     set revoked_at = coalesce(s.revoked_at, pg_catalog.now()),
         revoked_reason = coalesce(s.revoked_reason, 'account_deleted'),
         user_agent = null, ip = null
   where s.user_id = p_user_id;
  delete from auth.identities i where i.user_id = p_user_id;
  delete from auth.password_reset_tokens t where t.user_id = p_user_id;
  update auth.users u
     set email = 'deleted-' || u.id::text || '@deleted.invalid',
         password_hash = null, email_verified_at = null, is_platform_admin = false,
         status = 'disabled', erased_at = pg_catalog.now()
   where u.id = p_user_id and u.deleted_at is not null and u.erased_at is null;
  v_set := pg_catalog.set_config('app.user_id', '', true);
end
$$;
comment on function auth.erase_account(uuid) is
  'rowguard purge-deleted (auth.purge_deleted_accounts) only: erases the personal data of a deleted account and ends its memberships, keeping a tombstone row whose id the audit trails name.';

-- `rowguard purge-deleted`: erases the accounts deleted more than p_grace ago and not
-- erased yet (so a second run finds nothing: idempotent); each one is written to
-- platform.admin_audit. For the command line (rowguard_owner), never the API.
create or replace function auth.purge_deleted_accounts(p_grace interval default interval '30 days')
returns table (user_id uuid, deleted_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
declare
  r record;
begin
  if p_grace is null or p_grace < auth.account_grace() then
    raise exception 'an account stays restorable for 30 days' using errcode = '22023';
  end if;
  if nullif(pg_catalog.current_setting('app.user_id', true), '') is not null then
    raise exception 'the purge runs from the command line, outside any request' using errcode = 'RG403';
  end if;
  for r in select u.id, u.deleted_at from auth.users u
            where u.deleted_at < pg_catalog.now() - p_grace and u.erased_at is null
            order by u.deleted_at, u.id
            for update
  loop
    perform auth.erase_account(r.id);
    insert into platform.admin_audit (actor_user_id, actor, action, org_id, details)
    values (null, 'command line', 'account.purge', null,
            pg_catalog.jsonb_build_object('user_id', r.id, 'deleted_at', r.deleted_at));
    user_id := r.id;
    deleted_at := r.deleted_at;
    return next;
  end loop;
end
$$;
comment on function auth.purge_deleted_accounts(interval) is
  'rowguard purge-deleted: erases (auth.erase_account) the accounts deleted over p_grace (at least 30 days) ago and not erased yet, each recorded in platform.admin_audit (account.purge).';
grant execute on function auth.purge_deleted_accounts(interval) to rowguard_owner;

set local role rowguard_owner;
