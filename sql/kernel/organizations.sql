-- Organizations and memberships: the creator becomes OWNER, an organization always keeps an
-- OWNER, and soft delete / restore / purge with a fresh proof.
-- Part of the kernel code package (install.sql).

set local role rowguard_kernel;

create or replace function app.add_creator_as_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into app.memberships (org_id, user_id, role)
  values (new.id, nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid, 'OWNER');
  return null;
end
$$;
comment on function app.add_creator_as_owner() is 'AFTER INSERT on organizations: whoever creates an organization becomes its first OWNER, in the same transaction.';
-- CREATE TRIGGER checks that the table owner may execute the function.
grant execute on function app.add_creator_as_owner() to rowguard_owner;

-- Last OWNER: an organization always keeps one, whoever asks and however (a demotion,
-- a removal, leaving). Serialized per organization, so two OWNERs demoting each other
-- at once cannot both win. Deleting the organization itself removes them all.
create or replace function app.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.role <> 'OWNER' or (tg_op = 'UPDATE' and new.role = 'OWNER') then
    return null;
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(old.org_id::text, 4));
  -- An OWNER whose account is pending deletion (auth.delete_account) does not count: they
  -- cannot act, and the purge ends their membership.
  if exists (select from app.organizations o where o.id = old.org_id)
     and not exists (select from app.memberships m join auth.users u on u.id = m.user_id
                      where m.org_id = old.org_id and m.role = 'OWNER' and u.deleted_at is null) then
    raise exception 'an organization must keep at least one OWNER' using errcode = 'RG409', column = 'role',
      hint = 'Make another member OWNER first.';
  end if;
  return null;
end
$$;
comment on function app.keep_an_owner() is
  'AFTER UPDATE OF role / DELETE on memberships: refuses (RG409) to leave an existing organization without an OWNER whose account is not pending deletion.';
grant execute on function app.keep_an_owner() to rowguard_owner;

-- Removing or demoting the last OWNER besides oneself hands the organization to the
-- caller alone: a stolen token must not do it without a fresh proof.
create or replace function app.step_up_for_last_other_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  if old.role = 'OWNER' and (tg_op = 'DELETE' or new.role < 'OWNER')
     and v_user is not null and old.user_id <> v_user
     and exists (select from app.organizations o where o.id = old.org_id)
     and not exists (select from app.memberships m
                      where m.org_id = old.org_id and m.role = 'OWNER'
                        and m.user_id <> old.user_id and m.user_id <> v_user) then
    perform auth.require_recent_reauthentication();
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$$;
comment on function app.step_up_for_last_other_owner() is
  'BEFORE UPDATE OF role / DELETE on memberships: removing or demoting the last OWNER other than the caller needs a recent reauthentication (RGR03).';
grant execute on function app.step_up_for_last_other_owner() to rowguard_owner;

-- DELETE /v1/orgs/{org_id}: an OWNER, freshly reauthenticated, soft-deletes the current
-- organization. The audit trigger on organizations records it (deleted_at, deleted_by).
create or replace function app.soft_delete_organization() returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_org  uuid := nullif(pg_catalog.current_setting('app.org_id', true), '')::uuid;
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  if not exists (select from app.memberships m join app.organizations o on o.id = m.org_id
                  where m.org_id = v_org and m.user_id = v_user and o.deleted_at is null) then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  if not exists (select from app.memberships m where m.org_id = v_org and m.user_id = v_user and m.role = 'OWNER') then
    raise exception 'only an OWNER deletes the organization' using errcode = 'RG403';
  end if;
  perform auth.require_recent_reauthentication();
  update app.organizations o set deleted_at = pg_catalog.now(), deleted_by = v_user
   where o.id = v_org and o.deleted_at is null;
end
$$;
comment on function app.soft_delete_organization() is
  'DELETE /v1/orgs/{org_id}: an OWNER who reauthenticated within 5 minutes (RGR03 otherwise) soft-deletes the current organization.';

