package e2e

import (
	"crypto/ed25519"
	"net/http"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/token"
)

// The JWK set publishes exactly the trusted public keys, and verifies real tokens.
func TestJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, _ := e.register(t, "jwks", "")
	r := e.do(t, "GET", "/.well-known/jwks.json", "", nil).want(t, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	set, err := jwk.Parse(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 {
		t.Fatalf("%d keys, want 1", set.Len())
	}
	k, _ := set.Key(0)
	if k.KeyID() != e.tokens.KeyID() || k.Algorithm().String() != "EdDSA" || k.KeyUsage() != "sig" {
		t.Errorf("key %s alg %s use %s", k.KeyID(), k.Algorithm(), k.KeyUsage())
	}
	if _, private := k.Get("d"); private {
		t.Fatal("the JWK set publishes a private key")
	}
	// A client verifying with the published set accepts the server's tokens.
	if _, err := jwt.ParseString(u.Token, jwt.WithKeySet(set), jwt.WithValidate(true)); err != nil {
		t.Errorf("a token does not verify with the published keys: %v", err)
	}
}

// Rotation: the newest key signs, the previous one still verifies, so nobody signed
// in with the old key is signed out; both are published.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withOptions(func(o *api.Options) {
		if err := o.Tokens.TrustPublicKey(oldKey.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
	}))
	u, o := e.register(t, "rotated", "Rotation Org")
	old, err := token.NewAuthority(oldKey, "", tokenIssuer, tokenAudience, tokenTTL, -1)
	if err != nil {
		t.Fatal(err)
	}
	oldToken, _, err := old.Issue(u.ID, u.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	e.do(t, "GET", "/v1/orgs/"+o.ID, oldToken, nil).want(t, http.StatusOK)
	e.do(t, "GET", "/v1/orgs/"+o.ID, u.Token, nil).want(t, http.StatusOK)
	newToken, _, err := e.tokens.Issue(u.ID, u.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if hdrKid(t, newToken) != e.tokens.KeyID() || hdrKid(t, oldToken) == e.tokens.KeyID() {
		t.Error("new tokens must be signed by the newest key")
	}

	set, err := jwk.Parse(e.do(t, "GET", "/.well-known/jwks.json", "", nil).want(t, http.StatusOK).Body)
	if err != nil {
		t.Fatal(err)
	}
	kids := map[string]bool{}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kids[k.KeyID()] = true
	}
	if len(kids) != 2 || !kids[e.tokens.KeyID()] || !kids[hdrKid(t, oldToken)] {
		t.Errorf("published kids %v", kids)
	}
	// A revoked session fails whichever key signed its token.
	e.do(t, "POST", "/v1/auth/logout", u.Token, nil).want(t, http.StatusNoContent)
	wantUnauthorized(t, e.do(t, "GET", "/v1/orgs/"+o.ID, oldToken, nil))
}

// hdrKid is the kid in a token's protected header.
func hdrKid(t testing.TB, tok string) string {
	t.Helper()
	msg, err := jws.ParseString(tok)
	if err != nil || len(msg.Signatures()) != 1 {
		t.Fatalf("parsing %q: %v", tok, err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}
