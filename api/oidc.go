package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"

	"github.com/rowguard/rowguard/internal/oidc"
)

var oauthErrorRE = regexp.MustCompile(`^[a-z_]{1,64}$`)

// oidcBytes is the entropy of the state, the nonce and the PKCE verifier (43
// base64url characters each; RFC 7636 asks 43 to 128 for the verifier).
const oidcBytes = 32

// newOIDCClients builds one client per configured provider.
func newOIDCClients(providers []oidc.Provider, leeway time.Duration) map[string]*oidc.Client {
	clients := make(map[string]*oidc.Client, len(providers))
	for _, p := range providers {
		// The key cache refreshes for the life of the process.
		clients[p.Name] = oidc.NewClient(context.Background(), p, nil, leeway)
	}
	return clients
}

// oidcClient is the {provider} of the path, or a 404 answer.
func (s *Server) oidcClient(w http.ResponseWriter, r *http.Request) (*oidc.Client, bool) {
	c, ok := s.oidc[mux.Vars(r)["provider"]]
	if !ok {
		writeProblem(w, r, newError(ProblemNotFound, "No identity provider of this name is configured."))
	}
	return c, ok
}

// oidcCookie is the name of the cookie binding a sign-in to the browser that started it.
// With an https public URL it is a __Host- cookie (Secure, Path=/, no Domain: only this
// exact origin, over TLS, may set or read it). Browsers refuse __Host- and Secure cookies
// from plain http, so a development server on http://localhost uses rowguard_oidc,
// without Secure.
func (s *Server) oidcCookie() (name string, secure bool) {
	if strings.HasPrefix(strings.ToLower(s.signInOpts.PublicURL), "https://") {
		return "__Host-rowguard_oidc", true
	}
	return "rowguard_oidc", false
}

// oidcBindingRE: a binding as /start makes it (randomToken(oidcBytes), base64url).
var oidcBindingRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// setOIDCCookie sets (maxAge > 0) or clears (maxAge < 0) the binding cookie.
func (s *Server) setOIDCCookie(w http.ResponseWriter, value string, maxAge int) {
	name, secure := s.oidcCookie()
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) oidcRedirectURI(provider string) string {
	return strings.TrimSuffix(s.signInOpts.PublicURL, "/") + "/v1/auth/oidc/" + provider + "/callback"
}

// GET /v1/auth/oidc/{provider}/start
//
// Remembers the sign-in in Postgres (hashed state and nonce, PKCE verifier; any
// replica can take the callback) and redirects to the provider.
func (s *Server) startOIDC(w http.ResponseWriter, r *http.Request) {
	c, ok := s.oidcClient(w, r)
	if !ok {
		return
	}
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	var secrets [4]string // state, nonce, verifier, browser binding
	for i := range secrets {
		v, err := randomToken(oidcBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		secrets[i] = v
	}
	state, nonce, verifier, binding := secrets[0], secrets[1], secrets[2], secrets[3]
	target, err := c.AuthCodeURL(r.Context(), s.oidcRedirectURI(c.Provider.Name), state, nonce, verifier)
	if err != nil {
		s.failOIDC(w, r, err)
		return
	}
	if err := s.limitedRow(r.Context(), []rateBucket{s.signInAddress(r)}, `select auth.begin_oidc_login($1, $2, $3, $4, $5)`,
		c.Provider.Name, state, nonce, verifier, binding).Scan(); err != nil {
		s.fail(w, r, err)
		return
	}
	// Only this browser can finish the sign-in: the callback must bring the cookie back
	// (SameSite=Lax: a top-level redirect from the provider carries it). Valid as long as
	// the state (10 minutes).
	s.setOIDCCookie(w, binding, 600)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// GET /v1/auth/oidc/{provider}/callback?code=…&state=…
//
// Uses up the state, exchanges the code (with the PKCE verifier), verifies the ID
// token, then signs in the user of that provider account — linked by verified email
// or created — exactly as login does.
func (s *Server) callbackOIDC(w http.ResponseWriter, r *http.Request) {
	c, ok := s.oidcClient(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		detail := "The identity provider did not sign you in."
		if oauthErrorRE.MatchString(e) { // echo only an RFC 6749 error code, never free text
			detail = "The identity provider did not sign you in (" + e + ")."
		}
		s.fail(w, r, newError(ProblemSignInFailed, detail))
		return
	}
	var errs []FieldError
	for _, name := range []string{"code", "state"} {
		if vs := q[name]; len(vs) != 1 || vs[0] == "" || len(vs[0]) > 2048 {
			errs = append(errs, FieldError{name, "is required once (the provider's redirect carries it)"})
		}
	}
	if len(errs) > 0 {
		s.fail(w, r, validationError(errs...))
		return
	}
	// A callback without the cookie of /start was not started by this browser: someone
	// else's sign-in pushed here (login CSRF). Refused before the state is touched.
	name, _ := s.oidcCookie()
	cookie, err := r.Cookie(name)
	if err != nil || !oidcBindingRE.MatchString(cookie.Value) {
		s.fail(w, r, newError(ProblemSignInFailed, "This sign-in was not started in this browser. Start again."))
		return
	}
	s.setOIDCCookie(w, "", -1) // used up, whatever happens next
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	var nonceHash []byte
	var verifier string
	err = s.limitedRow(r.Context(), []rateBucket{s.signInAddress(r)}, `select nonce_hash, code_verifier from auth.take_oidc_login($1, $2, $3)`,
		c.Provider.Name, q.Get("state"), cookie.Value).Scan(&nonceHash, &verifier)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			s.fail(w, r, newError(ProblemSignInFailed, "This sign-in is unknown, expired, already used or was started in another browser. Start again."))
			return
		}
		s.fail(w, r, err)
		return
	}
	redirectURI := s.oidcRedirectURI(c.Provider.Name)
	raw, err := c.Exchange(r.Context(), q.Get("code"), redirectURI, verifier)
	if err != nil {
		s.failOIDC(w, r, err)
		return
	}
	id, err := c.VerifyIDToken(r.Context(), raw, nonceHash)
	if err != nil {
		s.failOIDC(w, r, err)
		return
	}
	// The address was counted when the state was taken.
	s.signIn(w, r, newError(ProblemSignInFailed, "This account can no longer sign in. Start again."), nil,
		`select auth.oidc_sign_in($1, $2, $3)`, c.Provider.Name, id.Subject, id.Email)
}

// failOIDC answers a provider-side failure: 401 when the sign-in itself is refused,
// 503 when the provider is unreachable or misbehaves. The reason is logged, not sent.
func (s *Server) failOIDC(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, oidc.ErrEmailNotVerified):
		s.log(r).Info("oidc sign-in refused", "error", err.Error())
		s.fail(w, r, newError(ProblemSignInFailed, "The identity provider has not verified your email address."))
	case errors.Is(err, oidc.ErrRejected):
		s.log(r).Info("oidc sign-in refused", "error", err.Error())
		s.fail(w, r, newError(ProblemSignInFailed, "The identity provider's answer could not be verified. Start again."))
	case errors.Is(err, oidc.ErrProvider):
		s.log(r).Warn("oidc provider unavailable", "error", err.Error())
		s.fail(w, r, newError(ProblemUnavailable, "The identity provider cannot be reached. Retry shortly."))
	default:
		s.fail(w, r, err)
	}
}
