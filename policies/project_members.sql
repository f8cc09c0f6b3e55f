-- Project memberships: who acts in which project with which project role and domain
-- levels. The matrix itself (role → default levels; org OWNER/ADMIN act as project
-- OWNER/ADMIN everywhere) is app.project_role_matrix() and its helpers in
-- sql/kernel/role_matrix.sql; these policies only apply it:
--   * read:   the members of a project the caller can see, and the caller's own rows;
--   * write:  project OWNER/ADMIN (so org OWNER/ADMIN too), never above their own
--             permission (app.within_my_project_permission), and only an OWNER touches
--             an OWNER's membership;
--   * leave:  anyone removes their own project membership.

-- The project kernel: the helpers every project-scoped policy (this domain's and the
-- finance/analytics domains') calls. They answer only about the caller, once per statement.
grant execute on function
  app.my_project_permissions(),
  app.my_project_ids(app.project_role),
  app.my_domain_project_ids(app.permission_domain, app.domain_level),
  app.within_my_project_permission(uuid, app.project_role, app.domain_level, app.domain_level),
  app.my_verified_email(),
  app.project_role_matrix(),
  app.domain_default(app.project_role, app.permission_domain),
  app.org_role_as_project_role(app.org_role),
  app.effective_role(app.org_role, app.project_role),
  app.effective_level(app.org_role, app.project_role, app.domain_level, app.permission_domain),
  app.invitation_status(timestamptz, timestamptz, timestamptz, timestamptz)
to rowguard_api, rowguard_kernel;

alter table app.project_members enable row level security;
alter table app.project_members force row level security;

grant select, insert (org_id, project_id, user_id, role, finance, analytics),
      update (role, finance, analytics), delete
   on app.project_members to rowguard_api;

create policy project_members_select on app.project_members for select to rowguard_api
  using (user_id = (select app.current_user_id())
         or (org_id = (select app.current_org_id())
             and project_id = any ((select app.my_project_ids('VIEWER'))::uuid[])));
comment on policy project_members_select on app.project_members is
  'A user sees the members of every project they can see in the current organization, and their own project memberships everywhere (GET /v1/auth/me).';

create policy project_members_insert on app.project_members for insert to rowguard_api
  with check (org_id = (select app.current_org_id())
              and project_id = any ((select app.my_project_ids('ADMIN'))::uuid[])
              and app.within_my_project_permission(project_id, role, finance, analytics));
comment on policy project_members_insert on app.project_members is
  'Project OWNER/ADMIN (org OWNER/ADMIN included) add members to a project of the current organization, with at most their own role and levels.';

create policy project_members_update on app.project_members for update to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_project_ids('ADMIN'))::uuid[])
         and (role < 'OWNER' or project_id = any ((select app.my_project_ids('OWNER'))::uuid[])))
  with check (org_id = (select app.current_org_id())
              and app.within_my_project_permission(project_id, role, finance, analytics));
comment on policy project_members_update on app.project_members is
  'Project OWNER/ADMIN change a membership (only an OWNER an OWNER''s), never to more than their own role and levels.';

create policy project_members_delete on app.project_members for delete to rowguard_api
  using (org_id = (select app.current_org_id())
         and (user_id = (select app.current_user_id())
              or (project_id = any ((select app.my_project_ids('ADMIN'))::uuid[])
                  and (role < 'OWNER' or project_id = any ((select app.my_project_ids('OWNER'))::uuid[])))));
comment on policy project_members_delete on app.project_members is
  'A member leaves a project; project OWNER/ADMIN remove members (only an OWNER removes an OWNER).';

grant select, insert, update (role, finance, analytics) on app.project_members to rowguard_kernel;
-- One policy, the caller's own rows first: OR evaluates left to right, so on the hot
-- path (app.my_project_permissions, the caller's rows only) app.my_inviter_ids never runs.
create policy project_members_select_kernel on app.project_members for select to rowguard_kernel
  using (user_id = (select app.current_user_id())
         or user_id = any ((select app.my_inviter_ids())::uuid[]));
comment on policy project_members_select_kernel on app.project_members is
  'app.my_project_permissions reads the caller''s own project memberships; app.accept_invitation (app.invitation_within_authority) those of whoever sent a pending invitation to the caller''s address, to check they still hold what it grants. No kernel function returns another user''s rows to anyone.';
create policy project_members_insert_kernel on app.project_members for insert to rowguard_kernel
  with check (user_id = (select app.current_user_id()));
comment on policy project_members_insert_kernel on app.project_members is
  'app.accept_invitation: the invitee''s project grants, for the caller only.';
create policy project_members_update_kernel on app.project_members for update to rowguard_kernel
  using (user_id = (select app.current_user_id())) with check (user_id = (select app.current_user_id()));
comment on policy project_members_update_kernel on app.project_members is
  'app.accept_invitation: a grant replaces the caller''s existing membership of that project.';

grant execute on function
  api.list_project_members(uuid, int, uuid),
  api.put_project_member(uuid, uuid, text, text, text),
  api.remove_project_member(uuid, uuid)
to rowguard_api;
-- Building blocks of this domain's api.* functions (JSON shapes, checks).
grant execute on function
  api.permissions_json(app.org_role, app.project_role, app.domain_level, app.domain_level),
  api.project_permissions(uuid),
  api.my_permissions_json(app.memberships),
  api.project_member_json(app.project_members),
  api.require_visible_project(uuid),
  api.member_json(app.memberships)
to rowguard_api;
