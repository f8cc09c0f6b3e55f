package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/oidc"
)

const (
	oidcProvider  = "acme-idp"
	oidcPublicURL = "https://api.rowguard.test"
	// oidcCookie binds a sign-in to its browser; __Host- since the public URL is https.
	oidcCookie = "__Host-rowguard_oidc"
)

// oidcEnv is a server configured with one OpenID Connect provider: a fakeIdP.
type oidcEnv struct {
	*env
	idp *fakeIdP
	// cookies holds the browser-binding cookie /start set, by the state it was set
	// with: the browser that started a sign-in brings it back to the callback.
	mu      sync.Mutex
	cookies map[string]*http.Cookie
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	idp := newFakeIdP(t)
	e := newEnv(t, withOptions(func(o *api.Options) {
		o.SignIn.PublicURL = oidcPublicURL
		o.SignIn.OIDCLeeway = 5 * time.Second
		o.SignIn.OIDC = []oidc.Provider{{Name: oidcProvider, Issuer: idp.URL, ClientID: idp.clientID, ClientSecret: idp.clientSecret}}
	}))
	return &oidcEnv{env: e, idp: idp, cookies: map[string]*http.Cookie{}}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// getNoRedirect sends GET url (absolute) and returns the answer unfollowed.
func getNoRedirect(t testing.TB, u string) *response {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &response{Method: http.MethodGet, Path: res.Request.URL.Path, Status: res.StatusCode, Header: res.Header, Body: body}
}

// start signs person in at the provider and returns the callback path (with its
// query) the browser would be sent to.
func (o *oidcEnv) start(t testing.TB, person map[string]any) (callback string, authorize *url.URL) {
	t.Helper()
	o.idp.mu.Lock()
	o.idp.person = person
	o.idp.mu.Unlock()
	r := getNoRedirect(t, o.URL+"/v1/auth/oidc/"+oidcProvider+"/start")
	r.Route = "/v1/auth/oidc/{provider}/start"
	o.check(t, r)
	r.want(t, http.StatusFound)
	authorize, err := url.Parse(r.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(authorize.String(), o.idp.URL+"/authorize?") {
		t.Fatalf("start redirects to %q", r.Header.Get("Location"))
	}
	var binding *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == oidcCookie {
			binding = c
		}
	}
	if binding == nil {
		t.Fatalf("start set no %s cookie: %q", oidcCookie, r.Header.Values("Set-Cookie"))
	}
	o.mu.Lock()
	o.cookies[authorize.Query().Get("state")] = binding
	o.mu.Unlock()
	back := getNoRedirect(t, authorize.String()).want(t, http.StatusFound)
	cb, err := url.Parse(back.Header.Get("Location"))
	if err != nil || cb.Scheme+"://"+cb.Host != oidcPublicURL {
		t.Fatalf("the provider redirects to %q", back.Header.Get("Location"))
	}
	return cb.RequestURI(), authorize
}

// callback follows the provider's redirect in the browser that started the sign-in
// (with its binding cookie, when /start set one for that state).
func (o *oidcEnv) callback(t testing.TB, callback string) *response {
	t.Helper()
	var opts []reqOption
	if u, err := url.Parse(callback); err == nil {
		o.mu.Lock()
		c := o.cookies[u.Query().Get("state")]
		o.mu.Unlock()
		if c != nil {
			opts = append(opts, withHeader("Cookie", c.Name+"="+c.Value))
		}
	}
	return o.do(t, http.MethodGet, callback, "", nil, opts...)
}

func wantSignInFailed(t testing.TB, r *response) {
	t.Helper()
	wantProblem(t, r, api.ProblemSignInFailed)
}

func TestOIDCSignInCreatesThenFindsTheUser(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)
	email := o.newEmail("oidc-new")
	person := map[string]any{"sub": "idp-user-1", "email": email}

	cb, authorize := o.start(t, person)
	q := authorize.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 43 ||
		len(q.Get("nonce")) < 43 || q.Get("response_type") != "code" || q.Get("client_id") != o.idp.clientID ||
		q.Get("redirect_uri") != oidcPublicURL+"/v1/auth/oidc/"+oidcProvider+"/callback" || !strings.HasPrefix(q.Get("scope"), "openid ") {
		t.Fatalf("authorization request %v", q)
	}
	if o.count(t, `select count(*)::int from auth.oidc_login_states where state_hash = sha256(convert_to($1, 'UTF8'))
	                 and nonce_hash = sha256(convert_to($2, 'UTF8'))`, q.Get("state"), q.Get("nonce")) != 1 {
		t.Fatal("the state and nonce are not stored as their SHA-256")
	}

	first := o.signedIn(t, o.callback(t, cb), email)
	if o.count(t, `select count(*)::int from auth.users u join auth.identities i on i.user_id = u.id
	                where u.id = $1 and i.provider = $2 and i.subject = 'idp-user-1'
	                  and u.password_hash is null and u.email_verified_at is not null`, first.User.ID, oidcProvider) != 1 {
		t.Fatal("no password-less, verified user linked to the provider account")
	}
	if o.count(t, `select count(*)::int from auth.oidc_login_states`) != 0 {
		t.Error("the used state is still stored")
	}

	// The same provider account, even with another email today, is the same user.
	person["email"] = o.newEmail("oidc-renamed")
	cb, _ = o.start(t, person)
	again := o.signedIn(t, o.callback(t, cb), email)
	if again.User.ID != first.User.ID {
		t.Fatalf("second sign-in is user %s, first was %s", again.User.ID, first.User.ID)
	}
}

