package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

var resetTokenInMail = regexp.MustCompile(`(?m)^\s+([A-Za-z0-9_-]{43})\s*$`)

// forgot asks for a reset email: always 202, no body.
func (e *env) forgot(t testing.TB, email string) {
	t.Helper()
	r := e.do(t, http.MethodPost, "/v1/auth/password/forgot", "", map[string]any{"email": email}).want(t, http.StatusAccepted)
	if len(r.Body) != 0 {
		t.Fatalf("%s: 202 with a body", r)
	}
}

// resetToken reads the token from the next mail to to.
func (m *mailEnv) resetToken(t testing.TB, to string) (tok, body string) {
	t.Helper()
	msg := m.nextMail(t, to)
	match := resetTokenInMail.FindStringSubmatch(msg.Body)
	if match == nil {
		t.Fatalf("no reset token in the mail to %s:\n%s", to, msg.Body)
	}
	return match[1], msg.Body
}

func (e *env) reset(t testing.TB, tok, pw string) *response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/auth/password/reset", "", map[string]any{"token": tok, "new_password": pw})
}

func wantBadResetToken(t testing.TB, r *response) {
	t.Helper()
	wantProblem(t, r, api.ProblemValidation, "token")
}

func (e *env) postLogin(t testing.TB, email, pw string) *response {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/auth/login", "", map[string]any{"email": email, "password": pw})
}

func TestPasswordResetRevokesEverySession(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, withOptions(func(o *api.Options) {
		o.SignIn.PasswordResetURL = "https://app.rowguard.test/reset"
	}))
	u := m.squat(t, "reset-user") // its address unproven: the reset is its first proof
	var second authResponse
	m.postLogin(t, u.Email, u.Password).want(t, http.StatusOK).decode(t, &second)
	other, _ := m.register(t, "reset-bystander", "")

	m.forgot(t, u.Email)
	tok, body := m.resetToken(t, u.Email)
	if !strings.Contains(body, "https://app.rowguard.test/reset#token="+tok) {
		t.Errorf("the mail does not link to the reset page with the token in the fragment:\n%s", body)
	}
	m.reset(t, tok, "a brand new passphrase").want(t, http.StatusNoContent)

	for _, stale := range []string{u.Token, second.AccessToken} {
		wantUnauthorized(t, m.do(t, http.MethodGet, "/v1/auth/me", stale, nil).want(t, http.StatusUnauthorized))
	}
	m.do(t, http.MethodGet, "/v1/auth/me", other.Token, nil).want(t, http.StatusOK) // only that user's sessions
	wantProblem(t, m.postLogin(t, u.Email, u.Password), api.ProblemInvalidCredentials)
	m.signedIn(t, m.postLogin(t, u.Email, "a brand new passphrase"), u.Email)
	if m.count(t, `select count(*)::int from auth.users where id = $1 and email_verified_at is not null`, u.ID) != 1 {
		t.Error("a completed reset did not mark the email verified")
	}

	// Single use.
	wantBadResetToken(t, m.reset(t, tok, "yet another passphrase"))
	m.signedIn(t, m.postLogin(t, u.Email, "a brand new passphrase"), u.Email)
}

func TestPasswordResetTokenRules(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	u, _ := m.register(t, "reset-rules", "")

	// A new request keeps the live token and sends nothing (issue 12, attack 6: a flood
	// must not void the owner's mail).
	m.forgot(t, u.Email)
	second, _ := m.resetToken(t, u.Email)
	m.forgot(t, u.Email)
	if n := m.count(t, `select count(*)::int from auth.password_reset_tokens where user_id = $1`, u.ID); n != 1 {
		t.Fatalf("%d live reset tokens after two requests, want 1", n)
	}
	if n := m.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1) and template = 'password_reset'`, u.Email); n != 1 {
		t.Fatalf("%d reset mails after two requests, want 1", n)
	}

	// Hashed at rest.
	if m.count(t, `select count(*)::int from auth.password_reset_tokens where user_id = $1 and token_hash = sha256(convert_to($2, 'UTF8'))`, u.ID, second) != 1 {
		t.Fatal("the stored token is not the SHA-256 of the token")
	}

	// Expired.
	m.exec(t, `update auth.password_reset_tokens set expires_at = now() - interval '1 second' where user_id = $1`, u.ID)
	wantBadResetToken(t, m.reset(t, second, "password number two"))
	m.signedIn(t, m.postLogin(t, u.Email, u.Password), u.Email) // the password did not change

	// A made-up token.
	wantBadResetToken(t, m.reset(t, strings.Repeat("A", 43), "password number three"))
}

// No account enumeration: unknown and disabled addresses get the same 202 and no mail.
func TestPasswordForgotRevealsNoAccount(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	unknown := m.newEmail("reset-nobody")
	disabled := m.squat(t, "reset-disabled") // no email ever queued for it
	m.exec(t, `update auth.users set status = 'disabled' where id = $1`, disabled.ID)
	before := m.snapshot(t)
	for _, email := range []string{unknown, disabled.Email} {
		m.forgot(t, email)
		if n := m.outboxRows(t, email); n != 0 {
			t.Errorf("%s: %d emails queued", email, n)
		}
	}
	m.unchanged(t, before, "reset requests for unknown and disabled addresses")
}

func TestPasswordResetBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := strings.Repeat("A", 43)
	e.runBadInput(t, http.MethodPost, "/v1/auth/password/forgot", "", append(
		bodyCases(map[string]any{"email": "a@example.com"}, "email"),
		invalid("not an email", map[string]any{"email": "nope"}, "email"),
	))
	e.runBadInput(t, http.MethodPost, "/v1/auth/password/reset", "", append(
		bodyCases(map[string]any{"token": tok, "new_password": "long enough"}, "token"),
		invalid("no token", map[string]any{"new_password": "long enough"}, "token"),
		invalid("short token", map[string]any{"token": "abc", "new_password": "long enough"}, "token"),
		invalid("short password", map[string]any{"token": tok, "new_password": "short"}, "new_password"),
		invalid("both missing", map[string]any{}, "token", "new_password"),
	))
}
