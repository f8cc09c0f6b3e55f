package api

import (
	"net/http"
)

func (s *Server) routeBilling() {
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/billing", s.getBilling, true)
}

// GET /v1/orgs/{org_id}/billing
func (s *Server) getBilling(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.get_billing()`)
}
