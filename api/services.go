package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

func (s *Server) routeServices() {
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/services", s.listServices, true)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/services", s.createService, true)
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/services/{service_id}", s.getService, true)
	s.handle(http.MethodPatch, "/v1/orgs/{org_id}/services/{service_id}", s.updateService, true)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}/services/{service_id}", s.deleteService, true)
}

// Limits that mirror the CHECKs on app.services.
const (
	MaxServiceMinutes  = 1440
	MaxServiceCapacity = 1000
)

// serviceMembers are the members of a service body; create requires the
// first ones, PATCH takes any (at least one).
func serviceMembers(m map[string]any, create bool) []bodyField {
	return []bodyField{
		member("name", create, false, m, stringValue(checkName)),
		member("description", false, true, m, stringValue(checkDescription)),
		member("duration_minutes", create, false, m, intValue(1, MaxServiceMinutes)),
		member("price", create, false, m, stringValue(checkAmount)),
		member("currency", create, false, m, stringValue(checkCurrency)),
		member("capacity", false, false, m, intValue(1, MaxServiceCapacity)),
		member("active", false, false, m, boolValue),
	}
}

// GET /v1/orgs/{org_id}/services[?active=true|false]
func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := queryFilters{r: r}
	active := q.get("active", oneOf("true", "false"))
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_services($1::int, $2::uuid, $3::boolean)`, limit, cursor, active)
}

// POST /v1/orgs/{org_id}/services
func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	body, err := decodeJSONObject(r, func(m map[string]any) []bodyField { return serviceMembers(m, true) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusCreated, `select api.create_service($1::jsonb)`, string(body))
}

// GET /v1/orgs/{org_id}/services/{service_id}
func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.get_service($1::uuid)`, mux.Vars(r)["service_id"])
}

// PATCH /v1/orgs/{org_id}/services/{service_id}
func (s *Server) updateService(w http.ResponseWriter, r *http.Request) {
	patch, err := decodePatch(r, func(m map[string]any) []bodyField { return serviceMembers(m, false) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.update_service($1::uuid, $2::jsonb)`, mux.Vars(r)["service_id"], string(patch))
}

// DELETE /v1/orgs/{org_id}/services/{service_id}
func (s *Server) deleteService(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.delete_service($1::uuid)`, mux.Vars(r)["service_id"])
}
