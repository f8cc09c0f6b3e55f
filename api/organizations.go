package api

import (
	"net/http"
	"regexp"

	"github.com/gorilla/mux"
)

// slugRE mirrors the CHECK on app.organizations.slug, so a bad slug gets
// a clear message before the database is asked.
var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func checkSlug(slug string) string {
	if !slugRE.MatchString(slug) {
		return "must be 1 to 63 lower-case letters, digits or dashes, not starting or ending with a dash"
	}
	return ""
}

// GET /v1/orgs
func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_organizations($1::int, $2::uuid)`, limit, cursor)
}

// POST /v1/orgs
func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request) {
	var (
		name string
		slug *string
	)
	if err := decodeBody(r,
		str("name", true, &name, checkName),
		nullableStr("slug", &slug, checkSlug),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusCreated, `select api.create_organization($1, $2)`, name, slug)
}

// GET /v1/orgs/{org_id}
func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.get_organization()`)
}

// PATCH /v1/orgs/{org_id}
func (s *Server) updateOrganization(w http.ResponseWriter, r *http.Request) {
	patch, err := decodePatch(r, func(p map[string]any) []bodyField {
		return []bodyField{
			patchString("name", false, p, checkName),
			patchString("slug", false, p, checkSlug),
		}
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.update_organization($1::jsonb)`, string(patch))
}

// DELETE /v1/orgs/{org_id}: an OWNER who reauthenticated within 5 minutes soft-deletes
// it (403 reauthentication-required otherwise); restorable for 30 days.
func (s *Server) deleteOrganization(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.delete_organization()`)
}

// GET /v1/orgs/deleted: the caller's soft-deleted organizations (OWNER), restorable.
func (s *Server) listDeletedOrganizations(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.list_deleted_organizations()`)
}

// POST /v1/orgs/{org_id}/restore: the organization is deleted, so auth.begin_request
// would refuse it: the request runs in no organization and SQL checks the caller is one
// of its OWNERs.
func (s *Server) restoreOrganization(w http.ResponseWriter, r *http.Request) {
	s.callOutsideOrg(w, r, http.StatusOK, `select api.restore_organization($1::uuid)`, mux.Vars(r)["org_id"])
}

// GET /v1/orgs/{org_id}/members
func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_members($1::int, $2::uuid)`, limit, cursor)
}
