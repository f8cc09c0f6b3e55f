package e2e

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

// Issue 12, attack 1 (pre-account takeover): an attacker registers victim@x with a
// password before its owner arrives; the owner later signs in by an emailed code and
// gets the same account — with the attacker's password and live tokens still working.

// A sign-up no longer makes an account: the attacker's sign-up for someone else's
// address waits for a code only that mailbox receives, and holds nothing meanwhile.
func TestSignUpOfSomeoneElsesAddressHoldsNothing(t *testing.T) {
	m := newMailEnv(t)
	victim := m.newEmail("victim")

	m.startSignUp(t, victim, "attacker's password", "Attacker Org")
	if n := m.count(t, `select count(*)::int from auth.users where lower(email) = lower($1)`, victim); n != 0 {
		t.Fatalf("a sign-up created %d users before its address answered", n)
	}
	wantProblem(t, m.postLogin(t, victim, "attacker's password"), api.ProblemInvalidCredentials)
	// Guessing the code: refused, and the fifth wrong guess voids the sign-up.
	for i := range 5 {
		wantWrongCode(t, m.verifySignUp(t, victim, strconv.Itoa(100000+i)))
	}
	if n := m.count(t, `select count(*)::int from auth.pending_sign_ups where email = lower($1)`, victim); n != 0 {
		t.Errorf("the sign-up survived 5 wrong guesses")
	}
	attackersCode := m.signInCode(t, victim) // went to the victim's mailbox, never to the attacker
	wantWrongCode(t, m.verifySignUp(t, victim, attackersCode))

	// The owner arrives, signs up with their own password and proves the mailbox.
	m.startSignUp(t, victim, "the owner's own password", "")
	var res authResponse
	m.verifySignUp(t, victim, m.signInCode(t, victim)).want(t, http.StatusCreated).decode(t, &res)
	if res.User.Email != victim || res.Organization != nil {
		t.Fatalf("owner's sign-up: %+v", res)
	}
	if m.count(t, `select count(*)::int from auth.users where id = $1 and email_verified_at is not null`, res.User.ID) != 1 {
		t.Error("the account was not born verified")
	}
	wantProblem(t, m.postLogin(t, victim, "attacker's password"), api.ProblemInvalidCredentials)
	m.signedIn(t, m.postLogin(t, victim, "the owner's own password"), victim)
	var me meResponse
	m.do(t, http.MethodGet, "/v1/auth/me", res.AccessToken, nil).want(t, http.StatusOK).decode(t, &me)
	if len(me.Memberships) != 0 {
		t.Errorf("the attacker's organization came with the account: %+v", me.Memberships)
	}
}

