package api

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// Platform administration: operators manage tenants. Who is an operator is decided by
// the database (auth.users.is_platform_admin, set only by `rowguard admin grant`), and
// what they may reach by the policies in policies/platform_admin.sql.
func (s *Server) routePlatformAdmin() {
	s.handle(http.MethodGet, "/v1/admin/tenants", s.adminListTenants, true)
	s.handle(http.MethodGet, "/v1/admin/tenants/{tenant_id}", s.adminGetTenant, true)
	s.handle(http.MethodPost, "/v1/admin/tenants/{tenant_id}/plan", s.adminSetPlan, true)
	s.handle(http.MethodPost, "/v1/admin/tenants/{tenant_id}/suspend", s.adminSuspend, true)
	s.handle(http.MethodPost, "/v1/admin/tenants/{tenant_id}/unsuspend", s.adminUnsuspend, true)
	s.handle(http.MethodGet, "/v1/admin/audit", s.adminListAudit, true)
}

// MaxSuspendReasonLength matches the CHECK on app.subscriptions.suspended_reason.
const MaxSuspendReasonLength = 1000

// checkReason requires a suspension's reason: not blank, at most MaxSuspendReasonLength.
func checkReason(v string) string {
	if strings.TrimSpace(v) == "" {
		return "must not be blank"
	}
	return maxRunes(MaxSuspendReasonLength)(v)
}

// GET /v1/admin/tenants[?suspended=true|false]
func (s *Server) adminListTenants(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := queryFilters{r: r}
	suspended := q.get("suspended", oneOf("true", "false"))
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.admin_list_tenants($1::int, $2::uuid, $3::boolean)`, limit, cursor, suspended)
}

// GET /v1/admin/tenants/{tenant_id}
func (s *Server) adminGetTenant(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.admin_get_tenant($1::uuid)`, mux.Vars(r)["tenant_id"])
}

// POST /v1/admin/tenants/{tenant_id}/plan
func (s *Server) adminSetPlan(w http.ResponseWriter, r *http.Request) {
	var plan string
	if err := decodeBody(r, str("plan", true, &plan, oneOf(PlanCodes...))); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.admin_set_plan($1::uuid, $2)`, mux.Vars(r)["tenant_id"], plan)
}

// POST /v1/admin/tenants/{tenant_id}/suspend
func (s *Server) adminSuspend(w http.ResponseWriter, r *http.Request) {
	var reason string
	if err := decodeBody(r, str("reason", true, &reason, checkReason)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.admin_set_suspended($1::uuid, true, $2)`, mux.Vars(r)["tenant_id"], reason)
}

// POST /v1/admin/tenants/{tenant_id}/unsuspend
func (s *Server) adminUnsuspend(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.admin_set_suspended($1::uuid, false, null)`, mux.Vars(r)["tenant_id"])
}

// GET /v1/admin/audit[?tenant_id=]
func (s *Server) adminListAudit(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := queryFilters{r: r}
	tenant := q.get("tenant_id", checkUUID)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.admin_list_audit($1::int, $2::uuid, $3::uuid)`, limit, cursor, tenant)
}