-- The caller's deleted organizations they may restore (OWNER, within 30 days).
create or replace function app.my_deleted_organizations()
returns table (id uuid, name text, slug text, deleted_at timestamptz, deleted_by uuid, purge_after timestamptz)
language plpgsql stable security definer set search_path = '' as $$
begin
  return query
    select o.id, o.name, o.slug, o.deleted_at, o.deleted_by, o.deleted_at + interval '30 days'
      from app.memberships m
      join app.organizations o on o.id = m.org_id
     where m.user_id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
       and m.role = 'OWNER'
       and o.deleted_at > pg_catalog.now() - interval '30 days'
     order by o.deleted_at desc, o.id desc;
end
$$;
comment on function app.my_deleted_organizations() is
  'GET /v1/orgs/deleted: the organizations deleted in the last 30 days of which the caller is an OWNER.';

create or replace function app.restore_organization(p_org_id uuid) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_user uuid := nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid;
begin
  -- A suspended organization answers its members as auth.begin_request does: nothing
  -- in it changes, this included.
  if exists (select from app.memberships m where m.org_id = p_org_id and m.user_id = v_user)
     and exists (select from app.subscriptions b where b.org_id = p_org_id and b.suspended_at is not null) then
    raise exception 'this organization is suspended; contact the platform''s support' using errcode = 'RGS03';
  end if;
  -- Another tenant's, a live, a purged and a too-old organization all answer 404, as
  -- does one where the caller is not an OWNER: nothing says it exists.
  update app.organizations o set deleted_at = null, deleted_by = null
   where o.id = p_org_id
     and o.deleted_at > pg_catalog.now() - interval '30 days'
     and exists (select from app.memberships m where m.org_id = o.id and m.user_id = v_user and m.role = 'OWNER');
  if not found then
    raise exception 'no deleted organization of yours has this id (restorable for 30 days)' using errcode = 'RG404';
  end if;
end
$$;
comment on function app.restore_organization(uuid) is
  'POST /v1/orgs/{org_id}/restore: an OWNER of a soft-deleted organization restores it within 30 days of its deletion.';

-- `rowguard purge-deleted`: deletes, with every tenant row (cascade), the organizations
-- deleted more than p_grace ago; each one is written to platform.admin_audit. For the
-- command line (rowguard_owner), never the API.
create or replace function app.purge_deleted_organizations(p_grace interval default interval '30 days')
returns table (org_id uuid, name text, deleted_at timestamptz)
language plpgsql volatile security definer set search_path = '' as $$
begin
  if p_grace is null or p_grace < interval '30 days' then
    raise exception 'an organization stays restorable for 30 days' using errcode = '22023';
  end if;
  return query
    with purged as (
      delete from app.organizations o
       where o.deleted_at < pg_catalog.now() - p_grace
      returning o.id, o.name, o.slug, o.deleted_at, o.deleted_by),
    audited as (
      insert into platform.admin_audit (actor_user_id, actor, action, org_id, details)
      select null, 'command line', 'organization.purge', p.id,
             pg_catalog.jsonb_build_object('name', p.name, 'slug', p.slug, 'deleted_at', p.deleted_at, 'deleted_by', p.deleted_by)
        from purged p
      returning 1)
    select p.id, p.name, p.deleted_at from purged p;
end
$$;
comment on function app.purge_deleted_organizations(interval) is
  'rowguard purge-deleted: deletes (with every tenant row) the organizations soft-deleted over p_grace (at least 30 days) ago, each recorded in platform.admin_audit.';
grant execute on function app.purge_deleted_organizations(interval) to rowguard_owner;

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger memberships_keep_an_owner after update of role or delete on app.memberships
  for each row execute function app.keep_an_owner();
create or replace trigger memberships_step_up_for_last_other_owner before update of role or delete on app.memberships
  for each row execute function app.step_up_for_last_other_owner();
create or replace trigger organizations_add_creator_as_owner after insert on app.organizations
  for each row execute function app.add_creator_as_owner();
