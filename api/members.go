package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// PATCH /v1/orgs/{org_id}/members/{user_id}
func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) {
	var role string
	if err := decodeBody(r, str("role", true, &role, oneOf(orgRoles...))); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.update_member($1::uuid, $2)`, mux.Vars(r)["user_id"], role)
}

// DELETE /v1/orgs/{org_id}/members/{user_id}
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.remove_member($1::uuid)`, mux.Vars(r)["user_id"])
}
