package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/token"
)

// A known answer, computed independently (the key is token.DeriveKey's known answer):
//
//	printf 'alice@acme.test\000123456' | openssl dgst -sha256 -mac HMAC -macopt hexkey:948eb6…e170
func TestSignInCodeHashKnownAnswer(t *testing.T) {
	key, _ := hex.DecodeString("948eb6b7bf74b48c5ec5f0cfe4b482b9277ded9b455fc2374ba847c38e39e170")
	for _, email := range []string{"alice@acme.test", "Alice@ACME.test"} {
		got := hex.EncodeToString(signInCodeHash(key, email, "123456"))
		if want := "38e7c378922590b3ac3fa64bca54663871eeafde5047e293a5f1393fd6991071"; got != want {
			t.Errorf("signInCodeHash(%s) = %s, want %s", email, got, want)
		}
	}
	if got := hex.EncodeToString(signInCodeHash(key, "bob@globex.test", "123456")); got != "c326b06097b331905b776f1e3fbd46ab5391a4b77c4480f312b86a080643f085" {
		t.Errorf("signInCodeHash(bob) = %s", got)
	}
}

// The server's code key comes from its signing key: stable for one key, another for
// another key; the hash differs per address and is not the code's plain SHA-256.
func TestSignInCodeHashIsKeyedPerSigningKeyAndAddress(t *testing.T) {
	serverWith := func(seed byte) *Server {
		key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
		tokens, err := token.NewAuthority(key, "k", "iss", "aud", time.Minute, 0)
		if err != nil {
			t.Fatal(err)
		}
		return NewServer(Options{Tokens: tokens})
	}
	one, oneAgain, two := serverWith(1), serverWith(1), serverWith(2)
	h := signInCodeHash(one.signInCodeKey, "alice@acme.test", "123456")

	if len(h) != sha256.Size {
		t.Fatalf("hash of %d bytes: auth.email_sign_in_codes holds 32", len(h))
	}
	if !bytes.Equal(h, signInCodeHash(oneAgain.signInCodeKey, "alice@acme.test", "123456")) {
		t.Error("two servers with the same signing key hash a code differently (replicas would refuse each other's codes)")
	}
	if bytes.Equal(h, signInCodeHash(two.signInCodeKey, "alice@acme.test", "123456")) {
		t.Error("another signing key gives the same hash")
	}
	if bytes.Equal(h, signInCodeHash(one.signInCodeKey, "bob@globex.test", "123456")) {
		t.Error("the hash does not depend on the address")
	}
	if bytes.Equal(h, signInCodeHash(one.signInCodeKey, "alice@acme.test", "123457")) {
		t.Error("the hash does not depend on the code")
	}
	if plain := sha256.Sum256([]byte("123456")); bytes.Equal(h, plain[:]) {
		t.Error("the hash is the code's unkeyed SHA-256")
	}
	want, err := one.tokens.DeriveKey("rowguard sign-in code v1")
	if err != nil || !bytes.Equal(one.signInCodeKey, want) {
		t.Errorf("the code key is not the signing key's HKDF for \"rowguard sign-in code v1\" (%v)", err)
	}
}
