package token

import (
	"errors"
	"testing"
	"time"
)

func TestVerifiedTokenIsServedFromCache(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw, _, err := a.Issue(userID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.verified.entries[raw]; !ok {
		t.Fatal("a verified token was not remembered")
	}
	second, err := a.Verify(raw)
	if err != nil || second != first {
		t.Fatalf("cached Verify = %+v, %v; want %+v", second, err, first)
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw := issueVerified(t, a)
	later := at(a, time.Now().Add(a.TTL()+a.leeway+2*time.Second)) // shares a's cache
	err := mustInvalid(t, later, raw)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("want ErrExpired, got %v", err)
	}
	if _, ok := a.verified.entries[raw]; ok {
		t.Fatal("an expired token stayed in the cache")
	}
}

func TestCacheDoesNotServeAlteredTokens(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	raw := issueVerified(t, a)
	last := raw[len(raw)-2]
	swap := byte('A')
	if last == 'A' {
		swap = 'B'
	}
	mustInvalid(t, a, raw[:len(raw)-2]+string(swap)+raw[len(raw)-1:])
}

func TestTrustingAKeyResetsTheCache(t *testing.T) {
	a := newAuthority(t, newKey(t), "k1")
	issueVerified(t, a)
	other := newAuthority(t, newKey(t), "k2")
	k2, _ := other.PublicKeys().LookupKeyID("k2")
	if err := a.TrustKey(k2); err != nil {
		t.Fatal(err)
	}
	if n := len(a.verified.entries); n != 0 {
		t.Fatalf("cache holds %d tokens after a key change", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := newVerifiedCache(2)
	for _, raw := range []string{"a", "b", "c"} {
		c.put(raw, Claims{ExpiresAt: time.Now().Add(time.Hour)}, time.Time{})
	}
	if n := len(c.entries); n != 2 {
		t.Fatalf("cache holds %d entries, bound is 2", n)
	}
	if _, ok := c.entries["c"]; !ok {
		t.Fatal("the newest entry was evicted")
	}
}

// issueVerified issues a token and verifies it once, so that it is cached.
func issueVerified(t *testing.T, a *Authority) string {
	t.Helper()
	raw, _, err := a.Issue(userID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(raw); err != nil {
		t.Fatal(err)
	}
	return raw
}