// An account with the provider-verified email is linked. If nobody ever verified that
// account's email, its password and sessions (perhaps a squatter's) stop working.
func TestOIDCLinksByVerifiedEmail(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)

	squatted := o.squat(t, "oidc-squatted")
	cb, _ := o.start(t, map[string]any{"sub": "owner-1", "email": upper(squatted.Email)})
	res := o.signedIn(t, o.callback(t, cb), squatted.Email)
	if res.User.ID != squatted.ID {
		t.Fatalf("linked to %s, want the existing account %s", res.User.ID, squatted.ID)
	}
	wantUnauthorized(t, o.do(t, http.MethodGet, "/v1/auth/me", squatted.Token, nil))
	if r := o.refresh(t, squatted.RefreshToken); r.Status != http.StatusUnauthorized {
		t.Errorf("the squatter's refresh token: %s", r)
	}
	wantProblem(t, o.postLogin(t, squatted.Email, squatted.Password), api.ProblemInvalidCredentials)
	if n := o.count(t, `select count(*)::int from auth.sessions where id = $1 and revoked_reason = 'email_proven'`, squatted.SessionID); n != 1 {
		t.Error("the squatter's session was not revoked as email_proven")
	}

	verified, _ := o.register(t, "oidc-verified", "") // a sign-up proves the address
	cb, _ = o.start(t, map[string]any{"sub": "owner-2", "email": verified.Email})
	if res := o.signedIn(t, o.callback(t, cb), verified.Email); res.User.ID != verified.ID {
		t.Fatalf("linked to %s, want %s", res.User.ID, verified.ID)
	}
	o.do(t, http.MethodGet, "/v1/auth/me", verified.Token, nil).want(t, http.StatusOK)
	o.signedIn(t, o.postLogin(t, verified.Email, verified.Password), verified.Email)

	disabled, _ := o.register(t, "oidc-disabled", "")
	o.exec(t, `update auth.users set status = 'disabled', email_verified_at = now() where id = $1`, disabled.ID)
	cb, _ = o.start(t, map[string]any{"sub": "owner-3", "email": disabled.Email})
	wantProblem(t, o.callback(t, cb), api.ProblemAccountDisabled)
}

