// Package token issues and verifies the API's access tokens: short-lived JWTs
// (RFC 7519, profile of RFC 9068) signed with EdDSA over Ed25519.
//
// A token names who (sub = user id) and which sign-in (sid = session id), and
// nothing about roles: roles are read from the database on every request, so
// a role change or a revoked session takes effect at once.
//
// Verification goes through a JWK set keyed by kid. Rotating keys is adding
// the next key to the set (Authority.TrustKey), switching the signer, and
// dropping the old key once its last token has expired.
package token

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Type is the JOSE "typ" header of access tokens (RFC 9068 §2.1). Verify
// requires it, so an ID token or any other JWT signed by the same key cannot
// be replayed as an access token.
const Type = "at+jwt"

// SessionIDClaim is the private claim carrying the session id.
const SessionIDClaim = "sid"

// MaxTokenLength bounds the size of a token Verify will parse.
const MaxTokenLength = 8 << 10

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when
// NewAuthority is given a negative leeway.
const DefaultLeeway = 30 * time.Second

// Errors returned by Verify. Every failure wraps ErrInvalid; an expired
// token also wraps ErrExpired, so callers can say "expired" to the client.
var (
	ErrInvalid = errors.New("token: invalid access token")
	ErrExpired = errors.New("token: access token expired")
)

// Claims are what a verified access token says about its bearer.
type Claims struct {
	UserID    string // sub
	SessionID string // sid
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Authority signs access tokens with one private key and verifies them
// against a set of trusted public keys. It is safe for concurrent use.
type Authority struct {
	signer   jwk.Key
	alg      jwa.SignatureAlgorithm
	keys     jwk.Set // public keys, each with kid and alg
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	verified *verifiedCache
}

// NewAuthority returns an Authority that signs with privateKey under kid and
// trusts the matching public key. ttl is the lifetime of issued tokens;
// leeway the clock skew tolerated when checking exp, nbf and iat (negative
// means DefaultLeeway). If kid is empty, the RFC 7638 thumbprint of the
// public key is used (see KeyID).
func NewAuthority(privateKey ed25519.PrivateKey, kid, issuer, audience string, ttl, leeway time.Duration) (*Authority, error) {
	if len(privateKey) != ed25519.PrivateKeySize {
		return nil, errors.New("token: Ed25519 private key required")
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("token: issuer and audience are required")
	}
	if ttl <= 0 {
		return nil, errors.New("token: ttl must be positive")
	}
	if leeway < 0 {
		leeway = DefaultLeeway
	}
	pub := privateKey.Public().(ed25519.PublicKey)
	if kid == "" {
		var err error
		if kid, err = KeyID(pub); err != nil {
			return nil, err
		}
	}

	signer, err := jwk.FromRaw(privateKey)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if err := setKeyMeta(signer, kid, jwa.EdDSA); err != nil {
		return nil, err
	}

	a := &Authority{
		signer:   signer,
		alg:      jwa.EdDSA,
		keys:     jwk.NewSet(),
		issuer:   issuer,
		audience: audience,
		ttl:      ttl,
		leeway:   leeway,
		now:      time.Now,
		verified: newVerifiedCache(defaultCacheSize),
	}
	pubKey, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if err := setKeyMeta(pubKey, kid, jwa.EdDSA); err != nil {
		return nil, err
	}
	if err := a.TrustKey(pubKey); err != nil {
		return nil, err
	}
	return a, nil
}

func setKeyMeta(k jwk.Key, kid string, alg jwa.SignatureAlgorithm) error {
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return fmt.Errorf("token: setting kid: %w", err)
	}
	if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
		return fmt.Errorf("token: setting alg: %w", err)
	}
	if err := k.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return fmt.Errorf("token: setting use: %w", err)
	}
	return nil
}

// TrustKey adds a public verification key to the set. The key must carry a
// kid not already in the set and an asymmetric signature alg (EdDSA, ES256,
// ...): a token is checked only against the key its kid names, with that
// key's alg, whatever alg the token's header claims.
func (a *Authority) TrustKey(key jwk.Key) error {
	if key.KeyID() == "" {
		return errors.New("token: trusted key has no kid")
	}
	var alg jwa.SignatureAlgorithm
	if err := alg.Accept(key.Algorithm()); err != nil || alg == "" || alg == jwa.NoSignature {
		return fmt.Errorf("token: trusted key %q has no usable alg", key.KeyID())
	}
	switch alg {
	case jwa.HS256, jwa.HS384, jwa.HS512:
		return fmt.Errorf("token: trusted key %q: symmetric algorithms are not accepted", key.KeyID())
	}
	if _, ok := a.keys.LookupKeyID(key.KeyID()); ok {
		return fmt.Errorf("token: kid %q already trusted", key.KeyID())
	}
	pub, err := key.PublicKey()
	if err != nil {
		return fmt.Errorf("token: trusted key %q: %w", key.KeyID(), err)
	}
	a.verified.reset()
	return a.keys.AddKey(pub)
}

