package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Every way in (sign-up, password login, refresh, and the ways later added: email code,
// single sign-on) ends with the same pair: a short-lived access token naming the user
// and the session, and an opaque refresh token. Sessions are born in exactly one SQL
// function, auth.open_session, reached through api.create_session (or api.register).
// A new way in authenticates its user, then calls Server.signIn (openSessionFor).

// Session defaults, applied by NewServer to zero SessionOptions fields.
const (
	DefaultSessionLifetime    = 30 * 24 * time.Hour
	DefaultSessionIdleTimeout = 7 * 24 * time.Hour
	DefaultRefreshReuseGrace  = 10 * time.Second
)

// SessionOptions bound a session's life. Zero fields take the defaults above.
type SessionOptions struct {
	// Lifetime is the absolute lifetime of a session: no refresh extends it.
	Lifetime time.Duration
	// IdleTimeout ends a session unused for this long (checked on every request
	// and refresh, in SQL).
	IdleTimeout time.Duration
	// RefreshReuseGrace is how long a rotated refresh token may still be
	// presented (several tabs refreshing at once) before it counts as reused and
	// its session is revoked. Negative: no grace at all.
	RefreshReuseGrace time.Duration
}

func (o *SessionOptions) setDefaults() {
	if o.Lifetime <= 0 {
		o.Lifetime = DefaultSessionLifetime
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultSessionIdleTimeout
	}
	switch {
	case o.RefreshReuseGrace == 0:
		o.RefreshReuseGrace = DefaultRefreshReuseGrace
	case o.RefreshReuseGrace < 0:
		o.RefreshReuseGrace = 0
	}
}

// refreshTokenBytes is the entropy of a refresh token: 256 bits, so it cannot be
// guessed and its SHA-256 (all that is stored) needs no salt or slow hash.
const refreshTokenBytes = 32

// refreshTokenLength is the length of its unpadded base64url text.
var refreshTokenLength = base64.RawURLEncoding.EncodedLen(refreshTokenBytes)

// newRefreshToken returns a fresh refresh token and the SHA-256 the database keeps.
func newRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("api: refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, refreshTokenHash(token), nil
}

// refreshTokenHash is what auth.refresh_tokens.token_hash holds for a token.
func refreshTokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wellFormedRefreshToken reports whether s could be a token newRefreshToken made.
func wellFormedRefreshToken(s string) bool {
	if len(s) != refreshTokenLength {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// pgInterval renders d for a `$n::interval` parameter.
func pgInterval(d time.Duration) string {
	return fmt.Sprintf("%d microseconds", d.Microseconds())
}

// sessionResult is what api.register, api.create_session and api.refresh_session
// return for a live session.
type sessionResult struct {
	User             json.RawMessage `json:"user"`
	Organization     json.RawMessage `json:"organization"`
	SessionID        string          `json:"session_id"`
	SessionExpiresAt time.Time       `json:"session_expires_at"`
}

// sessionTokens is the answer of every way in and of a refresh.
type sessionTokens struct {
	User             json.RawMessage `json:"user"`
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        int64           `json:"expires_in"`
	RefreshToken     string          `json:"refresh_token"`
	SessionExpiresAt time.Time       `json:"session_expires_at"`
}

// openSessionFor starts a session for the user userQuery selects (its own arguments are
// args): the proof of a way in runs in the same statement as the session's birth, after
// the buckets' hits in the same round trip (limitedRow). No row or a NULL user:
// pgx.ErrNoRows.
func (s *Server) openSessionFor(ctx context.Context, r *http.Request, buckets []rateBucket, userQuery string, args ...any) (sessionTokens, error) {
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return sessionTokens{}, err
	}
	n := len(args)
	query := fmt.Sprintf(`select api.create_session(proof.user_id, $%d, $%d, $%d, $%d::interval, $%d::interval)
	  from (%s) as proof(user_id) where proof.user_id is not null`, n+1, n+2, n+3, n+4, n+5, userQuery)
	args = append(args, nullIfEmpty(userAgent(r)), nullIfEmpty(clientIP(r)), hash,
		pgInterval(s.sessions.Lifetime), pgInterval(s.sessions.IdleTimeout))
	var body []byte
	if err := s.limitedRow(ctx, buckets, query, args...).Scan(&body); err != nil {
		return sessionTokens{}, err
	}
	_, tokens, err := s.tokensFor(body, refresh)
	return tokens, err
}

// tokensFor reads a sessionResult and issues the access token for its user and
// session, next to the refresh token the session was given.
func (s *Server) tokensFor(body []byte, refresh string) (sessionResult, sessionTokens, error) {
	var res sessionResult
	if err := json.Unmarshal(body, &res); err != nil {
		return res, sessionTokens{}, fmt.Errorf("api: decoding session result: %w", err)
	}
	var user struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.User, &user); err != nil || !isUUID(user.ID) || !isUUID(res.SessionID) {
		return res, sessionTokens{}, fmt.Errorf("api: session result lacks user id or session id: %s", body)
	}
	tok, ttl, err := s.tokens.Issue(user.ID, res.SessionID)
	if err != nil {
		return res, sessionTokens{}, err
	}
	return res, sessionTokens{
		User: res.User, AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second),
		RefreshToken: refresh, SessionExpiresAt: res.SessionExpiresAt,
	}, nil
}
