-- Invitations: an org OWNER/ADMIN invites an email address to the current organization
-- with an org role and project grants, none above their own. The invitee reads the
-- invitations addressed to their verified email; accepting and declining go through the
-- kernel functions app.accept_invitation / app.decline_invitation (by token), which
-- write the memberships for the caller only (memberships_*_kernel, project_members_*_kernel).

-- The invitee's own auth.users row (email_verified_at; users_update_kernel): identity.sql.

alter table app.invitations enable row level security;
alter table app.invitations force row level security;

-- token_hash is never readable by the API role: a token is looked up by the kernel only.
-- token_disclosed_at: set when the development switch shows a token in an answer, cleared
-- only with a new token (trigger invitations_reissue, which also re-checks authority).
grant select (org_id, id, email, role, expires_at, invited_by, created_at, updated_at,
              accepted_at, accepted_by, declined_at, revoked_at, token_disclosed_at),
      insert (org_id, email, role, token_hash, expires_at, invited_by),
      update (token_hash, expires_at, revoked_at, token_disclosed_at)
   on app.invitations to rowguard_api;

create policy invitations_select on app.invitations for select to rowguard_api
  using ((org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
         or lower(email) = (select app.my_verified_email()));
comment on policy invitations_select on app.invitations is
  'Org OWNER/ADMIN read the invitations of the current organization; a user reads those addressed to their verified email.';

create policy invitations_insert on app.invitations for insert to rowguard_api
  with check (org_id = (select app.current_org_id())
              and (select app.current_org_role()) >= 'ADMIN'
              and role <= (select app.current_org_role())
              and invited_by = (select app.current_user_id()));
comment on policy invitations_insert on app.invitations is
  'Org OWNER/ADMIN invite to the current organization, with at most their own org role, signed as themselves.';

create policy invitations_update on app.invitations for update to rowguard_api
  using (org_id = (select app.current_org_id())
         and (select app.current_org_role()) >= 'ADMIN'
         and role <= (select app.current_org_role()))
  with check (org_id = (select app.current_org_id()));
comment on policy invitations_update on app.invitations is
  'Org OWNER/ADMIN revoke or resend (new token, new expiry) invitations of the current organization they could have sent; a resend must also hold every project grant (trigger invitations_reissue).';

grant select, update (accepted_at, accepted_by, declined_at, revoked_at) on app.invitations to rowguard_kernel;
create policy invitations_select_kernel on app.invitations for select to rowguard_kernel
  using (true);
comment on policy invitations_select_kernel on app.invitations is
  'app.accept_invitation / app.decline_invitation find an invitation by the hash of its token (then check the caller''s email); app.lapse_invitations_of_inviter finds an inviter''s pending ones.';
create policy invitations_update_kernel on app.invitations for update to rowguard_kernel
  using (true) with check (accepted_by is null or accepted_by = (select app.current_user_id()));
comment on policy invitations_update_kernel on app.invitations is
  'app.accept_invitation / app.decline_invitation stamp the invitation accepted (by the caller) or declined; app.lapse_invitations_of_inviter revokes those of an inviter who left or was demoted. The column grant allows nothing else.';

alter table app.invitation_projects enable row level security;
alter table app.invitation_projects force row level security;

grant select, insert (org_id, invitation_id, project_id, role, finance, analytics)
   on app.invitation_projects to rowguard_api;

create policy invitation_projects_select on app.invitation_projects for select to rowguard_api
  using ((org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
         or invitation_id in (select i.id from app.invitations i where lower(i.email) = (select app.my_verified_email())));
comment on policy invitation_projects_select on app.invitation_projects is
  'Who reads an invitation reads its project grants: org OWNER/ADMIN of the current organization, and the invitee (verified email).';

create policy invitation_projects_insert on app.invitation_projects for insert to rowguard_api
  with check (org_id = (select app.current_org_id())
              and (select app.current_org_role()) >= 'ADMIN'
              and invitation_id in (select i.id from app.invitations i
                                     where i.org_id = (select app.current_org_id())
                                       and i.invited_by = (select app.current_user_id()))
              and app.within_my_project_permission(project_id, role, finance, analytics));
comment on policy invitation_projects_insert on app.invitation_projects is
  'Org OWNER/ADMIN attach project grants to an invitation they issued, each at most their own permission in that project.';

grant select on app.invitation_projects to rowguard_kernel;
create policy invitation_projects_select_kernel on app.invitation_projects for select to rowguard_kernel
  using (true);
comment on policy invitation_projects_select_kernel on app.invitation_projects is
  'app.accept_invitation reads the grants of the invitation it applies.';

grant execute on function
  api.create_invitation(text, text, jsonb, text, interval, boolean),
  api.list_invitations(text, int, uuid),
  api.revoke_invitation(uuid),
  api.resend_invitation(uuid, text, interval, boolean),
  api.list_my_invitations(int, uuid),
  api.accept_invitation(text),
  api.decline_invitation(text)
to rowguard_api;
grant execute on function
  app.accept_invitation(bytea),
  app.decline_invitation(bytea),
  app.my_invitation_organizations(),
  app.invitation_within_my_authority(uuid)
to rowguard_api;
grant execute on function
  api.token_hash(text),
  api.invitation_json(uuid),
  api.invitation_sent(uuid, text, boolean),
  api.raise_invitation_unchangeable(uuid)
to rowguard_api;
