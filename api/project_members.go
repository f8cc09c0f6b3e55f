package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// GET /v1/orgs/{org_id}/projects/{project_id}/members
func (s *Server) listProjectMembers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_project_members($1::uuid, $2::int, $3::uuid)`,
		mux.Vars(r)["project_id"], limit, cursor)
}

// PUT /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}
func (s *Server) putProjectMember(w http.ResponseWriter, r *http.Request) {
	var (
		role               string
		finance, analytics *string // nil: the role's default level
	)
	if err := decodeBody(r,
		str("role", true, &role, oneOf(projectRoles...)),
		nullableStr("finance", &finance, oneOf(domainLevels...)),
		nullableStr("analytics", &analytics, oneOf(domainLevels...)),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	vars := mux.Vars(r)
	s.call(w, r, http.StatusOK, `select api.put_project_member($1::uuid, $2::uuid, $3, $4, $5)`,
		vars["project_id"], vars["user_id"], role, finance, analytics)
}

// DELETE /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}
func (s *Server) removeProjectMember(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	s.call(w, r, http.StatusNoContent, `select api.remove_project_member($1::uuid, $2::uuid)`,
		vars["project_id"], vars["user_id"])
}
