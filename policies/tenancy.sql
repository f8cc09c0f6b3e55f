-- Tenancy: organizations and memberships. These two tables are the index of "which
-- organizations am I in", so a user sees every organization they belong to (GET /v1/orgs,
-- /v1/auth/me), not only the one in the URL. Changes act on the current organization only.

-- ----- app.organizations --------------------------------------------------------------
alter table app.organizations enable row level security;
alter table app.organizations force row level security;
-- No DELETE: an organization is soft-deleted (app.soft_delete_organization, an OWNER
-- after a fresh reauthentication) and purged only by `rowguard purge-deleted`.
grant select, insert (id, name, slug), update (name, slug)
   on app.organizations to rowguard_api;

create policy organizations_select on app.organizations for select to rowguard_api
  using (id = any ((select app.my_org_ids())::uuid[]));
comment on policy organizations_select on app.organizations is
  'A user sees the live organizations they are a member of, and no other (app.my_org_ids skips deleted ones).';

create policy organizations_insert on app.organizations for insert to rowguard_api
  with check ((select app.current_user_id()) is not null);
comment on policy organizations_insert on app.organizations is
  'Any signed-in user may found an organization; trigger app.add_creator_as_owner makes them its OWNER.';

create policy organizations_update on app.organizations for update to rowguard_api
  using (id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
  with check (id = (select app.current_org_id()));
comment on policy organizations_update on app.organizations is
  'OWNER and ADMIN rename the organization the request acts in.';


-- Platform admins (the one cross-tenant read; platform_admin.sql lists them all).
create policy organizations_select_platform_admin on app.organizations for select to rowguard_api
  using ((select app.is_platform_admin()));
comment on policy organizations_select_platform_admin on app.organizations is
  'Platform admins read every organization (GET /v1/admin/tenants). Not their data: no other tenant table has an admin policy but subscriptions.';

-- ----- app.memberships ----------------------------------------------------------------
alter table app.memberships enable row level security;
alter table app.memberships force row level security;
-- The API role never INSERTs a membership: the founder's OWNER row is written by trigger
-- app.add_creator_as_owner and an invitee's by app.accept_invitation (both kernel).
-- Changing a role and removing a member are the policies below; trigger
-- app.keep_an_owner (sql/kernel/organizations.sql) refuses to leave an organization without an OWNER.
grant select, update (role), delete on app.memberships to rowguard_api;

create policy memberships_select on app.memberships for select to rowguard_api
  using (org_id = any ((select app.my_org_ids())::uuid[]));
comment on policy memberships_select on app.memberships is
  'A user sees the memberships (who, which role) of every organization they belong to.';

create policy memberships_update on app.memberships for update to rowguard_api
  using (org_id = (select app.current_org_id())
         and (select app.current_org_role()) >= 'ADMIN'
         and (role < 'OWNER' or (select app.current_org_role()) = 'OWNER'))
  with check (org_id = (select app.current_org_id()) and role <= (select app.current_org_role()));
comment on policy memberships_update on app.memberships is
  'OWNER and ADMIN change roles in the current organization, never to more than their own role; only an OWNER changes an OWNER''s.';

create policy memberships_delete on app.memberships for delete to rowguard_api
  using (org_id = (select app.current_org_id())
         and (user_id = (select app.current_user_id())
              or ((select app.current_org_role()) >= 'ADMIN'
                  and (role < 'OWNER' or (select app.current_org_role()) = 'OWNER'))));
comment on policy memberships_delete on app.memberships is
  'Anyone leaves (removes themselves); OWNER and ADMIN remove members of the current organization; only an OWNER removes an OWNER.';

grant select, insert, update (role) on app.memberships to rowguard_kernel;
create policy memberships_select_kernel on app.memberships for select to rowguard_kernel
  using (true);
comment on policy memberships_select_kernel on app.memberships is
  'app.current_org_role, app.my_org_ids, app.my_project_permissions and auth.begin_request answer about the caller''s memberships (they filter by app.user_id themselves); app.keep_an_owner counts an organization''s OWNERs.';
create policy memberships_insert_kernel on app.memberships for insert to rowguard_kernel
  with check (user_id = (select app.current_user_id()));
comment on policy memberships_insert_kernel on app.memberships is
  'The caller joins: app.add_creator_as_owner (founder becomes OWNER) and app.accept_invitation (the invited role). Never anyone else.';
create policy memberships_update_kernel on app.memberships for update to rowguard_kernel
  using (user_id = (select app.current_user_id()))
  with check (user_id = (select app.current_user_id()));
comment on policy memberships_update_kernel on app.memberships is
  'app.accept_invitation raises the caller''s own role to the invited one when they already belong; never anyone else''s.';
grant delete on app.memberships to rowguard_kernel;
create policy memberships_delete_kernel on app.memberships for delete to rowguard_kernel
  using (user_id = (select app.current_user_id()));
comment on policy memberships_delete_kernel on app.memberships is
  'auth.erase_account (rowguard purge-deleted, acting as the erased user) ends every membership of that user, in every organization; never anyone else''s.';

grant select on app.organizations to rowguard_kernel;
create policy organizations_select_kernel on app.organizations for select to rowguard_kernel
  using (true);
comment on policy organizations_select_kernel on app.organizations is
  'app.keep_an_owner: does the organization still exist (deleting it removes every OWNER at once, which is fine)? auth.begin_request, app.my_org_ids, app.current_org_role: is it deleted?';

grant update (deleted_at, deleted_by), delete on app.organizations to rowguard_kernel;
create policy organizations_update_kernel on app.organizations for update to rowguard_kernel
  using (true) with check (true);
comment on policy organizations_update_kernel on app.organizations is
  'app.soft_delete_organization (an OWNER, reauthenticated, the current organization) and app.restore_organization (an OWNER, within 30 days) set or clear deleted_at / deleted_by: the column grant allows nothing else.';
create policy organizations_delete_kernel on app.organizations for delete to rowguard_kernel
  using (deleted_at < now() - interval '30 days');
comment on policy organizations_delete_kernel on app.organizations is
  'app.purge_deleted_organizations (rowguard purge-deleted) deletes organizations soft-deleted over 30 days ago, never a live or restorable one.';

grant execute on function
  app.soft_delete_organization(),
  app.my_deleted_organizations(),
  app.restore_organization(uuid)
to rowguard_api;

-- ----- the API functions of this domain -------------------------------------------------
grant execute on function
  api.list_organizations(int, uuid),
  api.create_organization(text, text),
  api.get_organization(),
  api.update_organization(jsonb),
  api.delete_organization(),
  api.list_deleted_organizations(),
  api.restore_organization(uuid),
  api.list_members(int, uuid),
  api.update_member(uuid, text),
  api.remove_member(uuid)
to rowguard_api;

-- POST /v1/orgs/{org_id}/export (sql/api/org_export.sql): reads under every table's own
-- policies, as the OWNER asking.
grant execute on function api.export_organization() to rowguard_api;
