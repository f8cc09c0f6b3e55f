package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// GenerateKey returns a new random Ed25519 private key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("token: generating key: %w", err)
	}
	return priv, nil
}

// ParsePrivateKeyPEM reads an Ed25519 private key from a PEM "PRIVATE KEY"
// block holding PKCS#8 (what `openssl genpkey -algorithm ed25519` writes).
// Data after the first PEM block is ignored.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("token: no PEM block found")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("token: PEM block is %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token: parsing PKCS#8: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("token: PKCS#8 key is %T, want Ed25519", key)
	}
	return priv, nil
}

// LoadPrivateKeyFile reads a PKCS#8 PEM Ed25519 private key from a file.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return ParsePrivateKeyPEM(data)
}

// MarshalPrivateKeyPEM encodes an Ed25519 private key as a PKCS#8 PEM block,
// the format ParsePrivateKeyPEM reads.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token: marshalling PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM reads a PEM "PUBLIC KEY" block (PKIX) holding an
// Ed25519 public key, e.g. a previous signing key still to be trusted.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("token: no PEM block found")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("token: PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token: parsing PKIX: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("token: public key is %T, want Ed25519", key)
	}
	return pub, nil
}

// KeyID returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of an
// Ed25519 public key: a stable kid derived from the key itself.
func KeyID(pub ed25519.PublicKey) (string, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("token: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// Ed25519PublicJWK returns pub as a verification JWK with kid and alg EdDSA,
// ready for Authority.TrustKey.
func Ed25519PublicJWK(pub ed25519.PublicKey, kid string) (jwk.Key, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if kid == "" {
		if kid, err = KeyID(pub); err != nil {
			return nil, err
		}
	}
	if err := setKeyMeta(k, kid, "EdDSA"); err != nil {
		return nil, err
	}
	return k, nil
}

// ParsePrivateKeysPEM reads every PEM "PRIVATE KEY" block (PKCS#8 Ed25519) in data, in
// order: a key ring, oldest first. Blocks of other types are refused.
func ParsePrivateKeysPEM(data []byte) ([]ed25519.PrivateKey, error) {
	var keys []ed25519.PrivateKey
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		key, err := ParsePrivateKeyPEM(pem.EncodeToMemory(block))
		if err != nil && len(keys) > 0 {
			return nil, fmt.Errorf("token: key %d of the ring: %s", len(keys)+1, strings.TrimPrefix(err.Error(), "token: "))
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("token: no PEM block found")
	}
	return keys, nil
}

// TrustPublicKey trusts an Ed25519 verification key under its RFC 7638 thumbprint kid:
// a key that signed tokens still alive (key rotation), no longer signing.
func (a *Authority) TrustPublicKey(pub ed25519.PublicKey) error {
	k, err := Ed25519PublicJWK(pub, "")
	if err != nil {
		return err
	}
	return a.TrustKey(k)
}
