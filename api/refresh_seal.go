package api

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// A session has one live refresh token. When it is rotated, the old token's row keeps
// its successor so that a replay within the grace window (several tabs refreshing at
// once, an answer lost and retried) gets that same successor back instead of a second
// live branch. The row keeps it sealed: AES-256-GCM under a key derived from the token
// signing key (never sent to the database), with the old token's SHA-256 as associated
// data, so a sealed successor copied to another row does not open there. Whoever reads
// auth.refresh_tokens learns nothing usable.

// refreshSuccessorKeyInfo is the HKDF info label of the sealing key
// (token.Authority.DeriveKey). Changing it, or the signing key, makes the successors
// sealed before unreadable: a replay within the window then answers 401, once.
const refreshSuccessorKeyInfo = "rowguard refresh successor v1"

// successorSealer seals and opens the successor of a rotated refresh token.
type successorSealer struct{ aead cipher.AEAD }

func newSuccessorSealer(key []byte) (successorSealer, error) {
	block, err := aes.NewCipher(key) // 32 bytes: AES-256
	if err != nil {
		return successorSealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return successorSealer{}, err
	}
	return successorSealer{aead}, nil
}

// seal returns nonce || ciphertext of successor, bound to the predecessor's hash.
func (s successorSealer) seal(successor string, predecessorHash []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("api: sealing a refresh token: %w", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(successor), predecessorHash), nil
}

// open reverses seal for the same predecessor hash.
func (s successorSealer) open(sealed, predecessorHash []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return "", errors.New("api: sealed refresh token too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], predecessorHash)
	if err != nil {
		return "", fmt.Errorf("api: opening a sealed refresh token: %w", err)
	}
	return string(plain), nil
}
