package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/rowguard/rowguard/internal/token"
)

// Every protected route, with every kind of missing or bad credential,
// answers 401 with a problem and a Bearer challenge, and writes nothing.
func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.newTenant(t, "Vault Corp")
	owner := tn.Owner
	kid := e.tokens.KeyID()
	valid := claimsFor(owner)
	past := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	future := time.Now().Add(time.Hour).Truncate(time.Second)

	otherKey, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherAuthority, err := token.NewAuthority(otherKey, "", tokenIssuer, tokenAudience, tokenTTL, -1)
	if err != nil {
		t.Fatal(err)
	}
	otherAuthorityToken, _, err := otherAuthority.Issue(owner.ID, owner.SessionID)
	if err != nil {
		t.Fatal(err)
	}

	// Well-signed tokens whose session or user the database refuses.
	loggedOut, _ := e.register(t, "logged-out", "")
	e.do(t, "POST", "/v1/auth/logout", loggedOut.Token, nil).want(t, http.StatusNoContent)
	disabled, _ := e.register(t, "disabled", "")
	e.exec(t, `update auth.users set status = 'disabled' where id = $1`, disabled.ID)
	expiredSession, _ := e.register(t, "expired-session", "")
	e.exec(t, `update auth.sessions set expires_at = now() - interval '1 second' where id = $1`, expiredSession.SessionID)
	idleSession, _ := e.register(t, "idle-session", "")
	e.exec(t, `update auth.sessions set last_used_at = now() - idle_timeout where id = $1`, idleSession.SessionID)

	type variant struct {
		name      string
		header    []string // Authorization values; nil: none
		challenge string   // exact WWW-Authenticate, or "" for the invalid_token prefix
	}
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	variants := []variant{
		{name: "no token", challenge: `Bearer realm="rowguard"`},
		{name: "empty header", header: []string{""}},
		{name: "basic scheme", header: []string{"Basic b3duZXI6cGFzc3dvcmQ="}},
		{name: "bearer without token", header: []string{"Bearer"}},
		{name: "bearer blank", header: []string{"Bearer    "}},
		{name: "not a JWT", header: bearer("not-a-jwt")},
		{name: "three garbage parts", header: bearer("a.b.c")},
		{name: "two tokens", header: []string{"Bearer " + owner.Token + " " + owner.Token}},
		{name: "two headers", header: []string{"Bearer " + owner.Token, "Bearer " + owner.Token}},
		{name: "truncated signature", header: bearer(owner.Token[:len(owner.Token)-4])},
		{name: "tampered payload", header: bearer(tamper(owner.Token))},
		{name: "other key, our kid", header: bearer(signToken(t, otherKey, kid, token.Type, valid))},
		{name: "other key, its own kid", header: bearer(otherAuthorityToken)},
		{name: "alg none", header: bearer(unsignedToken(kid, valid))},
		{name: "HS256 keyed with the public key", header: bearer(hmacToken(t, e.key.Public().(ed25519.PublicKey), kid, valid))},
		{name: "unknown kid", header: bearer(signToken(t, e.key, "no-such-key", token.Type, valid))},
		{name: "tampered signature", header: bearer(tamperSignature(owner.Token))},
		{name: "expired", header: bearer(signToken(t, e.key, kid, token.Type, with(valid,
			jwt.IssuedAtKey, past, jwt.NotBeforeKey, past, jwt.ExpirationKey, past.Add(time.Hour))))},
		{name: "not yet valid", header: bearer(signToken(t, e.key, kid, token.Type, with(valid,
			jwt.NotBeforeKey, future, jwt.ExpirationKey, future.Add(time.Hour))))},
		{name: "no exp", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, jwt.ExpirationKey, nil)))},
		{name: "wrong audience", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, jwt.AudienceKey, []string{"someone-else"})))},
		{name: "wrong issuer", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, jwt.IssuerKey, "https://evil.example")))},
		{name: "not an access token (typ JWT)", header: bearer(signToken(t, e.key, kid, "JWT", valid))},
		{name: "sub not a UUID", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, jwt.SubjectKey, "admin")))},
		{name: "no sid", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, token.SessionIDClaim, nil)))},
		// Well signed, but the database knows no such session / user.
		{name: "unknown session", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, token.SessionIDClaim, uuid.NewString())))},
		{name: "unknown user", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, jwt.SubjectKey, uuid.NewString())))},
		{name: "another user's session", header: bearer(signToken(t, e.key, kid, token.Type, with(valid, token.SessionIDClaim, tn.Member.SessionID)))},
		{name: "logged-out session", header: bearer(loggedOut.Token)},
		{name: "disabled user", header: bearer(disabled.Token)},
		{name: "session past its lifetime", header: bearer(expiredSession.Token)},
		{name: "idle session", header: bearer(idleSession.Token)},
	}

	before := e.snapshot(t)
	routes := 0
	for _, rt := range e.server.Routes() {
		if !rt.Auth {
			continue
		}
		routes++
		path := strings.NewReplacer("{org_id}", tn.Org.ID, "{project_id}", tn.Project.ID,
			"{user_id}", tn.Member.ID, "{invitation_id}", tn.Org.ID,
			"{session_id}", tn.Member.SessionID).Replace(rt.Path)
		path = fillOtherPathVars(path)
		// A valid body, so that a well-signed token of a dead session gets as far as
		// auth.begin_request (401) instead of stopping at validation (422).
		var body any
		switch {
		case rt.Path == "/v1/auth/password":
			// A valid body: the token, not the body, must be what is refused.
			body = map[string]any{"current_password": owner.Password, "new_password": "intruder's password"}
		case rt.Path == "/v1/auth/reauthenticate":
			body = map[string]any{"code": "123456"}
		case rt.Method == http.MethodPost && strings.HasPrefix(rt.Path, "/v1/auth/"):
			body = nil
		case rt.Method == http.MethodPost, rt.Method == http.MethodPatch:
			body = map[string]any{"name": "Intruder"}
		}
		// Routes whose body must be valid to reach authentication in the database.
		if b, ok := validBodies[rt.Method+" "+rt.Path]; ok {
			body = b
		}
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			for _, v := range variants {
				opt := func(r *http.Request) {
					r.Header.Del("Authorization")
					if v.header != nil {
						r.Header["Authorization"] = v.header
					}
				}
				r := e.do(t, rt.Method, path, "", body, opt)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s: %s", v.name, r)
					continue
				}
				wantUnauthorized(t, r)
				c := r.Header.Get("WWW-Authenticate")
				switch {
				case v.challenge != "" && c != v.challenge:
					t.Errorf("%s: WWW-Authenticate %q, want %q", v.name, c, v.challenge)
				case v.challenge == "" && !strings.HasPrefix(c, `Bearer realm="rowguard", error="invalid_token"`):
					t.Errorf("%s: WWW-Authenticate %q", v.name, c)
				}
				if v.name == "expired" && !strings.Contains(string(r.Body), "expired") {
					t.Errorf("%s: the problem does not say the token expired: %s", v.name, r.Body)
				}
				noLeak(t, r, tn.secrets()...)
			}
		})
	}
	if routes < 12 {
		t.Errorf("only %d protected routes", routes)
	}
	e.unchanged(t, before, "unauthenticated requests")

	// The genuine token still works: nothing above was a false negative.
	e.do(t, "GET", "/v1/orgs/"+tn.Org.ID, owner.Token, nil).want(t, http.StatusOK)
	e.do(t, "GET", "/v1/auth/me", e.signed(t, valid), nil).want(t, http.StatusOK)
}

