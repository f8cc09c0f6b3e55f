package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routeFinanceTags: the tags of a project's ledger as entities (issue 18). Records keep
// their tags as a list; these list the tags in use, rename one (merging into an existing
// one) and remove one, in every record of the project at once.
func (s *Server) routeFinanceTags(project string) {
	s.handle(http.MethodGet, project+"/tags", s.listTags, true)
	s.handle(http.MethodPost, project+"/tags/rename", s.renameTag, true)
	s.handle(http.MethodDelete, project+"/tags/{name}", s.deleteTag, true)
}

// GET …/tags
func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, ListTagsSQL, mux.Vars(r)["project_id"])
}

// ListTagsSQL is the statement of GET …/tags; exported for tests/load.
const ListTagsSQL = `select api.list_finance_tags($1::uuid)`

// POST …/tags/rename {from, to}
func (s *Server) renameTag(w http.ResponseWriter, r *http.Request) {
	var from, to string
	err := decodeBody(r,
		str("from", true, &from, checkTag), str("to", true, &to, checkTag))
	if err == nil && from == to {
		err = validationError(FieldError{"to", `must differ from "from"`})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.rename_finance_tag($1::uuid, $2::text, $3::text)`,
		mux.Vars(r)["project_id"], from, to)
}

// DELETE …/tags/{name}
func (s *Server) deleteTag(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	if msg := checkTag(v["name"]); msg != "" {
		s.fail(w, r, validationError(FieldError{"name", msg}))
		return
	}
	s.call(w, r, http.StatusOK, `select api.delete_finance_tag($1::uuid, $2::text)`, v["project_id"], v["name"])
}
