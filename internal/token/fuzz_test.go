package token

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary strings to the token parser: it never panics, and the
// only strings it accepts are tokens this authority issued (with their own claims).
// Seeds: an issued token, mutations of it, and classic forgeries (alg none, wrong kid).
func FuzzVerify(f *testing.F) {
	key, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	a, err := NewAuthority(key, "k1", iss, aud, time.Hour, 0)
	if err != nil {
		f.Fatal(err)
	}
	issued, _, err := a.Issue(userID, sessionID)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(issued, ".")
	enc := base64.RawURLEncoding
	for _, s := range []string{
		issued, issued + "x", parts[0] + "." + parts[1] + ".", parts[0] + ".." + parts[2],
		enc.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + parts[1] + ".",
		enc.EncodeToString([]byte(`{"alg":"HS256","kid":"k1","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2],
		"", ".", "..", "a.b.c", strings.Repeat("A", 5000), "eyJ", "\x00.\x00.\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := a.Verify(raw)
		if err != nil {
			return
		}
		if raw != issued || c.UserID != userID || c.SessionID != sessionID {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}
