package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Identity is what a verified ID token says about the person.
type Identity struct {
	Subject string
	Email   string
}

// ErrEmailNotVerified: the token is genuine but the provider does not vouch for the
// email address, so it cannot be linked to or create an account.
var ErrEmailNotVerified = errors.New("oidc: the provider has not verified this email address")

// VerifyIDToken checks raw as this client's ID token: signature by a key of the
// provider's JWKS, iss, aud (and azp when there are several audiences), exp/iat/nbf
// with the leeway, and that the SHA-256 of its nonce is nonceHash. It then requires
// a verified email.
func (c *Client) VerifyIDToken(ctx context.Context, raw string, nonceHash []byte) (Identity, error) {
	m, err := c.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	set, err := c.keySet(ctx, m.JWKSURI, []byte(raw))
	if err != nil {
		return Identity{}, err
	}
	tok, err := jwt.Parse([]byte(raw),
		jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)),
		jwt.WithValidate(true),
		jwt.WithAudience(c.Provider.ClientID),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithAcceptableSkew(c.leeway),
	)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: id_token: %v", ErrRejected, err)
	}
	if !slices.Contains(c.Provider.issuers(), tok.Issuer()) {
		return Identity{}, fmt.Errorf("%w: id_token: issuer %q is not %s", ErrRejected, tok.Issuer(), c.Provider.Issuer)
	}
	if aud := tok.Audience(); len(aud) > 1 {
		if azp, _ := tok.Get("azp"); azp != c.Provider.ClientID {
			return Identity{}, fmt.Errorf("%w: id_token: several audiences and azp %v is not us", ErrRejected, azp)
		}
	}
	nonce, _ := tok.Get("nonce")
	ns, _ := nonce.(string)
	sum := sha256.Sum256([]byte(ns))
	if ns == "" || subtle.ConstantTimeCompare(sum[:], nonceHash) != 1 {
		return Identity{}, fmt.Errorf("%w: id_token: nonce does not match this sign-in", ErrRejected)
	}
	email, _ := tok.Get("email")
	es, _ := email.(string)
	if es == "" {
		return Identity{}, fmt.Errorf("%w: id_token: no email (request the email scope)", ErrRejected)
	}
	if !claimTrue(tok, "email_verified") {
		return Identity{}, ErrEmailNotVerified
	}
	return Identity{Subject: tok.Subject(), Email: es}, nil
}

// claimTrue: true, or "true" (some providers send the boolean as a string).
func claimTrue(tok jwt.Token, name string) bool {
	v, _ := tok.Get(name)
	return v == true || v == "true"
}

// keySet is the provider's JWKS from the cache. When the token names a kid the
// cached set lacks (the provider rotated its keys), the set is fetched anew, at most
// once a minute: a forged kid cannot make us hammer the provider.
func (c *Client) keySet(ctx context.Context, uri string, raw []byte) (jwk.Set, error) {
	set, err := c.keys.Get(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("%w: jwks: %v", ErrProvider, err)
	}
	msg, err := jws.Parse(raw)
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, fmt.Errorf("%w: id_token is not a compact JWS", ErrRejected)
	}
	kid := msg.Signatures()[0].ProtectedHeaders().KeyID()
	if _, ok := set.LookupKeyID(kid); ok || kid == "" {
		return set, nil
	}
	c.mu.Lock()
	due := time.Since(c.lastRefresh) > time.Minute
	if due {
		c.lastRefresh = time.Now()
	}
	c.mu.Unlock()
	if !due {
		return set, nil
	}
	if fresh, err := c.keys.Refresh(ctx, uri); err == nil {
		return fresh, nil
	}
	return set, nil
}
