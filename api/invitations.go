package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// MaxInvitationProjects bounds the project grants of one invitation.
const MaxInvitationProjects = 100

// newInvitationToken is 256 random bits, URL-safe: the secret of an invitation
// link. The database keeps only its sha256 (api.token_hash).
func newInvitationToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// projectGrant is one entry of an invitation's projects, as sent to SQL.
type projectGrant struct {
	ProjectID string  `json:"project_id"`
	Role      string  `json:"role"`
	Finance   *string `json:"finance"`
	Analytics *string `json:"analytics"`
}

// projectGrants decodes the projects member of an invitation: an array of
// {project_id, role, finance?, analytics?} objects, each project once. Every
// problem is named by its path, e.g. projects[1].role.
func projectGrants(dst *[]projectGrant) bodyField {
	return bodyField{name: "projects", setNested: func(raw json.RawMessage) []FieldError {
		var items []json.RawMessage
		if isNull(raw) || json.Unmarshal(raw, &items) != nil || raw[0] != '[' {
			return []FieldError{{"projects", "must be an array of {project_id, role, finance?, analytics?} objects"}}
		}
		if len(items) > MaxInvitationProjects {
			return []FieldError{{"projects", fmt.Sprintf("must hold at most %d projects", MaxInvitationProjects)}}
		}
		var errs []FieldError
		seen := map[string]bool{}
		for i, item := range items {
			prefix := fmt.Sprintf("projects[%d]", i)
			members, ferr := parseObject(item)
			if ferr != nil {
				errs = append(errs, FieldError{prefix, "must be an object"})
				continue
			}
			var g projectGrant
			fields := []bodyField{
				str("project_id", true, &g.ProjectID, checkUUID),
				str("role", true, &g.Role, oneOf(projectRoles...)),
				nullableStr("finance", &g.Finance, oneOf(domainLevels...)),
				nullableStr("analytics", &g.Analytics, oneOf(domainLevels...)),
			}
			for _, fe := range members.check(fields) {
				errs = append(errs, FieldError{prefix + "." + fe.Field, fe.Message})
			}
			id := strings.ToLower(g.ProjectID)
			if g.ProjectID != "" && seen[id] {
				errs = append(errs, FieldError{prefix + ".project_id", "names a project already granted above"})
			}
			seen[id] = true
			g.ProjectID = id
			*dst = append(*dst, g)
		}
		return errs
	}}
}

// POST /v1/orgs/{org_id}/invitations
func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request) {
	var (
		email, role string
		grants      = []projectGrant{}
	)
	if err := decodeBody(r,
		str("email", true, &email, checkEmail),
		str("role", true, &role, oneOf(orgRoles...)),
		projectGrants(&grants),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	projects, err := json.Marshal(grants)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tok, err := newInvitationToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusCreated, `select api.create_invitation($1, $2, $3::jsonb, $4, $5::interval, $6)`,
		email, role, string(projects), tok, s.inviteTTL, s.discloseInvitationTokens)
}

// GET /v1/orgs/{org_id}/invitations[?status=]
func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var status any // NULL: every status
	if vs, ok := r.URL.Query()["status"]; ok {
		if msg := oneOf(invitationSet...)(vs[0]); len(vs) > 1 || msg != "" {
			s.fail(w, r, validationError(FieldError{"status", "must be given once and be one of " + strings.Join(invitationSet, ", ")}))
			return
		}
		status = vs[0]
	}
	s.call(w, r, http.StatusOK, `select api.list_invitations($1, $2::int, $3::uuid)`, status, limit, cursor)
}

// DELETE /v1/orgs/{org_id}/invitations/{invitation_id}
func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.revoke_invitation($1::uuid)`, mux.Vars(r)["invitation_id"])
}

// POST /v1/orgs/{org_id}/invitations/{invitation_id}/resend
func (s *Server) resendInvitation(w http.ResponseWriter, r *http.Request) {
	tok, err := newInvitationToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.resend_invitation($1::uuid, $2, $3::interval, $4)`,
		mux.Vars(r)["invitation_id"], tok, s.inviteTTL, s.discloseInvitationTokens)
}

// GET /v1/invitations
func (s *Server) listMyInvitations(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_my_invitations($1::int, $2::uuid)`, limit, cursor)
}

// MaxInvitationTokenLength bounds what is accepted as a token (ours are 43).
const MaxInvitationTokenLength = 256

func checkInvitationToken(tok string) string {
	if tok == "" || len(tok) > MaxInvitationTokenLength {
		return fmt.Sprintf("must be the invitation token (1 to %d characters)", MaxInvitationTokenLength)
	}
	return ""
}

// POST /v1/invitations/accept
func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	s.callWithToken(w, r, http.StatusOK, `select api.accept_invitation($1)`)
}

// POST /v1/invitations/decline
func (s *Server) declineInvitation(w http.ResponseWriter, r *http.Request) {
	s.callWithToken(w, r, http.StatusNoContent, `select api.decline_invitation($1)`)
}

// callWithToken reads a {token} body and calls query with it.
func (s *Server) callWithToken(w http.ResponseWriter, r *http.Request, status int, query string) {
	var tok string
	if err := decodeBody(r, str("token", true, &tok, checkInvitationToken)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, status, query, tok)
}