func TestOIDCRejectsBadIDTokens(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)
	forger := newRSAKey(t, "idp-key-1") // the published kid, another key
	cases := []struct {
		name   string
		tamper func(map[string]any)
		forged bool
	}{
		{name: "wrong audience", tamper: func(c map[string]any) { c["aud"] = "someone-else" }},
		{name: "wrong issuer", tamper: func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{name: "bad nonce", tamper: func(c map[string]any) { c["nonce"] = "not-the-nonce-of-this-sign-in" }},
		{name: "no nonce", tamper: func(c map[string]any) { c["nonce"] = nil }},
		{name: "expired", tamper: func(c map[string]any) {
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		}},
		{name: "unverified email", tamper: func(c map[string]any) { c["email_verified"] = false }},
		{name: "no email_verified", tamper: func(c map[string]any) { c["email_verified"] = nil }},
		{name: "bad signature", forged: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			email := o.newEmail("oidc-" + tc.name)
			o.idp.mu.Lock()
			o.idp.tamper, o.idp.signer = tc.tamper, nil
			if tc.forged {
				o.idp.signer = forger
			}
			o.idp.mu.Unlock()
			defer func() {
				o.idp.mu.Lock()
				o.idp.tamper, o.idp.signer = nil, nil
				o.idp.mu.Unlock()
			}()
			cb, _ := o.start(t, map[string]any{"sub": "sub-" + tc.name, "email": email})
			wantSignInFailed(t, o.callback(t, cb))
			if n := o.count(t, `select count(*)::int from auth.users where lower(email) = lower($1)`, email); n != 0 {
				t.Errorf("a refused sign-in created %d users", n)
			}
		})
	}
	// Nothing above was a false negative: the untampered token works.
	email := o.newEmail("oidc-fine")
	cb, _ := o.start(t, map[string]any{"sub": "sub-fine", "email": email})
	o.signedIn(t, o.callback(t, cb), email)
}

func TestOIDCStateIsSingleUseAndShortLived(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)
	email := o.newEmail("oidc-replay")
	cb, _ := o.start(t, map[string]any{"sub": "replay", "email": email})
	o.signedIn(t, o.callback(t, cb), email)
	wantSignInFailed(t, o.callback(t, cb)) // replayed state

	cb, _ = o.start(t, map[string]any{"sub": "late", "email": o.newEmail("oidc-late")})
	o.exec(t, `update auth.oidc_login_states set expires_at = now() - interval '1 second'`)
	wantSignInFailed(t, o.callback(t, cb))

	// A state from /start with a code that is not its own: the provider refuses the code.
	cb, _ = o.start(t, map[string]any{"sub": "mixed", "email": o.newEmail("oidc-mixed")})
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("code", "made-up-code")
	wantSignInFailed(t, o.callback(t, u.Path+"?"+q.Encode()))

	// A state nobody issued.
	wantSignInFailed(t, o.callback(t, "/v1/auth/oidc/"+oidcProvider+"/callback?code=x&state="+randomTestString()))
}

// A provider that cannot be reached is the provider's fault: 503, and nothing stored.
func TestOIDCProviderDown(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)
	o.idp.close()
	o.logs.expect("route=/v1/auth/oidc/{provider}/start path=/v1/auth/oidc/" + oidcProvider + "/start status=503")
	before := o.snapshot(t)
	r := o.do(t, http.MethodGet, "/v1/auth/oidc/"+oidcProvider+"/start", "", nil)
	wantProblem(t, r, api.ProblemUnavailable)
	o.unchanged(t, before, "a start with the provider down")
}

func TestOIDCBadRequests(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)
	wantProblem(t, o.do(t, http.MethodGet, "/v1/auth/oidc/nope/start", "", nil), api.ProblemNotFound)
	wantProblem(t, o.do(t, http.MethodGet, "/v1/auth/oidc/nope/callback?code=a&state=b", "", nil), api.ProblemNotFound)
	base := "/v1/auth/oidc/" + oidcProvider + "/callback"
	wantProblem(t, o.do(t, http.MethodGet, base, "", nil), api.ProblemValidation, "code", "state")
	wantProblem(t, o.do(t, http.MethodGet, base+"?code=a&code=b&state=c", "", nil), api.ProblemValidation, "code")
	wantSignInFailed(t, o.do(t, http.MethodGet, base+"?error=access_denied&state=x", "", nil))
}

// The provider rotates its signing key: a token naming a kid the cached JWKS lacks
// makes the server fetch the JWKS anew instead of refusing.
func TestOIDCKeyRotation(t *testing.T) {
	t.Parallel()
	o := newOIDCEnv(t)
	email := o.newEmail("oidc-rotate")
	cb, _ := o.start(t, map[string]any{"sub": "rotate", "email": email})
	o.signedIn(t, o.callback(t, cb), email) // the JWKS with idp-key-1 is now cached

	o.idp.mu.Lock()
	o.idp.key = newRSAKey(t, "idp-key-2")
	o.idp.mu.Unlock()
	cb, _ = o.start(t, map[string]any{"sub": "rotate", "email": email})
	o.signedIn(t, o.callback(t, cb), email)
}