// An account squatted before sign-ups were verified (or by any way that left the
// address unproven) is handed to whoever first proves the mailbox, by every way in:
// the squatter's password, access tokens and refresh tokens die.
func TestFirstProofOfTheMailboxShutsTheSquatterOut(t *testing.T) {
	m := newMailEnv(t)

	// squatterIsOut checks everything the squatter held is dead, and the owner's own
	// new session lives.
	squatterIsOut := func(t *testing.T, squatter user, ownerToken string) {
		t.Helper()
		wantUnauthorized(t, m.do(t, http.MethodGet, "/v1/auth/me", squatter.Token, nil))
		if r := m.refresh(t, squatter.RefreshToken); r.Status != http.StatusUnauthorized {
			t.Errorf("the squatter's refresh token: %s", r)
		}
		wantProblem(t, m.postLogin(t, squatter.Email, squatter.Password), api.ProblemInvalidCredentials)
		if n := m.count(t, `select count(*)::int from auth.sessions where id = $1 and revoked_reason = 'email_proven'`, squatter.SessionID); n != 1 {
			t.Errorf("the squatter's session was not revoked as email_proven")
		}
		m.do(t, http.MethodGet, "/v1/auth/me", ownerToken, nil).want(t, http.StatusOK)
	}

	t.Run("an emailed sign-in code", func(t *testing.T) {
		squatter := m.squat(t, "code-victim")
		m.do(t, http.MethodGet, "/v1/auth/me", squatter.Token, nil).want(t, http.StatusOK) // the attack, before
		m.requestCode(t, squatter.Email)
		owner := m.signedIn(t, m.verifyCode(t, squatter.Email, m.signInCode(t, squatter.Email)), squatter.Email)
		if owner.User.ID != squatter.ID {
			t.Fatalf("the owner got account %s, want the squatted %s", owner.User.ID, squatter.ID)
		}
		squatterIsOut(t, squatter, owner.AccessToken)
		// A second proof is not a first: the owner's sessions survive their next code.
		m.requestCode(t, squatter.Email)
		m.signedIn(t, m.verifyCode(t, squatter.Email, m.signInCode(t, squatter.Email)), squatter.Email)
		m.do(t, http.MethodGet, "/v1/auth/me", owner.AccessToken, nil).want(t, http.StatusOK)
	})

	t.Run("a password reset", func(t *testing.T) {
		squatter := m.squat(t, "reset-victim")
		m.forgot(t, squatter.Email)
		tok, _ := m.resetToken(t, squatter.Email)
		m.reset(t, tok, "the owner's new password").want(t, http.StatusNoContent)
		owner := m.signedIn(t, m.postLogin(t, squatter.Email, "the owner's new password"), squatter.Email)
		squatterIsOut(t, squatter, owner.AccessToken)
	})

	t.Run("a sign-up of the squatted address", func(t *testing.T) {
		squatter := m.squat(t, "signup-victim")
		// The address has an account: the sign-up answers as ever, and mails its owner a
		// notice instead of a code. The owner proves the mailbox with a code.
		m.startSignUp(t, squatter.Email, "the owner's sign-up password", "")
		if msg := m.nextMail(t, squatter.Email); !strings.Contains(msg.Subject, "tried to sign up") {
			t.Fatalf("the owner got %q, want the sign-up notice", msg.Subject)
		}
		m.requestCode(t, squatter.Email)
		owner := m.signedIn(t, m.verifyCode(t, squatter.Email, m.signInCode(t, squatter.Email)), squatter.Email)
		squatterIsOut(t, squatter, owner.AccessToken)
	})
	// OpenID Connect: TestOIDCLinksByVerifiedEmail (oidc_test.go).
}

// Issue 12, attack 5 (enumeration): register answered 409 for a taken address. Now a
// new address, a taken one (in any case) and a disabled one get the same status, body
// and headers.
func TestSignUpDoesNotTellWhoHasAnAccount(t *testing.T) {
	m := newMailEnv(t)
	taken, _ := m.register(t, "taken", "")
	disabled, _ := m.register(t, "disabled", "")
	m.exec(t, `update auth.users set status = 'disabled' where id = $1`, disabled.ID)

	signUp := func(email string) *response {
		return m.startSignUp(t, email, "a password of mine", "Some Org")
	}
	fresh := signUp(m.newEmail("fresh"))
	for _, email := range []string{taken.Email, strings.ToUpper(taken.Email), disabled.Email} {
		r := signUp(email)
		if !bytes.Equal(r.Body, fresh.Body) {
			t.Errorf("%s: body %s, a new address gets %s", email, r.Body, fresh.Body)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control"} {
			if r.Header.Get(h) != fresh.Header.Get(h) {
				t.Errorf("%s: header %s %q, a new address gets %q", email, h, r.Header.Get(h), fresh.Header.Get(h))
			}
		}
	}
	var body struct {
		Detail    string `json:"detail"`
		ExpiresIn int    `json:"expires_in"`
	}
	fresh.decode(t, &body)
	if body.ExpiresIn != int(api.SignUpCodeTTL/time.Second) || body.Detail == "" {
		t.Errorf("the answer %s", fresh.Body)
	}
	// The owner of the taken address is told; the disabled account hears nothing.
	if msg := m.nextMail(t, taken.Email); !strings.Contains(msg.Subject, "tried to sign up") || codeInMail.MatchString(msg.Body) {
		t.Errorf("the owner's notice: %q\n%s", msg.Subject, msg.Body)
	}
	if n := m.count(t, `select count(*)::int from auth.email_outbox where lower(recipient) = lower($1) and template = 'sign_up_exists'`, disabled.Email); n != 0 {
		t.Errorf("a disabled account was mailed %d notices", n)
	}
}

