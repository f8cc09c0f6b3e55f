package api

import (
	"net/http"
	"net/url"
	"regexp"
)

// resetTokenBytes is the entropy of a password reset token (base64url: 43 characters).
const resetTokenBytes = 32

var resetTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// POST /v1/auth/password/forgot
//
// Always 202 with no body. For an active account the token's hash and the email are
// written in one transaction (auth.request_password_reset).
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) {
	s.emailSecret(w, r, "reset", func() (string, error) { return randomToken(resetTokenBytes) },
		`select auth.request_password_reset($1, $2, $3)`,
		func(_, tok string) []any { return []any{tok, nullIfEmpty(s.resetLink(tok))} })
}

// resetLink is the configured reset page with the token in its fragment (a fragment
// never reaches a server log or a Referer header), or "" when none is configured.
func (s *Server) resetLink(tok string) string {
	if s.signInOpts.PasswordResetURL == "" {
		return ""
	}
	u, err := url.Parse(s.signInOpts.PasswordResetURL)
	if err != nil { // validated by config
		return ""
	}
	u.Fragment = "token=" + tok
	return u.String()
}

// POST /v1/auth/password/reset
//
// Sets the new password of the token's account and revokes every session of it: any
// access token of that user fails on its next request (auth.begin_request).
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	var tok, pw string
	if err := decodeBody(r,
		str("token", true, &tok, checkResetToken),
		str("new_password", true, &pw, checkPassword),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	// Counted before the argon2id hash, the expensive part a flood would buy.
	if err := s.limitedRow(r.Context(), []rateBucket{s.signInAddress(r)}, `select`).Scan(); err != nil {
		s.fail(w, r, err)
		return
	}
	hash, err := s.hashPassword(r.Context(), pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	var userID *string
	if err := s.sendOne(r.Context(), []any{&userID}, `select auth.reset_password($1, $2)::text`, tok, hash); err != nil {
		s.fail(w, r, err)
		return
	}
	if userID == nil {
		s.fail(w, r, validationError(FieldError{"token", "is invalid, expired or already used"}))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func checkResetToken(tok string) string {
	if !resetTokenRE.MatchString(tok) {
		return "must be the token from the reset email"
	}
	return ""
}
