package token

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func mustPKCS8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pemPublic(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// A key ring: every block, in order; the last key signs, the others still verify.
func TestKeyRing(t *testing.T) {
	var ring []byte
	var keys []ed25519.PrivateKey
	for range 3 {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		b, err := MarshalPrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		ring, keys = append(ring, b...), append(keys, k)
	}
	got, err := ParsePrivateKeysPEM(ring)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d keys, %v", len(got), err)
	}
	for i := range keys {
		if !got[i].Equal(keys[i]) {
			t.Errorf("key %d differs", i)
		}
	}
	if _, err := ParsePrivateKeysPEM(append(ring, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")...)); err == nil {
		t.Error("a ring with a public-key block was accepted")
	}
	if _, err := ParsePrivateKeysPEM([]byte("nothing")); err == nil {
		t.Error("no PEM accepted")
	}

	old, err := NewAuthority(keys[0], "", "iss", "aud", time.Minute, -1)
	if err != nil {
		t.Fatal(err)
	}
	oldToken, _, err := old.Issue("0190f5a2-0000-7000-8000-000000000001", "0190f5a2-0000-7000-8000-000000000002")
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewAuthority(keys[2], "", "iss", "aud", time.Minute, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.Verify(oldToken); err == nil {
		t.Fatal("a token of an untrusted key verified")
	}
	for _, k := range keys[:2] {
		if err := rotated.TrustPublicKey(k.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rotated.Verify(oldToken); err != nil {
		t.Errorf("a token of the previous key no longer verifies: %v", err)
	}
	if n := rotated.PublicKeys().Len(); n != 3 {
		t.Errorf("%d public keys, want 3", n)
	}
	if err := rotated.TrustPublicKey(keys[0].Public().(ed25519.PublicKey)); err == nil {
		t.Error("the same key trusted twice")
	}
}