// Attack 5 (flooding): sign-ups are limited per client address and per address signed
// up, counted before the argon2id hash; over a limit: 429 with Retry-After, and nothing
// is written or mailed.
func TestSignUpRateLimits(t *testing.T) {
	t.Parallel()
	wantTooMany := func(t *testing.T, r *response) {
		t.Helper()
		wantProblem(t, r, api.ProblemTooManyRequests)
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
	}
	signUp := func(e *env, email string) *response {
		return e.do(t, http.MethodPost, "/v1/auth/register", "", map[string]any{"email": email, "password": fixturePassword})
	}

	t.Run("per address signed up", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *api.Options) {
			o.RateLimits.SignUpPerAccount = api.RateLimit{Max: 2, Window: time.Hour}
		}))
		victim := e.newEmail("flooded")
		for range 2 {
			signUp(e, victim).want(t, http.StatusAccepted)
		}
		mails := e.outboxRows(t, victim)
		wantTooMany(t, signUp(e, strings.ToUpper(victim))) // the address in any case is one bucket
		if e.outboxRows(t, victim) != mails {
			t.Error("a refused sign-up still mailed the address")
		}
		signUp(e, e.newEmail("someone-else")).want(t, http.StatusAccepted)
	})

	t.Run("per client address", func(t *testing.T) {
		e := newEnv(t, withOptions(func(o *api.Options) {
			o.RateLimits.SignUpPerAddress = api.RateLimit{Max: 3, Window: time.Hour}
		}))
		for i := range 3 {
			signUp(e, e.newEmail("spray-"+strconv.Itoa(i))).want(t, http.StatusAccepted)
		}
		next := e.newEmail("spray-next")
		before := e.snapshot(t)
		wantTooMany(t, signUp(e, next))
		e.unchanged(t, before, "a sign-up over the limit")
		if n := e.count(t, `select count(*)::int from auth.pending_sign_ups where email = lower($1)`, next); n != 0 {
			t.Error("a refused sign-up is pending")
		}
	})
}

// POST /v1/auth/register/verify refuses bad input naming the field, and a code for
// another address.
func TestSignUpVerifyInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.newEmail("verify-a"), e.newEmail("verify-b")
	e.startSignUp(t, a, fixturePassword, "")
	e.startSignUp(t, b, fixturePassword, "")
	wantWrongCode(t, e.verifySignUp(t, b, e.readSignUpCode(t, a))) // a's code is not b's
	wantWrongCode(t, e.verifySignUp(t, e.newEmail("never-signed-up"), "123456"))

	valid := map[string]any{"email": a, "code": "123456"}
	cases := []badCase{
		invalid("missing everything", map[string]any{}, "email", "code"),
		invalid("bad email", map[string]any{"email": "nope", "code": "123456"}, "email"),
		invalid("short code", map[string]any{"email": a, "code": "12345"}, "code"),
		invalid("letters in the code", map[string]any{"email": a, "code": "12345a"}, "code"),
		invalid("code wrong type", map[string]any{"email": a, "code": 123456}, "code"),
	}
	cases = append(cases, bodyCases(valid, "email")...)
	t.Run("bad input", func(t *testing.T) { e.runBadInput(t, http.MethodPost, "/v1/auth/register/verify", "", cases) })

	// b's own code still works after all that.
	var res authResponse
	e.verifySignUp(t, b, e.readSignUpCode(t, b)).want(t, http.StatusCreated).decode(t, &res)
	if res.User.Email != b {
		t.Errorf("signed up %s, want %s", res.User.Email, b)
	}
}
