package token

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// DerivedKeySize is the length of a key DeriveKey returns (HMAC-SHA256's block of
// security: 256 bits).
const DerivedKeySize = 32

// DeriveKey returns a secret for one purpose, derived from an Ed25519 private key:
// HKDF-SHA256 (RFC 5869) over the key's 32-byte seed, no salt, info naming the purpose
// (e.g. "rowguard sign-in code v1"). The signing key is the one secret every replica
// already shares; a server-side secret that must be the same on every replica and must
// never reach the database (the key of the sign-in code hashes) is derived from it, so
// no new configuration exists. A derived key reveals neither the signing key nor the
// key of another info label; a new signing key derives new keys.
func DeriveKey(priv ed25519.PrivateKey, info string) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("token: Ed25519 private key required")
	}
	if info == "" {
		return nil, errors.New("token: a derived key needs an info label naming its purpose")
	}
	key, err := hkdf.Key(sha256.New, priv.Seed(), nil, info, DerivedKeySize)
	if err != nil {
		return nil, fmt.Errorf("token: deriving a key: %w", err)
	}
	return key, nil
}

// DeriveKey derives a key for the purpose info from the Authority's signing key (the
// last key of a ring); see the function DeriveKey. Rotating the signing key changes it.
func (a *Authority) DeriveKey(info string) ([]byte, error) {
	var priv ed25519.PrivateKey
	if err := a.signer.Raw(&priv); err != nil {
		return nil, fmt.Errorf("token: the signing key: %w", err)
	}
	return DeriveKey(priv, info)
}
