package config

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/rowguard/rowguard/internal/oidc"
)

// validateOIDC reads the OpenID Connect providers into c.OIDCProviders and reports
// what is wrong with them through bad.
func (c *ServeConfig) validateOIDC(bad func(name, format string, args ...any)) {
	c.OIDCProviders = nil
	if c.GoogleClientID != "" || c.GoogleSecret != "" {
		g := oidc.Google(c.GoogleClientID, c.GoogleSecret)
		if err := g.Validate(); err != nil {
			bad("ROWGUARD_OIDC_GOOGLE_CLIENT_ID", "set it and ROWGUARD_OIDC_GOOGLE_CLIENT_SECRET together (%v)", err)
		}
		c.OIDCProviders = append(c.OIDCProviders, g)
	}
	if strings.TrimSpace(c.OIDCProvidersJSON) != "" {
		var ps []oidc.Provider
		dec := json.NewDecoder(bytes.NewReader([]byte(c.OIDCProvidersJSON)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ps); err != nil {
			bad("ROWGUARD_OIDC_PROVIDERS", "must be a JSON array of {name, issuer, client_id, client_secret, scopes?} (%v)", err)
		}
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				bad("ROWGUARD_OIDC_PROVIDERS", "%v", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			for _, q := range c.OIDCProviders {
				if q.Name == p.Name {
					bad("ROWGUARD_OIDC_PROVIDERS", "provider name %q is used twice", p.Name)
				}
			}
			c.OIDCProviders = append(c.OIDCProviders, p)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" {
			bad("ROWGUARD_PUBLIC_URL", "must be an absolute http(s) URL without query or fragment (got %q)", c.PublicURL)
		}
	} else if len(c.OIDCProviders) > 0 {
		bad("ROWGUARD_PUBLIC_URL", "required with an OpenID Connect provider (the providers redirect back to it)")
	}
}
