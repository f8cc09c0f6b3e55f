package oidc

import (
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
func TestS256Challenge(t *testing.T) {
	if got := S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("challenge %q", got)
	}
}

func TestProviderValidate(t *testing.T) {
	ok := Provider{Name: "okta", Issuer: "https://example.okta.com", ClientID: "id", ClientSecret: "secret"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Provider{Name: "dev", Issuer: "http://127.0.0.1:5556", ClientID: "id", ClientSecret: "s"}).Validate(); err != nil {
		t.Fatalf("loopback http issuer refused: %v", err)
	}
	for want, p := range map[string]Provider{
		"lower-case letters": {Name: "Okta", Issuer: ok.Issuer, ClientID: "id", ClientSecret: "s"},
		"must be https":      {Name: "okta", Issuer: "http://example.okta.com", ClientID: "id", ClientSecret: "s"},
		"without query":      {Name: "okta", Issuer: "https://example.okta.com?x=1", ClientID: "id", ClientSecret: "s"},
		"client_id":          {Name: "okta", Issuer: ok.Issuer, ClientSecret: "s"},
		"client_secret":      {Name: "okta", Issuer: ok.Issuer, ClientID: "id"},
	} {
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want %q", p, err, want)
		}
	}
}

func TestGooglePreset(t *testing.T) {
	g := Google("id", "secret")
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.issuers(), " "); got != "https://accounts.google.com accounts.google.com" {
		t.Errorf("google issuers %q", got)
	}
	if got := g.scopes(); got != "openid email profile" {
		t.Errorf("scopes %q", got)
	}
	other := Provider{Issuer: "https://example.okta.com", Scopes: []string{"email"}}
	if len(other.issuers()) != 1 || other.scopes() != "openid email" {
		t.Errorf("issuers %v, scopes %q", other.issuers(), other.scopes())
	}
}
