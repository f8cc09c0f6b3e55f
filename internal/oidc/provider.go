// Package oidc is the relying-party side of OpenID Connect's authorization code flow
// with PKCE: discovery (/.well-known/openid-configuration), the authorization URL, the
// code exchange at the token endpoint, and ID token verification with jwx against the
// provider's JWKS (kept in a jwk.Cache). Where the sign-in state lives (Postgres) and
// which user an identity is, are the API's business.
package oidc

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// GoogleIssuer is the issuer of the built-in "google" preset.
const GoogleIssuer = "https://accounts.google.com"

// Provider is one configured identity provider.
type Provider struct {
	// Name is the {provider} of /v1/auth/oidc/{provider}/… and the provider column of
	// auth.identities: lower-case letters, digits and dashes.
	Name         string `json:"name"`
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// Scopes requested besides openid. Empty: email profile.
	Scopes []string `json:"scopes,omitempty"`
}

// Google is the preset for Google accounts.
func Google(clientID, clientSecret string) Provider {
	return Provider{Name: "google", Issuer: GoogleIssuer, ClientID: clientID, ClientSecret: clientSecret}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Validate says what is wrong with p, if anything.
func (p Provider) Validate() error {
	var errs []error
	if !nameRE.MatchString(p.Name) {
		errs = append(errs, fmt.Errorf("name %q: must be 1 to 32 lower-case letters, digits or dashes", p.Name))
	}
	u, err := url.Parse(p.Issuer)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("%s: issuer %q: must be an absolute URL without query or fragment", p.Name, p.Issuer))
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		errs = append(errs, fmt.Errorf("%s: issuer %q: must be https (http only on loopback, for tests)", p.Name, p.Issuer))
	}
	if p.ClientID == "" {
		errs = append(errs, fmt.Errorf("%s: client_id is required", p.Name))
	}
	if p.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("%s: client_secret is required", p.Name))
	}
	return errors.Join(errs...)
}

// issuers are the iss values accepted in ID tokens: the configured issuer, and for
// Google also the scheme-less form its tokens may carry ("accounts.google.com", per
// Google's OpenID Connect documentation).
func (p Provider) issuers() []string {
	if p.Issuer == GoogleIssuer {
		return []string{GoogleIssuer, "accounts.google.com"}
	}
	return []string{p.Issuer}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (p Provider) scopes() string {
	s := p.Scopes
	if len(s) == 0 {
		s = []string{"email", "profile"}
	}
	return strings.Join(append([]string{"openid"}, s...), " ")
}
