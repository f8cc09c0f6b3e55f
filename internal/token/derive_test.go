package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"
	"time"
)

func seedKey(first byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// A known answer, computed independently:
//
//	openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:000102…1f \
//	  -kdfopt "info:rowguard sign-in code v1" HKDF
//
// Changing the derivation voids every sign-in code in flight: it must not change by accident.
func TestDeriveKeyKnownAnswer(t *testing.T) {
	got, err := DeriveKey(seedKey(0), "rowguard sign-in code v1")
	if err != nil {
		t.Fatal(err)
	}
	const want = "948eb6b7bf74b48c5ec5f0cfe4b482b9277ded9b455fc2374ba847c38e39e170"
	if hex.EncodeToString(got) != want {
		t.Fatalf("DeriveKey = %x, want %s", got, want)
	}
}

func TestDeriveKeySeparatesKeysAndPurposes(t *testing.T) {
	a1, _ := DeriveKey(seedKey(0), "purpose one")
	a1again, _ := DeriveKey(seedKey(0), "purpose one")
	a2, _ := DeriveKey(seedKey(0), "purpose two")
	b1, _ := DeriveKey(seedKey(1), "purpose one")
	if len(a1) != DerivedKeySize || !bytes.Equal(a1, a1again) {
		t.Fatalf("not stable: %x, %x", a1, a1again)
	}
	if bytes.Equal(a1, a2) || bytes.Equal(a1, b1) {
		t.Fatal("another purpose or another key derives the same key")
	}
}

func TestDeriveKeyRefusesBadInput(t *testing.T) {
	if _, err := DeriveKey(seedKey(0)[:10], "x"); err == nil {
		t.Error("a short key is accepted")
	}
	if _, err := DeriveKey(seedKey(0), ""); err == nil {
		t.Error("an empty info label is accepted")
	}
}

// The Authority derives from its signing key: the last key of a ring.
func TestAuthorityDeriveKey(t *testing.T) {
	a, err := NewAuthority(seedKey(0), "", "iss", "aud", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.DeriveKey("rowguard sign-in code v1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := DeriveKey(seedKey(0), "rowguard sign-in code v1")
	if !bytes.Equal(got, want) {
		t.Fatalf("Authority.DeriveKey = %x, want %x", got, want)
	}
}
