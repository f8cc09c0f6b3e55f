package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"
)

// SignInCodeDigits is the length of an email sign-in code. Six digits with at most
// twenty guesses per code (auth.verify_sign_in_code), and wrong codes counted as
// sign-in failures (auth.hit_sign_in_failure).
const SignInCodeDigits = 6

var signInCodeRE = regexp.MustCompile(fmt.Sprintf(`^[0-9]{%d}$`, SignInCodeDigits))

// signInCodeKeyInfo is the HKDF info label of the sign-in code key
// (token.Authority.DeriveKey). Changing it voids the codes in flight.
const signInCodeKeyInfo = "rowguard sign-in code v1"

// signInCodeHash is what auth.email_sign_in_codes stores for a code sent to email:
// HMAC-SHA256(key, lower(email) || 0x00 || code). A 6-digit code has a million
// values: an unkeyed hash of it would be inverted at once by whoever reads the table
// (a backup, a replica, a DBA). The key is derived from the token signing key and
// never reaches the database. The address binds the hash to one account: a hash
// copied to another address's row does not verify there. (An email holds no NUL —
// checkEmail refuses control characters — so the input is unambiguous.)
//
// The address is lowered as the SQL functions lower it to key the row, so an address
// typed in another case at verification finds the same row and the same hash. Go's
// strings.ToLower and PostgreSQL's lower() agree on ASCII; on other letters they may
// differ with the database's locale, and then such an address must be typed the same
// way twice (the code fails as wrong, and counts).
func signInCodeHash(key []byte, email, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(email)))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// POST /v1/auth/otp/request
//
// Always 202 with no body: whether the address has an account (or may get one) is
// never said. The code's keyed hash and the email (the only place the code itself
// goes) are written in one transaction (auth.request_sign_in_code); the outbox sender
// delivers the email and then empties its payload.
func (s *Server) requestSignInCode(w http.ResponseWriter, r *http.Request) {
	s.emailSecret(w, r, "otp", newSignInCode, `select auth.request_sign_in_code($1, $2, $3, $4)`,
		func(email, code string) []any {
			return []any{signInCodeHash(s.signInCodeKey, email, code), code, s.signInOpts.EmailSignUp}
		})
}

// POST /v1/auth/otp/verify
//
// A wrong, expired, used or unknown code, and an unknown address, all get the same
// 401. A wrong code counts even though the request fails: auth.verify_sign_in_code
// returns NULL rather than raising, so its count commits. Only the presented code's
// keyed hash reaches the database.
func (s *Server) verifySignInCode(w http.ResponseWriter, r *http.Request) {
	var email, code string
	if err := decodeBody(r,
		str("email", true, &email, checkEmail),
		str("code", true, &code, checkSignInCode),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	// Twenty guesses per code are enforced in SQL; a wrong code counts as a sign-in
	// failure of the address, like a wrong password (auth.verify_sign_in_code_from).
	s.signIn(w, r, newError(ProblemInvalidCredentials, "The email or code is incorrect, expired or already used."),
		[]rateBucket{s.signInAddress(r)},
		`select auth.verify_sign_in_code_from($1, $2, $3, $4::inet, $5, $6::interval, $7, $8::interval)`,
		append([]any{email, signInCodeHash(s.signInCodeKey, email, code), s.signInOpts.EmailSignUp}, s.failureLimitArgs(r)...)...)
}

func checkSignInCode(code string) string {
	if !signInCodeRE.MatchString(code) {
		return fmt.Sprintf("must be the %d-digit code from the email", SignInCodeDigits)
	}
	return ""
}

// newSignInCode is a uniformly random code of SignInCodeDigits digits.
func newSignInCode() (string, error) {
	max := big.NewInt(1)
	for range SignInCodeDigits {
		max.Mul(max, big.NewInt(10))
	}
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", SignInCodeDigits, n), nil
}
