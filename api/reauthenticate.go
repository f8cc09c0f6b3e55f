package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
)

// Step-up: a fresh proof of identity on the current session, required (SQL,
// auth.require_recent_reauthentication → RGR03 → 403 reauthentication-required) by the
// destructive acts: deleting an organization, removing or demoting its last other OWNER,
// changing the password without the current one. The proof lasts 5 minutes.

// reauthCodeHash is what auth.reauthentication_codes stores for a step-up code: the
// sign-in code key's HMAC of a label, the session and the code. The session binds the code
// to the session that asked for it (a code read from the mailbox works for no other
// session), the label keeps it apart from any sign-in code's hash.
func reauthCodeHash(key []byte, sessionID, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("reauthenticate"))
	m.Write([]byte{0})
	m.Write([]byte(sessionID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// POST /v1/auth/reauthenticate/code: emails the caller a 6-digit code for this session
// (10 minutes, once, 5 guesses; a new request voids the old code). 202.
func (s *Server) requestReauthenticationCode(w http.ResponseWriter, r *http.Request) {
	claims, _ := claimsFrom(r.Context())
	code, err := newSignInCode()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Codes asked for by one session's user: the code routes' per-(email, network) limit.
	l := s.limits.EmailPerAccountAddress
	if _, err := s.callJSON(r.Context(), r, `select api.request_reauthentication_code($1, $2, $3, $4::interval)`,
		reauthCodeHash(s.signInCodeKey, claims.SessionID, code), code, l.Max, pgInterval(l.Window)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// reauthentication is the answer of a successful step-up.
type reauthentication struct {
	OK                bool            `json:"ok"`
	ReauthenticatedAt json.RawMessage `json:"reauthenticated_at"`
	ValidUntil        json.RawMessage `json:"valid_until"`
}

// POST /v1/auth/reauthenticate {password} or {code}
func (s *Server) reauthenticate(w http.ResponseWriter, r *http.Request) {
	var pw, code string
	if err := decodeBody(r,
		str("password", false, &pw, nil),
		str("code", false, &code, checkSignInCode),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	if (pw == "") == (code == "") {
		s.fail(w, r, validationError(
			FieldError{Field: "password", Message: "give exactly one of password or code"},
			FieldError{Field: "code", Message: "give exactly one of password or code"}))
		return
	}
	var body []byte
	var err error
	if code != "" {
		claims, _ := claimsFrom(r.Context())
		body, err = s.callJSON(r.Context(), r, `select api.reauthenticate_by_code($1)`,
			reauthCodeHash(s.signInCodeKey, claims.SessionID, code))
	} else {
		if !s.verifyMyPassword(w, r, pw, "password") {
			return
		}
		body, err = s.callJSON(r.Context(), r, `select api.reauthenticated_by_password()`)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var out reauthentication
	if err := json.Unmarshal(body, &out); err != nil {
		s.fail(w, r, fmt.Errorf("api: decoding reauthentication: %w", err))
		return
	}
	if !out.OK {
		s.fail(w, r, validationError(FieldError{Field: "code", Message: "is incorrect, expired or already used"}))
		return
	}
	writeJSON(w, http.StatusOK, map[string]json.RawMessage{
		"reauthenticated_at": out.ReauthenticatedAt, "valid_until": out.ValidUntil,
	})
}

// verifyMyPassword checks password against the caller's stored hash (each try counts
// against the per-account password limit). When it answers false it has written the
// problem (field names the member): no password on the account, a wrong one, or an
// error.
func (s *Server) verifyMyPassword(w http.ResponseWriter, r *http.Request, password, field string) bool {
	l := s.limits.PasswordChangePerAccount
	body, err := s.callJSON(r.Context(), r, `select api.current_password_hash($1, $2::interval)`, l.Max, pgInterval(l.Window))
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	var stored struct {
		PasswordHash *string `json:"password_hash"`
	}
	if err := json.Unmarshal(body, &stored); err != nil {
		s.fail(w, r, fmt.Errorf("api: decoding password hash: %w", err))
		return false
	}
	if stored.PasswordHash == nil {
		s.fail(w, r, newError(ProblemConflict,
			"This account has no password (it signs in with an email code or single sign-on): reauthenticate with an emailed code (POST /v1/auth/reauthenticate/code) instead.",
			FieldError{Field: field, Message: "the account has no password"}))
		return false
	}
	var ok bool
	err = s.withHashSlot(r.Context(), func() error {
		var verr error
		ok, verr = s.passwords.Verify(password, *stored.PasswordHash)
		return verr
	})
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	if !ok {
		s.fail(w, r, validationError(FieldError{Field: field, Message: "is incorrect"}))
	}
	return ok
}
