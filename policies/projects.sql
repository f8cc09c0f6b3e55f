-- Projects: the protected business entity of an organization. A row is visible only in
-- the organization the request acts in, and there only to the organization's OWNERs and
-- ADMINs and to the project's own members (app.project_members). Who may change or
-- delete it is its effective project role (the matrix in sql/kernel/role_matrix.sql).

alter table app.projects enable row level security;
alter table app.projects force row level security;

grant select, insert (org_id, name, description, created_by), update (name, description), delete
   on app.projects to rowguard_api;

create policy projects_select on app.projects for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and ((select app.current_org_role()) >= 'ADMIN'
              or id = any ((select app.my_project_ids('VIEWER'))::uuid[])));
comment on policy projects_select on app.projects is
  'Org OWNER/ADMIN read every project of the current organization; anyone else only the projects they are a member of (any project role).';

create policy projects_insert on app.projects for insert to rowguard_api
  with check (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy projects_insert on app.projects is
  'Org OWNER and ADMIN create projects, only in the current organization.';

create policy projects_update on app.projects for update to rowguard_api
  using (org_id = (select app.current_org_id()) and id = any ((select app.my_project_ids('ADMIN'))::uuid[]))
  with check (org_id = (select app.current_org_id()));
comment on policy projects_update on app.projects is
  'Project OWNER and ADMIN (which org OWNER/ADMIN are everywhere) change a project of the current organization; a row can never be moved to another.';

create policy projects_delete on app.projects for delete to rowguard_api
  using (org_id = (select app.current_org_id()) and id = any ((select app.my_project_ids('ADMIN'))::uuid[]));
comment on policy projects_delete on app.projects is
  'Project OWNER and ADMIN (which org OWNER/ADMIN are everywhere) delete a project of the current organization (and with it its memberships).';

grant select on app.projects to rowguard_kernel;
create policy projects_select_kernel on app.projects for select to rowguard_kernel
  using (true);
comment on policy projects_select_kernel on app.projects is
  'Two kernel readers, each filtering by organization itself: app.my_project_permissions (the projects of the current organization, for an org OWNER/ADMIN who acts in all of them) and app.count_usage (an organization''s project count for its plan limit, also listed to platform admins).';

grant execute on function
  api.list_projects(int, uuid),
  api.create_project(text, text),
  api.get_project(uuid),
  api.update_project(uuid, jsonb),
  api.delete_project(uuid)
to rowguard_api;
