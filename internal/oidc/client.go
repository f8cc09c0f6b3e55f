package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// ErrProvider: the provider could not be reached or answered something unusable (its
// discovery document, token endpoint or keys). Not the user's fault.
var ErrProvider = errors.New("oidc: provider unavailable")

// ErrRejected: the provider refused the code, or the ID token failed verification.
var ErrRejected = errors.New("oidc: sign-in rejected")

// metadata is the part of the discovery document we use.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

// Client talks to one provider. Safe for concurrent use.
type Client struct {
	Provider Provider
	http     *http.Client
	keys     *jwk.Cache
	leeway   time.Duration

	mu          sync.Mutex
	meta        *metadata // nil until discovery succeeds
	lastRefresh time.Time
}

// NewClient returns a client for p. httpClient nil: a client with a 10s timeout.
// The key cache refreshes in the background until ctx ends.
func NewClient(ctx context.Context, p Provider, httpClient *http.Client, leeway time.Duration) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{Provider: p, http: httpClient, keys: jwk.NewCache(ctx), leeway: leeway}
}

// discover fetches and checks the discovery document once; a failure is retried on
// the next call.
func (c *Client) discover(ctx context.Context) (*metadata, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta != nil {
		return c.meta, nil
	}
	u := strings.TrimSuffix(c.Provider.Issuer, "/") + "/.well-known/openid-configuration"
	var m metadata
	if err := c.getJSON(ctx, u, &m); err != nil {
		return nil, err
	}
	if m.Issuer != c.Provider.Issuer {
		return nil, fmt.Errorf("%w: %s names issuer %q, configured %q", ErrProvider, u, m.Issuer, c.Provider.Issuer)
	}
	if m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" || m.JWKSURI == "" {
		return nil, fmt.Errorf("%w: %s lacks an authorization, token or jwks endpoint", ErrProvider, u)
	}
	if err := c.keys.Register(m.JWKSURI, jwk.WithHTTPClient(c.http), jwk.WithMinRefreshInterval(time.Minute)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProvider, err)
	}
	c.meta = &m
	return c.meta, nil
}

func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s", ErrProvider, u, res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: GET %s: %v", ErrProvider, u, err)
	}
	return nil
}

// AuthCodeURL is where to send the browser: the provider's authorization endpoint
// with state, nonce and the S256 PKCE challenge of verifier.
func (c *Client) AuthCodeURL(ctx context.Context, redirectURI, state, nonce, verifier string) (string, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(m.AuthorizationEndpoint)
	if err != nil {
		return "", fmt.Errorf("%w: authorization endpoint: %v", ErrProvider, err)
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", c.Provider.ClientID)
	q.Set("redirect_uri", redirectURI)
	q.Set("scope", c.Provider.scopes())
	q.Set("state", state)
	q.Set("nonce", nonce)
	q.Set("code_challenge", S256Challenge(verifier))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// S256Challenge is the PKCE challenge of verifier (RFC 7636 §4.2).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Exchange trades the authorization code for the raw ID token.
func (c *Client) Exchange(ctx context.Context, code, redirectURI, verifier string) (string, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
	// client_secret_basic unless the provider only takes client_secret_post.
	basic := len(m.TokenAuthMethods) == 0 || slices.Contains(m.TokenAuthMethods, "client_secret_basic")
	if !basic {
		form.Set("client_id", c.Provider.ClientID)
		form.Set("client_secret", c.Provider.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic { // RFC 6749 §2.3.1: form-encode both parts first
		req.SetBasicAuth(url.QueryEscape(c.Provider.ClientID), url.QueryEscape(c.Provider.ClientSecret))
	}
	res, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: token endpoint: %v", ErrProvider, err)
	}
	defer res.Body.Close()
	var body struct {
		IDToken          string `json:"id_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body)
	switch {
	case res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusUnauthorized:
		// invalid_grant (a used, expired or forged code, a wrong PKCE verifier), invalid_client, …
		return "", fmt.Errorf("%w: token endpoint: %s %s", ErrRejected, body.Error, body.ErrorDescription)
	case res.StatusCode != http.StatusOK || decodeErr != nil:
		return "", fmt.Errorf("%w: token endpoint: %s", ErrProvider, res.Status)
	case body.IDToken == "":
		return "", fmt.Errorf("%w: token endpoint returned no id_token", ErrRejected)
	}
	return body.IDToken, nil
}
