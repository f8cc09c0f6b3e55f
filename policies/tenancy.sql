-- Tenancy: organizations and memberships. These two tables are the index of "which
-- organizations am I in", so a user sees every organization they belong to (GET /v1/orgs,
-- /v1/auth/me), not only the one in the URL. Changes act on the current organization only.

-- ----- app.organizations --------------------------------------------------------------
grant select, insert (id, name, slug), update (name, slug), delete
   on app.organizations to rowguard_api;

create policy organizations_select on app.organizations for select to rowguard_api
  using (id = any ((select app.my_org_ids())::uuid[]));
comment on policy organizations_select on app.organizations is
  'A user sees the organizations they are a member of, and no other.';

create policy organizations_insert on app.organizations for insert to rowguard_api
  with check ((select app.current_user_id()) is not null);
comment on policy organizations_insert on app.organizations is
  'Any signed-in user may found an organization; trigger app.add_creator_as_owner makes them its OWNER.';

create policy organizations_update on app.organizations for update to rowguard_api
  using (id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
  with check (id = (select app.current_org_id()));
comment on policy organizations_update on app.organizations is
  'OWNER and ADMIN rename the organization the request acts in.';

create policy organizations_delete on app.organizations for delete to rowguard_api
  using (id = (select app.current_org_id()) and (select app.current_org_role()) = 'OWNER');
comment on policy organizations_delete on app.organizations is
  'Only an OWNER deletes the organization the request acts in (and with it every tenant row).';

-- ----- app.memberships ----------------------------------------------------------------
-- The API role has no INSERT/UPDATE/DELETE here: the only membership created so far is
-- the founder's, by the SECURITY DEFINER trigger below. Member management adds policies.
grant select on app.memberships to rowguard_api;

create policy memberships_select on app.memberships for select to rowguard_api
  using (org_id = any ((select app.my_org_ids())::uuid[]));
comment on policy memberships_select on app.memberships is
  'A user sees the memberships (who, which role) of every organization they belong to.';

grant select, insert on app.memberships to rowguard_kernel;
create policy memberships_select_kernel on app.memberships for select to rowguard_kernel
  using (true);
comment on policy memberships_select_kernel on app.memberships is
  'app.current_org_role, app.my_org_ids and auth.begin_request answer about the caller''s memberships; they filter by app.user_id themselves.';
create policy memberships_insert_kernel on app.memberships for insert to rowguard_kernel
  with check (role = 'OWNER' and user_id = (select app.current_user_id()));
comment on policy memberships_insert_kernel on app.memberships is
  'Trigger app.add_creator_as_owner: the founder of an organization becomes its OWNER, and nothing else.';

-- ----- the API functions of this domain -------------------------------------------------
grant execute on function
  api.list_organizations(int, uuid),
  api.create_organization(text, text),
  api.get_organization(),
  api.update_organization(jsonb),
  api.delete_organization(),
  api.list_members(int, uuid)
to rowguard_api;