// otherPathVar is any path variable but {org_id} and {project_id}.
var otherPathVar = regexp.MustCompile(`\{[a-z_]+\}`)

// fillOtherPathVars gives the path variables left a well-formed value: the valid one of
// a path value (sweepPathValues: a currency, a date), else a random id.
func fillOtherPathVars(path string) string {
	return otherPathVar.ReplaceAllStringFunc(path, func(v string) string {
		if value, ok := sweepPathValues[v]; ok {
			return value
		}
		return uuid.NewString()
	})
}

// signed is a token for claims signed with the server's own key.
func (e *env) signed(t testing.TB, claims map[string]any) string {
	return signToken(t, e.key, e.tokens.KeyID(), token.Type, claims)
}

// tamper changes one character of a token's payload.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[1])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'B'
	} else {
		p[i] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

// hmacToken is the classic key-confusion forgery: an HS256 token whose HMAC key is
// the server's public key (which anyone can read from the JWK set).
func hmacToken(t testing.TB, pub ed25519.PublicKey, kid string, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{jws.TypeKey: token.Type, jws.KeyIDKey: kid} {
		if err := hdr.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256, []byte(pub), jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// tamperSignature flips one bit of a token's signature.
func tamperSignature(tok string) string {
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		panic(err)
	}
	sig[len(sig)/2] ^= 1
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(parts, ".")
}
