-- Projects: the protected business entity of an organization. A row is visible only in
-- the organization the request acts in, and only to its members; OWNER/ADMIN write.

grant select, insert (org_id, name, description, created_by), update (name, description), delete
   on app.projects to rowguard_api;

create policy projects_select on app.projects for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) is not null);
comment on policy projects_select on app.projects is
  'Every member of the current organization reads its projects; nobody else reads any.';

create policy projects_insert on app.projects for insert to rowguard_api
  with check (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy projects_insert on app.projects is
  'OWNER and ADMIN create projects, only in the current organization.';

create policy projects_update on app.projects for update to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
  with check (org_id = (select app.current_org_id()));
comment on policy projects_update on app.projects is
  'OWNER and ADMIN change projects of the current organization; a row can never be moved to another.';

create policy projects_delete on app.projects for delete to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy projects_delete on app.projects is
  'OWNER and ADMIN delete projects of the current organization.';

grant execute on function
  api.list_projects(int, uuid),
  api.create_project(text, text),
  api.get_project(uuid),
  api.update_project(uuid, jsonb),
  api.delete_project(uuid)
to rowguard_api;
