package api

import (
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

// MaxDescriptionLength matches the CHECK on app.projects.description.
const MaxDescriptionLength = 4000

func checkDescription(d string) string {
	if utf8.RuneCountInString(d) > MaxDescriptionLength {
		return "must be at most " + strconv.Itoa(MaxDescriptionLength) + " characters long"
	}
	return ""
}

// ListProjectsSQL is the statement of GET /v1/orgs/{org_id}/projects ($1 limit, $2
// cursor or NULL); exported for tests/load, which sends it without HTTP.
const ListProjectsSQL = `select api.list_projects($1::int, $2::uuid)`

// CreateProjectSQL is POST /v1/orgs/{org_id}/projects's statement: name, description.
const CreateProjectSQL = `select api.create_project($1, $2)`

// GET /v1/orgs/{org_id}/projects
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, ListProjectsSQL, limit, cursor)
}

// POST /v1/orgs/{org_id}/projects
func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	var (
		name        string
		description *string
	)
	if err := decodeBody(r,
		str("name", true, &name, checkName),
		nullableStr("description", &description, checkDescription),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusCreated, CreateProjectSQL, name, description)
}

// GET /v1/orgs/{org_id}/projects/{project_id}
func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.get_project($1::uuid)`, mux.Vars(r)["project_id"])
}

// PATCH /v1/orgs/{org_id}/projects/{project_id}
func (s *Server) updateProject(w http.ResponseWriter, r *http.Request) {
	patch, err := decodePatch(r, func(p map[string]any) []bodyField {
		return []bodyField{
			patchString("name", false, p, checkName),
			patchString("description", true, p, checkDescription),
		}
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.update_project($1::uuid, $2::jsonb)`, mux.Vars(r)["project_id"], string(patch))
}

// DELETE /v1/orgs/{org_id}/projects/{project_id}
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.delete_project($1::uuid)`, mux.Vars(r)["project_id"])
}
