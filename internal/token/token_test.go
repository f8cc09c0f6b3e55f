package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	iss = "https://api.rowguard.test"
	aud = "rowguard-api"
)

var (
	userID    = uuid.NewString()
	sessionID = uuid.NewString()
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newAuthority(t *testing.T, key ed25519.PrivateKey, kid string) *Authority {
	t.Helper()
	a, err := NewAuthority(key, kid, iss, aud, 15*time.Minute, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// at returns a copy of a whose clock reads t.
func at(a *Authority, t time.Time) *Authority {
	c := *a
	c.now = func() time.Time { return t }
	return &c
}

func mustInvalid(t *testing.T, a *Authority, raw string) error {
	t.Helper()
	c, err := a.Verify(raw)
	if err == nil {
		t.Fatalf("Verify succeeded: %+v", c)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	t.Logf("rejected: %v", err)
	return err
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw, exp, err := a.Issue(userID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if exp != 15*time.Minute {
		t.Fatalf("expiresIn = %v", exp)
	}
	c, err := a.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != userID || c.SessionID != sessionID {
		t.Fatalf("claims = %+v", c)
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		t.Fatalf("jti %q is not a UUID", c.ID)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt); got != 15*time.Minute {
		t.Fatalf("exp - iat = %v", got)
	}
}

func TestTokenShape(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw, _, _ := a.Issue(userID, sessionID)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not compact: %q", raw)
	}
	var hdr map[string]any
	decodeSeg(t, parts[0], &hdr)
	if hdr["alg"] != "EdDSA" || hdr["kid"] != "k1" || hdr["typ"] != Type {
		t.Fatalf("header = %v", hdr)
	}
	var claims map[string]any
	decodeSeg(t, parts[1], &claims)
	for _, k := range []string{"iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claim %q missing: %v", k, claims)
		}
	}
	if claims["iss"] != iss || claims["sub"] != userID || claims["sid"] != sessionID {
		t.Fatalf("claims = %v", claims)
	}
	if len(claims) != 8 {
		t.Fatalf("unexpected extra claims: %v", claims)
	}
	a2 := newAuthority(t, newKey(t), "")
	raw2, _, _ := a2.Issue(userID, sessionID)
	decodeSeg(t, strings.Split(raw2, ".")[0], &hdr)
	if hdr["kid"] != a2.KeyID() || len(a2.KeyID()) != 43 {
		t.Fatalf("default kid = %v (authority %q)", hdr["kid"], a2.KeyID())
	}
}

func decodeSeg(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestExpired(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw, _, _ := a.Issue(userID, sessionID)
	now := time.Now()
	// Within the leeway: still valid.
	if _, err := at(a, now.Add(15*time.Minute+3*time.Second)).Verify(raw); err != nil {
		t.Fatalf("inside leeway: %v", err)
	}
	err := mustInvalid(t, at(a, now.Add(15*time.Minute+10*time.Second)), raw)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token error %v does not wrap ErrExpired", err)
	}
}

func TestNotYetValid(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	future := at(a, time.Now().Add(time.Hour))
	raw, _, _ := future.Issue(userID, sessionID)
	err := mustInvalid(t, a, raw)
	if errors.Is(err, ErrExpired) {
		t.Fatal("not-yet-valid reported as expired")
	}
	// A clock a little behind (within leeway) accepts it.
	if _, err := at(a, time.Now().Add(time.Hour-3*time.Second)).Verify(raw); err != nil {
		t.Fatalf("inside leeway: %v", err)
	}
}

// nbf alone in the future (iat now) is refused too.
func TestNotBeforeInFuture(t *testing.T) {
	key := newKey(t)
	a := newAuthority(t, key, "k1")
	now := time.Now()
	tok, _ := jwt.NewBuilder().Issuer(iss).Audience([]string{aud}).Subject(userID).
		Claim(SessionIDClaim, sessionID).IssuedAt(now).NotBefore(now.Add(time.Minute)).
		Expiration(now.Add(time.Hour)).JwtID("j").Build()
	signer, _ := jwk.FromRaw(key)
	_ = signer.Set(jwk.KeyIDKey, "k1")
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, Type)
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	err = mustInvalid(t, a, string(b))
	if !strings.Contains(err.Error(), "nbf") {
		t.Fatalf("want an nbf failure, got %v", err)
	}
	if _, err := at(a, now.Add(time.Minute)).Verify(string(b)); err != nil {
		t.Fatalf("after nbf: %v", err)
	}
}

func TestWrongAudienceAndIssuer(t *testing.T) {
	key := newKey(t)
	a := newAuthority(t, key, "k1")
	other, _ := NewAuthority(key, "k1", iss, "another-api", time.Minute, 0)
	raw, _, _ := other.Issue(userID, sessionID)
	mustInvalid(t, a, raw)

	other, _ = NewAuthority(key, "k1", "https://evil.test", aud, time.Minute, 0)
	raw, _, _ = other.Issue(userID, sessionID)
	mustInvalid(t, a, raw)
}

func TestTamperedSignatureAndPayload(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw, _, _ := a.Issue(userID, sessionID)
	parts := strings.Split(raw, ".")

	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	mustInvalid(t, a, parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(sig))

	var claims map[string]any
	decodeSeg(t, parts[1], &claims)
	claims["sub"] = uuid.NewString()
	b, _ := json.Marshal(claims)
	mustInvalid(t, a, parts[0]+"."+base64.RawURLEncoding.EncodeToString(b)+"."+parts[2])

	mustInvalid(t, a, parts[0]+"."+parts[1]+".")
	mustInvalid(t, a, parts[0]+"."+parts[1])
	mustInvalid(t, a, "")
	mustInvalid(t, a, "not a jwt")
	mustInvalid(t, a, strings.Repeat("a", MaxTokenLength)+".b.c")
}

func TestOtherKeySameKid(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	impostor := newAuthority(t, newKey(t), "k1")
	raw, _, _ := impostor.Issue(userID, sessionID)
	mustInvalid(t, a, raw)
}

func TestUnknownAndMissingKid(t *testing.T) {
	key := newKey(t)
	a := newAuthority(t, key, "k1")
	other := newAuthority(t, key, "k2") // same key, kid we do not know
	raw, _, _ := other.Issue(userID, sessionID)
	mustInvalid(t, a, raw)

	// Signed with the right key, but no kid in the header.
	raw = signRaw(t, a, jwa.EdDSA, key, map[string]any{"typ": Type})
	mustInvalid(t, a, raw)
	// Same, with the kid: accepted (proves signRaw builds valid tokens).
	raw = signRaw(t, a, jwa.EdDSA, key, map[string]any{"typ": Type, "kid": "k1"})
	if _, err := a.Verify(raw); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	// Wrong typ.
	mustInvalid(t, a, signRaw(t, a, jwa.EdDSA, key, map[string]any{"typ": "JWT", "kid": "k1"}))
	mustInvalid(t, a, signRaw(t, a, jwa.EdDSA, key, map[string]any{"kid": "k1"}))
}

// signRaw signs the standard claims with arbitrary headers (kid only when
// given in hdr).
func signRaw(t *testing.T, a *Authority, alg jwa.SignatureAlgorithm, key any, hdr map[string]any) string {
	t.Helper()
	now := time.Now()
	tok, _ := jwt.NewBuilder().Issuer(iss).Audience([]string{aud}).Subject(userID).
		Claim(SessionIDClaim, sessionID).IssuedAt(now).NotBefore(now).
		Expiration(now.Add(time.Minute)).JwtID(uuid.NewString()).Build()
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAlgNone(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw, _, _ := a.Issue(userID, sessionID)
	parts := strings.Split(raw, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1","typ":"at+jwt"}`))
	mustInvalid(t, a, hdr+"."+parts[1]+".")
	mustInvalid(t, a, hdr+"."+parts[1]+"."+parts[2])
}

// The classic confusion: HS256 with the server's public key as the secret.
func TestWrongAlg(t *testing.T) {
	key := newKey(t)
	a := newAuthority(t, key, "k1")
	pub := key.Public().(ed25519.PublicKey)
	mustInvalid(t, a, signRaw(t, a, jwa.HS256, []byte(pub), map[string]any{"typ": Type, "kid": "k1"}))

	// A valid EdDSA signature under a header that claims another alg.
	raw, _, _ := a.Issue(userID, sessionID)
	parts := strings.Split(raw, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`))
	mustInvalid(t, a, hdr+"."+parts[1]+"."+parts[2])
}

func TestMissingClaims(t *testing.T) {
	key := newKey(t)
	a := newAuthority(t, key, "k1")
	now := time.Now()
	full := func() jwt.Token {
		tok, _ := jwt.NewBuilder().Issuer(iss).Audience([]string{aud}).Subject(userID).
			Claim(SessionIDClaim, sessionID).IssuedAt(now).NotBefore(now).
			Expiration(now.Add(time.Minute)).JwtID("j").Build()
		return tok
	}
	signer, _ := jwk.FromRaw(key)
	_ = signer.Set(jwk.KeyIDKey, "k1")
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, Type)
	for _, claim := range []string{"exp", "iat", "sub", "sid", "jti", "iss", "aud"} {
		tok := full()
		if err := tok.Remove(claim); err != nil {
			t.Fatal(err)
		}
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, signer, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(claim, func(t *testing.T) { mustInvalid(t, a, string(b)) })
	}
	tok := full()
	_ = tok.Set(SessionIDClaim, 42)
	b, _ := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, signer, jws.WithProtectedHeaders(h)))
	mustInvalid(t, a, string(b))
}

// Rotation: tokens signed by the previous key keep verifying once that key
// is trusted next to the new one.
func TestRotation(t *testing.T) {
	oldKey := newKey(t)
	old := newAuthority(t, oldKey, "2025-01")
	raw, _, _ := old.Issue(userID, sessionID)

	current := newAuthority(t, newKey(t), "2025-02")
	mustInvalid(t, current, raw)
	pub, err := Ed25519PublicJWK(oldKey.Public().(ed25519.PublicKey), "2025-01")
	if err != nil {
		t.Fatal(err)
	}
	if err := current.TrustKey(pub); err != nil {
		t.Fatal(err)
	}
	if _, err := current.Verify(raw); err != nil {
		t.Fatalf("token of the previous key rejected after TrustKey: %v", err)
	}
	if err := current.TrustKey(pub); err == nil {
		t.Fatal("duplicate kid accepted")
	}
	if current.PublicKeys().Len() != 2 {
		t.Fatalf("key set has %d keys", current.PublicKeys().Len())
	}

	// ES256 keys can be trusted too.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecKey, _ := jwk.FromRaw(ec)
	_ = ecKey.Set(jwk.KeyIDKey, "ec")
	_ = ecKey.Set(jwk.AlgorithmKey, jwa.ES256)
	if err := current.TrustKey(ecKey); err != nil {
		t.Fatal(err)
	}
	if _, err := current.Verify(signRaw(t, current, jwa.ES256, ec, map[string]any{"typ": Type, "kid": "ec"})); err != nil {
		t.Fatalf("ES256 token rejected: %v", err)
	}

	// Symmetric keys and keys without alg are refused.
	sym, _ := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	_ = sym.Set(jwk.KeyIDKey, "sym")
	_ = sym.Set(jwk.AlgorithmKey, jwa.HS256)
	if err := current.TrustKey(sym); err == nil {
		t.Fatal("HS256 key trusted")
	}
	noAlg, _ := jwk.FromRaw(oldKey.Public())
	_ = noAlg.Set(jwk.KeyIDKey, "noalg")
	if err := current.TrustKey(noAlg); err == nil {
		t.Fatal("key without alg trusted")
	}
}

func TestNewAuthorityArguments(t *testing.T) {
	key := newKey(t)
	for name, f := range map[string]func() error{
		"short key":   func() error { _, err := NewAuthority(key[:10], "k", iss, aud, time.Minute, 0); return err },
		"no issuer":   func() error { _, err := NewAuthority(key, "k", "", aud, time.Minute, 0); return err },
		"no audience": func() error { _, err := NewAuthority(key, "k", iss, "", time.Minute, 0); return err },
		"zero ttl":    func() error { _, err := NewAuthority(key, "k", iss, aud, 0, 0); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	a := newAuthority(t, key, "k")
	if _, _, err := a.Issue("", sessionID); err == nil {
		t.Error("Issue without user id succeeded")
	}
}

func TestPEM(t *testing.T) {
	key := newKey(t)
	p, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(p), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("PEM = %s", p)
	}
	back, err := ParsePrivateKeyPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(key) {
		t.Fatal("round trip changed the key")
	}

	// Output of `openssl genpkey -algorithm ed25519` (RFC 8410 §10.3 example).
	const opensslPEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
`
	k, err := ParsePrivateKeyPEM([]byte(opensslPEM))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAuthority(k, "", iss, aud, time.Minute, 0); err != nil {
		t.Fatal(err)
	}

	if _, err := ParsePrivateKeyPEM([]byte("garbage")); err == nil {
		t.Error("garbage accepted")
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := ParsePrivateKeyPEM(mustPKCS8(t, ec)); err == nil {
		t.Error("ECDSA key accepted as Ed25519")
	}
	if _, err := ParsePrivateKeyPEM([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")); err == nil {
		t.Error("wrong PEM type accepted")
	}

	pubPEM := pemPublic(t, key.Public())
	pub, err := ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(key.Public()) {
		t.Fatal("public key mismatch")
	}
}

func TestVerifyRequiresUUIDSubjectAndSession(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	for _, ids := range [][2]string{{"not-a-uuid", sessionID}, {userID, "42"}, {"{" + userID + "}", sessionID}} {
		raw, _, err := a.Issue(ids[0], ids[1])
		if err != nil {
			t.Fatal(err)
		}
		mustInvalid(t, a, raw)
	}
}
