package api

import "net/http"

// routeRBAC registers member management, project memberships and invitations:
// the dual-scope role model whose rules are policies in policies/tenancy.sql,
// policies/project_members.sql and policies/invitations.sql.
func (s *Server) routeRBAC() {
	const private = true
	s.handle(http.MethodPatch, "/v1/orgs/{org_id}/members/{user_id}", s.updateMember, private)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}/members/{user_id}", s.removeMember, private)

	s.handle(http.MethodGet, "/v1/orgs/{org_id}/projects/{project_id}/members", s.listProjectMembers, private)
	s.handle(http.MethodPut, "/v1/orgs/{org_id}/projects/{project_id}/members/{user_id}", s.putProjectMember, private)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}/projects/{project_id}/members/{user_id}", s.removeProjectMember, private)

	s.handle(http.MethodPost, "/v1/orgs/{org_id}/invitations", s.createInvitation, private)
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/invitations", s.listInvitations, private)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}/invitations/{invitation_id}", s.revokeInvitation, private)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/invitations/{invitation_id}/resend", s.resendInvitation, private)
	s.handle(http.MethodGet, "/v1/invitations", s.listMyInvitations, private)
	s.handle(http.MethodPost, "/v1/invitations/accept", s.acceptInvitation, private)
	s.handle(http.MethodPost, "/v1/invitations/decline", s.declineInvitation, private)
}

// The role and level names of migration 006 (app.org_role, app.project_role,
// app.domain_level), checked here so a typo is a 422 naming the field.
var (
	orgRoles      = []string{"OWNER", "ADMIN", "MEMBER"}
	projectRoles  = []string{"OWNER", "ADMIN", "ANALYST", "VIEWER"}
	domainLevels  = []string{"NONE", "READ", "MANAGE"}
	invitationSet = InvitationStatuses
)
