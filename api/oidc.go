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
	var secrets [3]string // state, nonce, verifier
	for i := range secrets {
		v, err := randomToken(oidcBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		secrets[i] = v
	}
	state, nonce, verifier := secrets[0], secrets[1], secrets[2]
	target, err := c.AuthCodeURL(r.Context(), s.oidcRedirectURI(c.Provider.Name), state, nonce, verifier)
	if err != nil {
		s.failOIDC(w, r, err)
		return
	}
	if err := s.limitedRow(r.Context(), []rateBucket{s.signInAddress(r)}, `select auth.begin_oidc_login($1, $2, $3, $4)`,
		c.Provider.Name, state, nonce, verifier).Scan(); err != nil {
		s.fail(w, r, err)
		return
	}
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
	if s.pool == nil {
		s.fail(w, r, errNoPool)
		return
	}
	var nonceHash []byte
	var verifier string
	err := s.limitedRow(r.Context(), []rateBucket{s.signInAddress(r)}, `select nonce_hash, code_verifier from auth.take_oidc_login($1, $2)`,
		c.Provider.Name, q.Get("state")).Scan(&nonceHash, &verifier)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			s.fail(w, r, newError(ProblemSignInFailed, "This sign-in is unknown, expired or already used. Start again."))
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