// PublicKeys returns the trusted verification keys (e.g. to publish as a
// JWKS document). The set is shared, not copied: do not modify it.
func (a *Authority) PublicKeys() jwk.Set { return a.keys }

// KeyID returns the signing key's kid.
func (a *Authority) KeyID() string { return a.signer.KeyID() }

// TTL returns the lifetime of issued tokens.
func (a *Authority) TTL() time.Duration { return a.ttl }

// Issue signs an access token for a user's session. expiresIn is the
// token's lifetime (the OAuth 2.0 expires_in).
func (a *Authority) Issue(userID, sessionID string) (token string, expiresIn time.Duration, err error) {
	if userID == "" || sessionID == "" {
		return "", 0, errors.New("token: user id and session id are required")
	}
	now := a.now().Truncate(time.Second)
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", 0, fmt.Errorf("token: jti: %w", err)
	}
	t, err := jwt.NewBuilder().
		Issuer(a.issuer).
		Audience([]string{a.audience}).
		Subject(userID).
		Claim(SessionIDClaim, sessionID).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(a.ttl)).
		JwtID(jti.String()).
		Build()
	if err != nil {
		return "", 0, fmt.Errorf("token: build: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, Type); err != nil {
		return "", 0, fmt.Errorf("token: header: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(a.alg, a.signer, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", 0, fmt.Errorf("token: sign: %w", err)
	}
	return string(signed), a.ttl, nil
}

// Verify checks raw's signature against the trusted key its kid names, its
// typ, and its iss, aud, exp, nbf and iat (with the leeway), and that sub,
// sid and jti are present. Every failure wraps ErrInvalid.
func (a *Authority) Verify(raw string) (Claims, error) {
	if raw == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrInvalid)
	}
	// Only the compact serialization (header.payload.signature) is an access
	// token; the JSON serializations may carry several signatures and
	// unprotected headers. A cap on size keeps parsing cheap.
	if len(raw) > MaxTokenLength || strings.Count(raw, ".") != 2 {
		return Claims{}, fmt.Errorf("%w: not a compact JWS", ErrInvalid)
	}
	now := a.now()
	if claims, ok := a.verified.get(raw, now, a.leeway); ok {
		return claims, nil
	}
	t, err := jwt.ParseString(raw,
		jwt.WithKeyProvider(jws.KeyProviderFunc(a.selectKey)),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(a.now)),
		jwt.WithAcceptableSkew(a.leeway),
		jwt.WithIssuer(a.issuer),
		jwt.WithAudience(a.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithRequiredClaim(SessionIDClaim),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired()) {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, ErrExpired)
		}
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	sidv, _ := t.Get(SessionIDClaim)
	sid, ok := sidv.(string)
	// Checked here, once per token (verified tokens are cached), rather than on every
	// request: the database receives both as uuid parameters.
	if !ok || !isCanonicalUUID(sid) || !isCanonicalUUID(t.Subject()) {
		return Claims{}, fmt.Errorf("%w: sub and sid must be UUIDs", ErrInvalid)
	}
	claims := Claims{
		UserID:    t.Subject(),
		SessionID: sid,
		ID:        t.JwtID(),
		IssuedAt:  t.IssuedAt(),
		ExpiresAt: t.Expiration(),
	}
	a.verified.put(raw, claims, t.NotBefore())
	return claims, nil
}

// selectKey is the only way a key reaches the verifier: the token must name
// a kid, the kid must be trusted, the header's alg must be that key's alg
// (so "none", HS256-with-the-public-key and other confusions fail here), and
// the typ must be Type.
func (a *Authority) selectKey(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	if h.Type() != Type {
		return fmt.Errorf("typ %q is not %q", h.Type(), Type)
	}
	kid := h.KeyID()
	if kid == "" {
		return errors.New("no kid in header")
	}
	key, ok := a.keys.LookupKeyID(kid)
	if !ok {
		return fmt.Errorf("unknown kid %q", kid)
	}
	var alg jwa.SignatureAlgorithm
	if err := alg.Accept(key.Algorithm()); err != nil {
		return fmt.Errorf("key %q: %w", kid, err)
	}
	if h.Algorithm() != alg {
		return fmt.Errorf("alg %q does not match key %q (%s)", h.Algorithm(), kid, alg)
	}
	sink.Key(alg, key)
	return nil
}

// isCanonicalUUID accepts only the 36-character hyphenated form that Issue writes.
func isCanonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
