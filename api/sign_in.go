package api

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/rowguard/rowguard/internal/oidc"
)

// routeSignIn registers the ways in without a password: email codes, password reset
// and OpenID Connect. Each answers before any session exists, like login.
func (s *Server) routeSignIn() {
	s.signInRoute(http.MethodPost, "/v1/auth/otp/request", s.requestSignInCode)
	s.signInRoute(http.MethodPost, "/v1/auth/otp/verify", s.verifySignInCode)
	s.signInRoute(http.MethodPost, "/v1/auth/password/forgot", s.forgotPassword)
	s.signInRoute(http.MethodPost, "/v1/auth/password/reset", s.resetPassword)
	s.signInRoute(http.MethodGet, "/v1/auth/oidc/{provider}/start", s.startOIDC)
	s.signInRoute(http.MethodGet, "/v1/auth/oidc/{provider}/callback", s.callbackOIDC)
}

// signInRoute registers one public sign-in endpoint. Each counts the client network
// (signInAddress) and, where its body names an email, that email from that network
// (emailAccountAddress, or a wrong code as a sign-in failure) in the same round trip
// as its own work (limitedRow); reset counts before it hashes.
func (s *Server) signInRoute(method, path string, h http.HandlerFunc) {
	s.handle(method, path, h, false)
}

// randomToken is n random bytes, base64url without padding: reset tokens, OpenID
// Connect state, nonce and PKCE verifier.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SignInOptions configure the password-less ways in.
type SignInOptions struct {
	// EmailSignUp lets an email code create the account of an unknown address
	// (ROWGUARD_OTP_SIGNUP). False: codes are sent to existing accounts only.
	EmailSignUp bool
	// PasswordResetURL is the page a reset email links to, with #token=… appended
	// (ROWGUARD_PASSWORD_RESET_URL). Empty: the email carries the bare token.
	PasswordResetURL string
	// OIDC lists the OpenID Connect providers (ROWGUARD_OIDC_*).
	OIDC []oidc.Provider
	// PublicURL is this API's address as browsers reach it (ROWGUARD_PUBLIC_URL): the
	// providers redirect to PublicURL/v1/auth/oidc/{provider}/callback.
	PublicURL string
	// OIDCLeeway is the clock skew tolerated on ID tokens' exp/iat/nbf.
	OIDCLeeway time.Duration
}

// emailSecret answers the "email me a secret" endpoints (kind "otp": a sign-in code,
// "reset": a reset token): it reads {email}, makes a secret with newSecret, and runs query($1 email,
// $2… args(email, secret)), a kernel function that stores a hash of the secret (its
// own, or the one args computed) and queues the email in one transaction — or, for an address that may not have one,
// does nothing; while the address has a live secret, the kernel function keeps it and
// sends nothing. The answer is 202 with no body either way.
func (s *Server) emailSecret(w http.ResponseWriter, r *http.Request, kind string, newSecret func() (string, error),
	query string, args func(email, secret string) []any) {
	var email string
	if err := decodeBody(r, str("email", true, &email, checkEmail)); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, err := newSecret()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	buckets := []rateBucket{s.signInAddress(r), s.emailAccountAddress(r, kind, email)}
	if err := s.limitedRow(r.Context(), buckets, query, append([]any{email}, args(email, secret)...)...).Scan(); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
