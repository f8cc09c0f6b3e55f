package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
)

// Sessions after sign-in: refresh-token rotation, logout, the session list and the
// password change. Revocation is instant: auth.begin_request, the first statement of
// every authenticated request, reads the session row.

func (s *Server) routeSessions() {
	const public, private = false, true
	s.handle(http.MethodPost, "/v1/auth/refresh", s.refresh, public)
	s.handle(http.MethodPost, "/v1/auth/logout", s.logout, private)
	s.handle(http.MethodPost, "/v1/auth/logout-all", s.logoutAll, private)
	s.handle(http.MethodGet, "/v1/auth/sessions", s.listSessions, private)
	s.handle(http.MethodDelete, "/v1/auth/sessions/{session_id}", s.deleteSession, private)
	s.handle(http.MethodPost, "/v1/auth/password", s.changePassword, private)
	s.handle(http.MethodPost, "/v1/auth/reauthenticate", s.reauthenticate, private)
	s.handle(http.MethodPost, "/v1/auth/reauthenticate/code", s.requestReauthenticationCode, private)
	s.handle(http.MethodGet, "/.well-known/jwks.json", s.jwks, public)
}

// refreshOutcome is api.refresh_session's answer: a session result when rotated or
// replayed, and for a replay the successor already issued, sealed.
type refreshOutcome struct {
	Outcome         string `json:"outcome"`
	SuccessorSealed []byte `json:"successor_sealed"` // base64 in the JSON
	sessionResult
}

// POST /v1/auth/refresh — needs no access token: the refresh token is the credential.
//
// A session has one live refresh token. A rotated token presented again within the
// grace window gets the successor already issued (the same refresh token, a new access
// token), never a second live branch; after the window it revokes the session.
func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var presented string
	if err := decodeBody(r, str("refresh_token", true, &presented, nil)); err != nil {
		s.fail(w, r, err)
		return
	}
	invalid := newError(ProblemUnauthorized, "The refresh token is invalid or its session has ended. Sign in again.")
	if !wellFormedRefreshToken(presented) {
		s.fail(w, r, invalid)
		return
	}
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	next, nextHash, err := newRefreshToken()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	presentedHash := refreshTokenHash(presented)
	sealed, err := s.successors.seal(next, presentedHash)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	l := s.limits.RefreshPerAccount
	batch := &pgx.Batch{}
	queueRateLimit(batch, "refresh:address:"+clientNetwork(r), s.limits.RefreshPerAddress)
	batch.Queue(`select api.refresh_session($1, $2, $3, $4::interval, $5, $6::interval)`,
		presentedHash, nextHash, sealed, pgInterval(s.sessions.RefreshReuseGrace), l.Max, pgInterval(l.Window))
	var body []byte
	if err := s.sendBatch(r.Context(), batch, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	var out refreshOutcome
	if err := json.Unmarshal(body, &out); err != nil {
		s.fail(w, r, fmt.Errorf("api: decoding refresh outcome: %w", err))
		return
	}
	switch out.Outcome {
	case "rotated":
	case "replayed":
		// The successor the first presentation got: both holders share one chain.
		if next, err = s.successors.open(out.SuccessorSealed, presentedHash); err != nil {
			s.log(r).Warn("refresh token replayed: its successor cannot be opened", "session_id", out.SessionID, "error", err.Error())
			s.fail(w, r, invalid)
			return
		}
	case "reused":
		s.log(r).Warn("refresh token reused: session revoked", "session_id", out.SessionID)
		s.fail(w, r, newError(ProblemRefreshTokenReused,
			"This refresh token was already used. Its session has been revoked to protect the account: sign in again."))
		return
	default:
		s.fail(w, r, invalid)
		return
	}
	_, tokens, err := s.tokensFor(body, next)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokens)
}

// POST /v1/auth/logout
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.logout()`)
}

// POST /v1/auth/logout-all
func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.logout_all()`)
}

// GET /v1/auth/sessions
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.list_sessions()`)
}

// DELETE /v1/auth/sessions/{session_id}
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusNoContent, `select api.delete_session($1::uuid)`, mux.Vars(r)["session_id"])
}

// POST /v1/auth/password {current_password?, new_password}: the caller's other sessions
// end; this one goes on. The current password is the fresh proof the change needs;
// without it, the session must have reauthenticated (emailed code or password) within 5
// minutes, else 403 reauthentication-required (checked in SQL, api.change_password).
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var current, next string
	if err := decodeBody(r,
		str("current_password", false, &current, nil),
		str("new_password", true, &next, checkPassword),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	verified := current != ""
	if verified && !s.verifyMyPassword(w, r, current, "current_password") {
		return
	}
	var newHash string
	if err := s.withHashSlot(r.Context(), func() error {
		var herr error
		newHash, herr = s.passwords.Hash(next)
		return herr
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusNoContent, `select api.change_password($1, $2)`, newHash, verified)
}

// GET /.well-known/jwks.json: the public keys access tokens are verified with (RFC
// 7517). Every configured key is listed, the signing one and the ones still trusted.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(s.tokens.PublicKeys())
	if err != nil {
		s.fail(w, r, errors.Join(errors.New("api: encoding the JWK set"), err))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSONBytes(w, r, http.StatusOK, body)
}
