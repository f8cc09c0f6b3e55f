-- DELETE /v1/auth/me: a user erases their own account (issue 18).
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

-- What goes, in one transaction, for the caller only:
--   * every membership (their project roles go with them: foreign keys); the records,
--     bookings and projects they created stay with their organizations, created_by /
--     updated_by cleared by the membership's foreign keys (organization data, not theirs);
--   * every session: revoked now (reason account_deleted), its user agent and IP erased;
--     refresh tokens die with the session;
--   * OpenID Connect links (provider subject, provider email) and password reset tokens;
--   * the account row's personal data: email → deleted-<id>@deleted.invalid (the address
--     is free for a new account at once), password hash and email_verified_at → NULL,
--     status disabled, platform operator right removed, deleted_at = now.
-- What stays, and why: the auth.users row as a tombstone and its id, which app.audit_log,
-- platform.admin_audit and invitations name as the actor (append-only trails an
-- organization must keep; the id no longer leads to a person); the audit entries' values
-- as they were (an organization's history of its own data); auth.reauthentications (id,
-- method, time: the security log of step-ups). Codes, pending sign-ups and outbox mail
-- keyed by the address expire within minutes to hours on their own.
-- Refused (RG409) while the caller is the last OWNER of an organization, naming them:
-- hand the organization over or delete it first. Needs a fresh proof (RGR03).
create or replace function auth.delete_account() returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
  v_orgs text;
begin
  perform auth.require_recent_reauthentication();
  -- Serialize with a concurrent demotion or removal of a fellow OWNER (app.keep_an_owner
  -- takes the same locks).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(m.org_id::text, 4))
     from app.memberships m where m.user_id = v_user and m.role = 'OWNER' order by m.org_id;
  select pg_catalog.string_agg(pg_catalog.format('%s (%s)', o.name, o.id), ', ' order by o.name, o.id)
    into v_orgs
    from app.memberships m join app.organizations o on o.id = m.org_id
   where m.user_id = v_user and m.role = 'OWNER'
     and not exists (select from app.memberships x
                      where x.org_id = m.org_id and x.role = 'OWNER' and x.user_id <> v_user);
  if v_orgs is not null then
    raise exception 'you are the last OWNER of %: make another member OWNER or delete the organization first', v_orgs
      using errcode = 'RG409', column = 'organizations';
  end if;

  delete from app.memberships m where m.user_id = v_user;
  update auth.sessions s
     set revoked_at = coalesce(s.revoked_at, pg_catalog.now()),
         revoked_reason = coalesce(s.revoked_reason, 'account_deleted'),
         user_agent = null, ip = null
   where s.user_id = v_user;
  delete from auth.identities i where i.user_id = v_user;
  delete from auth.password_reset_tokens t where t.user_id = v_user;
  update auth.users u
     set email = 'deleted-' || u.id::text || '@deleted.invalid',
         password_hash = null, email_verified_at = null, is_platform_admin = false,
         status = 'disabled', deleted_at = pg_catalog.now()
   where u.id = v_user;
  if not found then
    raise exception 'the session is not valid' using errcode = 'RG401';
  end if;
end
$$;
comment on function auth.delete_account() is
  'DELETE /v1/auth/me: with a fresh proof (RGR03), unless the last OWNER of an organization (RG409 naming them), ends the caller''s memberships and sessions and erases their personal data, keeping a tombstone row whose id the audit trails name.';

set local role rowguard_owner;
