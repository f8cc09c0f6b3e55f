package e2e

import (
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rowguard/rowguard/api"
)

// login signs u in again over HTTP: a new session with its own tokens.
func (e *env) login(t testing.TB, u user, opts ...reqOption) user {
	t.Helper()
	var res authResponse
	e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password}, opts...).
		want(t, http.StatusOK).decode(t, &res)
	c, err := e.tokens.Verify(res.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	u.Token, u.SessionID, u.RefreshToken = res.AccessToken, c.SessionID, res.RefreshToken
	return u
}

// refresh presents a refresh token (no access token) and returns the answer.
func (e *env) refresh(t testing.TB, refreshToken string) *response {
	t.Helper()
	return e.do(t, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": refreshToken})
}

// refreshed decodes a successful refresh.
func (e *env) refreshed(t testing.TB, r *response) authResponse {
	t.Helper()
	var res authResponse
	r.want(t, http.StatusOK).decode(t, &res)
	return res
}

type sessionJSON struct {
	ID         string    `json:"id"`
	UserAgent  *string   `json:"user_agent"`
	IP         *string   `json:"ip"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

func (e *env) sessions(t testing.TB, u user) []sessionJSON {
	t.Helper()
	var list struct {
		Items []sessionJSON `json:"items"`
	}
	e.do(t, "GET", "/v1/auth/sessions", u.Token, nil).want(t, http.StatusOK).decode(t, &list)
	return list.Items
}

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, o := e.register(t, "refresher", "Refresh Org")
	orgPath := "/v1/orgs/" + o.ID

	t.Run("issued at sign-up and login, stored only as SHA-256", func(t *testing.T) {
		if len(u.RefreshToken) != 43 {
			t.Fatalf("register: refresh token %q", u.RefreshToken)
		}
		l := e.login(t, u)
		if l.RefreshToken == "" || l.RefreshToken == u.RefreshToken {
			t.Fatalf("login: refresh token %q", l.RefreshToken)
		}
		for _, tok := range []string{u.RefreshToken, l.RefreshToken} {
			sum := sha256.Sum256([]byte(tok))
			if n := e.count(t, `select count(*) from auth.refresh_tokens where token_hash = $1`, sum[:]); n != 1 {
				t.Errorf("%d rows hold the token's SHA-256", n)
			}
			// Nowhere in the database as text.
			if n := e.count(t, `select count(*) from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id
			                     where strpos(t::text || s::text, $1) > 0 or strpos(encode(t.token_hash, 'base64'), $1) > 0`, tok); n != 0 {
				t.Errorf("the refresh token is stored in plaintext")
			}
		}
	})

	t.Run("rotates without an access token", func(t *testing.T) {
		s := e.login(t, u)
		res := e.refreshed(t, e.refresh(t, s.RefreshToken))
		if res.RefreshToken == s.RefreshToken || res.AccessToken == "" || res.User.ID != u.ID {
			t.Fatalf("refresh: %+v", res)
		}
		c, err := e.tokens.Verify(res.AccessToken)
		if err != nil || c.SessionID != s.SessionID {
			t.Fatalf("the new access token names session %q (%v), want the same session %s", c.SessionID, err, s.SessionID)
		}
		e.do(t, "GET", orgPath, res.AccessToken, nil).want(t, http.StatusOK)
		// The new refresh token rotates in turn.
		res2 := e.refreshed(t, e.refresh(t, res.RefreshToken))
		e.do(t, "GET", orgPath, res2.AccessToken, nil).want(t, http.StatusOK)
		// The session's absolute end does not move.
		if !res2.SessionExpiresAt.Equal(res.SessionExpiresAt) {
			t.Errorf("session_expires_at moved from %s to %s", res.SessionExpiresAt, res2.SessionExpiresAt)
		}
	})

	t.Run("a rotated token within the grace window gets the same successor (several tabs)", func(t *testing.T) {
		s := e.login(t, u)
		tab1 := e.refreshed(t, e.refresh(t, s.RefreshToken))
		tab2 := e.refreshed(t, e.refresh(t, s.RefreshToken))
		// One live refresh token per session (TestRefreshReplayInTheGraceWindowDoesNotFork).
		if tab1.RefreshToken != tab2.RefreshToken {
			t.Fatal("two tabs got different refresh tokens: the chain forked")
		}
		for _, tab := range []authResponse{tab1, tab2} {
			e.do(t, "GET", orgPath, tab.AccessToken, nil).want(t, http.StatusOK)
		}
		e.refreshed(t, e.refresh(t, tab2.RefreshToken))
	})

	t.Run("a rotated token replayed after the grace window revokes the session", func(t *testing.T) {
		s := e.login(t, u)
		next := e.refreshed(t, e.refresh(t, s.RefreshToken))
		other := e.login(t, u)
		// The grace window (10 minutes in these tests) has passed.
		e.exec(t, `update auth.refresh_tokens set rotated_at = now() - interval '1 hour' where rotated_at is not null`)

		r := e.refresh(t, s.RefreshToken)
		wantProblem(t, r, api.ProblemRefreshTokenReused)
		if n := e.count(t, `select count(*) from auth.sessions where id = $1 and revoked_reason = 'refresh_token_reused'`, s.SessionID); n != 1 {
			t.Errorf("the session was not revoked as reused")
		}
		// Every token of that session is dead: the thief's and the victim's alike.
		wantUnauthorized(t, e.do(t, "GET", orgPath, next.AccessToken, nil))
		wantUnauthorized(t, e.do(t, "GET", orgPath, s.Token, nil))
		wantProblem(t, e.refresh(t, next.RefreshToken), api.ProblemUnauthorized)
		// Other sessions of the user are untouched.
		e.do(t, "GET", orgPath, other.Token, nil).want(t, http.StatusOK)
		e.refreshed(t, e.refresh(t, other.RefreshToken))
	})

	t.Run("bad refresh tokens", func(t *testing.T) {
		s := e.login(t, u)
		sessionsBefore := e.count(t, `select count(*) from auth.sessions where revoked_at is null`)
		for name, tok := range map[string]string{
			"unknown":          strings.Repeat("A", 43),
			"too short":        s.RefreshToken[:42],
			"not base64url":    strings.Repeat("!", 43),
			"an access token":  s.Token,
			"one changed char": tamperRefresh(s.RefreshToken),
		} {
			r := e.refresh(t, tok)
			if p := wantProblem(t, r, api.ProblemUnauthorized); strings.Contains(p.Detail, tok) {
				t.Errorf("%s: the problem echoes the token", name)
			}
		}
		wantProblem(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]any{}), api.ProblemValidation, "refresh_token")
		wantProblem(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": 42}), api.ProblemValidation, "refresh_token")
		if n := e.count(t, `select count(*) from auth.sessions where revoked_at is null`); n != sessionsBefore {
			t.Errorf("bad refresh tokens changed the live sessions: %d → %d", sessionsBefore, n)
		}
		e.refreshed(t, e.refresh(t, s.RefreshToken)) // the genuine one still works
	})

	t.Run("no refresh for a revoked session or a disabled user", func(t *testing.T) {
		d, _ := e.register(t, "refresh-disabled", "")
		e.exec(t, `update auth.users set status = 'disabled' where id = $1`, d.ID)
		wantProblem(t, e.refresh(t, d.RefreshToken), api.ProblemUnauthorized)

		s := e.login(t, u)
		e.do(t, "POST", "/v1/auth/logout", s.Token, nil).want(t, http.StatusNoContent)
		wantProblem(t, e.refresh(t, s.RefreshToken), api.ProblemUnauthorized)
	})
}

// tamperRefresh changes one character of a refresh token, keeping it well formed.
func tamperRefresh(tok string) string {
	b := []byte(tok)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestSessionLifetimes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) {
		o.Sessions = api.SessionOptions{Lifetime: 2 * time.Hour, IdleTimeout: 30 * time.Minute}
	}))
	u, o := e.register(t, "lifetimes", "Lifetime Org")
	orgPath := "/v1/orgs/" + o.ID

	t.Run("configured at sign-in", func(t *testing.T) {
		var res authResponse
		e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password}).
			want(t, http.StatusOK).decode(t, &res)
		if d := time.Until(res.SessionExpiresAt); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
			t.Errorf("session_expires_at %s is not two hours away", res.SessionExpiresAt)
		}
		if n := e.count(t, `select count(*) from auth.sessions where user_id = $1 and idle_timeout = interval '30 minutes'
		                     and expires_at between now() + interval '119 minutes' and now() + interval '121 minutes'`, u.ID); n != 2 {
			t.Errorf("%d sessions carry the configured lifetime and idle timeout, want 2", n)
		}
	})

	t.Run("absolute lifetime", func(t *testing.T) {
		s := e.login(t, u)
		e.do(t, "GET", orgPath, s.Token, nil).want(t, http.StatusOK)
		e.exec(t, `update auth.sessions set expires_at = now() - interval '1 second' where id = $1`, s.SessionID)
		wantUnauthorized(t, e.do(t, "GET", orgPath, s.Token, nil))
		wantProblem(t, e.refresh(t, s.RefreshToken), api.ProblemUnauthorized)
	})

	t.Run("inactivity timeout", func(t *testing.T) {
		s := e.login(t, u)
		e.exec(t, `update auth.sessions set last_used_at = now() - interval '29 minutes' where id = $1`, s.SessionID)
		e.do(t, "GET", orgPath, s.Token, nil).want(t, http.StatusOK) // touched: idle again from now
		e.exec(t, `update auth.sessions set last_used_at = now() - interval '31 minutes' where id = $1`, s.SessionID)
		wantUnauthorized(t, e.do(t, "GET", orgPath, s.Token, nil))
		wantProblem(t, e.refresh(t, s.RefreshToken), api.ProblemUnauthorized)
		for _, listed := range e.sessions(t, u) {
			if listed.ID == s.SessionID {
				t.Error("an idle session is still listed")
			}
		}
	})
}

func TestLogoutAndSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.newTenant(t, "Session Corp")
	orgPath := "/v1/orgs/" + tn.Org.ID

	t.Run("logout ends this session only, at once", func(t *testing.T) {
		a := e.login(t, tn.Owner)
		b := e.login(t, tn.Owner)
		e.do(t, "POST", "/v1/auth/logout", a.Token, nil).want(t, http.StatusNoContent)
		wantUnauthorized(t, e.do(t, "GET", orgPath, a.Token, nil))
		wantUnauthorized(t, e.do(t, "POST", "/v1/auth/logout", a.Token, nil))
		wantProblem(t, e.refresh(t, a.RefreshToken), api.ProblemUnauthorized)
		e.do(t, "GET", orgPath, b.Token, nil).want(t, http.StatusOK)
	})

	t.Run("list: own live sessions, current flagged, device and address", func(t *testing.T) {
		u, _ := e.register(t, "lister", "")
		phone := e.login(t, u, withHeader("User-Agent", "PhoneBrowser/1.0"))
		gone := e.login(t, u)
		e.do(t, "POST", "/v1/auth/logout", gone.Token, nil).want(t, http.StatusNoContent)

		list := e.sessions(t, phone)
		if len(list) != 2 {
			t.Fatalf("%d sessions listed, want 2 (sign-up and phone): %+v", len(list), list)
		}
		var current int
		for _, s := range list {
			if s.ID == gone.SessionID || s.ID == tn.Owner.SessionID {
				t.Errorf("lists session %s that is revoked or not the caller's", s.ID)
			}
			if s.Current {
				current++
				if s.ID != phone.SessionID || s.UserAgent == nil || *s.UserAgent != "PhoneBrowser/1.0" || s.IP == nil || *s.IP != "127.0.0.1" {
					t.Errorf("current session %+v", s)
				}
			}
			if s.CreatedAt.IsZero() || s.LastUsedAt.IsZero() || !s.ExpiresAt.After(time.Now()) {
				t.Errorf("session times %+v", s)
			}
		}
		if current != 1 {
			t.Errorf("%d sessions flagged current", current)
		}
	})

	t.Run("delete a session: its tokens fail at once; others' sessions are not found", func(t *testing.T) {
		mine := e.login(t, tn.Admin)
		laptop := e.login(t, tn.Admin)
		wantProblem(t, e.do(t, "DELETE", "/v1/auth/sessions/"+tn.Member.SessionID, mine.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "DELETE", "/v1/auth/sessions/"+uuid.NewString(), mine.Token, nil), api.ProblemNotFound)
		wantProblem(t, e.do(t, "DELETE", "/v1/auth/sessions/not-a-uuid", mine.Token, nil), api.ProblemNotFound)
		e.do(t, "GET", orgPath, tn.Member.Token, nil).want(t, http.StatusOK)

		e.do(t, "DELETE", "/v1/auth/sessions/"+laptop.SessionID, mine.Token, nil).want(t, http.StatusNoContent)
		wantUnauthorized(t, e.do(t, "GET", orgPath, laptop.Token, nil))
		wantProblem(t, e.refresh(t, laptop.RefreshToken), api.ProblemUnauthorized)
		wantProblem(t, e.do(t, "DELETE", "/v1/auth/sessions/"+laptop.SessionID, mine.Token, nil), api.ProblemNotFound)
		e.do(t, "GET", orgPath, mine.Token, nil).want(t, http.StatusOK)
	})

	t.Run("logout-all ends every session of the caller, no one else's", func(t *testing.T) {
		u, o := e.register(t, "everywhere", "Everywhere Org")
		a, b := e.login(t, u), e.login(t, u)
		e.do(t, "POST", "/v1/auth/logout-all", a.Token, nil).want(t, http.StatusNoContent)
		for _, s := range []user{u, a, b} {
			wantUnauthorized(t, e.do(t, "GET", "/v1/orgs/"+o.ID, s.Token, nil))
			wantProblem(t, e.refresh(t, s.RefreshToken), api.ProblemUnauthorized)
		}
		e.do(t, "GET", orgPath, tn.Owner.Token, nil).want(t, http.StatusOK)
		// Signing in again works.
		e.do(t, "GET", "/v1/orgs/"+o.ID, e.login(t, u).Token, nil).want(t, http.StatusOK)
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, o := e.register(t, "changer", "Password Org")
	orgPath := "/v1/orgs/" + o.ID
	const newPassword = "a much better passphrase"

	t.Run("bad input", func(t *testing.T) {
		before := e.snapshot(t)
		wantProblem(t, e.do(t, "POST", "/v1/auth/password", u.Token, map[string]any{}), api.ProblemValidation, "new_password")
		// Without the current password, only after a recent reauthentication (step_up_test.go).
		wantProblem(t, e.do(t, "POST", "/v1/auth/password", u.Token, map[string]any{"new_password": newPassword}),
			api.ProblemReauthenticationRequired)
		wantProblem(t, e.do(t, "POST", "/v1/auth/password", u.Token,
			map[string]any{"current_password": u.Password, "new_password": "short"}), api.ProblemValidation, "new_password")
		wantProblem(t, e.do(t, "POST", "/v1/auth/password", u.Token,
			map[string]any{"current_password": "not my password", "new_password": newPassword}), api.ProblemValidation, "current_password")
		e.unchanged(t, before, "refused password changes")
	})

	t.Run("changes the password and revokes the other sessions", func(t *testing.T) {
		other := e.login(t, u)
		e.do(t, "POST", "/v1/auth/password", u.Token,
			map[string]any{"current_password": u.Password, "new_password": newPassword}).want(t, http.StatusNoContent)
		wantUnauthorized(t, e.do(t, "GET", orgPath, other.Token, nil))
		wantProblem(t, e.refresh(t, other.RefreshToken), api.ProblemUnauthorized)
		e.do(t, "GET", orgPath, u.Token, nil).want(t, http.StatusOK) // this session goes on
		e.refreshed(t, e.refresh(t, u.RefreshToken))

		wantProblem(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password}),
			api.ProblemInvalidCredentials)
		u.Password = newPassword
		e.login(t, u)
	})

	t.Run("an account without a password gets a clear 409", func(t *testing.T) {
		p, _ := e.register(t, "passwordless", "")
		e.exec(t, `update auth.users set password_hash = null where id = $1`, p.ID)
		r := e.do(t, "POST", "/v1/auth/password", p.Token, map[string]any{"current_password": p.Password, "new_password": newPassword})
		wantProblem(t, r, api.ProblemConflict, "current_password")
		// Nor can it sign in with any password; the answer is the usual one.
		wantProblem(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": p.Email, "password": p.Password}),
			api.ProblemInvalidCredentials)
	})
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) {
		o.RateLimits = api.RateLimitOptions{
			LoginPerAddress:          api.RateLimit{Max: 12, Window: time.Hour},
			LoginPerAccountAddress:   api.RateLimit{Max: 3, Window: time.Hour},
			LoginPerAccount:          api.RateLimit{Max: 3, Window: time.Hour},
			RefreshPerAddress:        api.RateLimit{Max: 1000, Window: time.Hour},
			RefreshPerAccount:        api.RateLimit{Max: 2, Window: time.Hour},
			PasswordChangePerAccount: api.RateLimit{Max: 2, Window: time.Hour},
		}
	}))
	wantTooMany := func(t *testing.T, r *response) {
		t.Helper()
		wantProblem(t, r, api.ProblemTooManyRequests)
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}

	t.Run("failed logins per account and address; the right password is not a failure", func(t *testing.T) {
		u, _ := e.register(t, "guessed", "")
		for i := range 3 {
			wantProblem(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": "guess " + strconv.Itoa(i)}),
				api.ProblemInvalidCredentials)
		}
		wantTooMany(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": strings.ToUpper(u.Email), "password": "guess"}))
		for range 3 {
			wantProblem(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": "nobody@example.com", "password": "guess"}),
				api.ProblemInvalidCredentials)
		}
		wantTooMany(t, e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": "nobody@example.com", "password": "guess"}))
		// Right passwords do not count: another account signs in again and again.
		v, _ := e.register(t, "bystander", "")
		for range 4 {
			e.login(t, v)
		}
	})

	t.Run("login per address", func(t *testing.T) {
		// 10 attempts counted so far from 127.0.0.1: 3 + 3 refused guesses and 4 logins (a
		// refused attempt is rolled back, so it counts in no bucket).
		for i := 0; ; i++ {
			r := e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": e.newEmail("spray"), "password": "guess"})
			if r.Status == http.StatusTooManyRequests {
				wantTooMany(t, r)
				if i != 2 {
					t.Errorf("the address was refused after %d more attempts, want 2", i)
				}
				break
			}
			wantProblem(t, r, api.ProblemInvalidCredentials)
			if i > 20 {
				t.Fatal("the address is never limited")
			}
		}
	})

	t.Run("refresh per account", func(t *testing.T) {
		u, _ := e.register(t, "refresh-limited", "")
		tok := u.RefreshToken
		for range 2 {
			tok = e.refreshed(t, e.refresh(t, tok)).RefreshToken
		}
		wantTooMany(t, e.refresh(t, tok))
		// Refused before rotation: the token was not spent, nor the session revoked.
		if n := e.count(t, `select count(*) from auth.refresh_tokens where token_hash = sha256($1::bytea) and rotated_at is null`, []byte(tok)); n != 1 {
			t.Errorf("a refused refresh rotated the token")
		}
		e.do(t, "GET", "/v1/auth/me", u.Token, nil).want(t, http.StatusOK)
	})

	t.Run("password change per account", func(t *testing.T) {
		u, _ := e.register(t, "password-limited", "")
		body := map[string]any{"current_password": "wrong guess", "new_password": "a new passphrase"}
		for range 2 {
			wantProblem(t, e.do(t, "POST", "/v1/auth/password", u.Token, body), api.ProblemValidation, "current_password")
		}
		body["current_password"] = u.Password
		wantTooMany(t, e.do(t, "POST", "/v1/auth/password", u.Token, body))
	})
}

// The limiter counts exactly under concurrency: of many simultaneous wrong guesses at
// one account, exactly the limit are tried (the failure is counted before the hash).
func TestRateLimitIsAtomic(t *testing.T) {
	t.Parallel()
	const limit, attempts = 5, 40
	e := newEnv(t, withOptions(func(o *api.Options) {
		o.RateLimits.LoginPerAccountAddress = api.RateLimit{Max: limit, Window: time.Hour}
		o.RateLimits.LoginPerAddress = api.RateLimit{Max: 10 * attempts, Window: time.Hour}
	}))
	u, _ := e.register(t, "stampede", "")
	var wg sync.WaitGroup
	statuses := make([]int, attempts)
	for i := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.send(e.newRequest(t, "POST", "/v1/auth/login", "", map[string]any{"email": u.Email, "password": "a wrong guess"}))
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.Status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] != limit || counts[http.StatusTooManyRequests] != attempts-limit {
		t.Errorf("statuses %v, want %d × 401 and %d × 429", counts, limit, attempts-limit)
	}
}

// Refresh is limited per client address too, before any token is looked at.
func TestRefreshRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) {
		o.RateLimits.RefreshPerAddress = api.RateLimit{Max: 3, Window: time.Hour}
	}))
	u, _ := e.register(t, "address-limited", "")
	for range 3 {
		wantProblem(t, e.refresh(t, strings.Repeat("B", 43)), api.ProblemUnauthorized)
	}
	r := e.refresh(t, u.RefreshToken)
	wantProblem(t, r, api.ProblemTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// The genuine token was not spent by the refused attempt.
	sum := sha256.Sum256([]byte(u.RefreshToken))
	if n := e.count(t, `select count(*) from auth.refresh_tokens where token_hash = $1 and rotated_at is null`, sum[:]); n != 1 {
		t.Error("a refused refresh rotated the token")
	}
}
