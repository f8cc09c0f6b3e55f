package api

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
)

// SignInCodeDigits is the length of an email sign-in code. Six digits with at most
// five guesses per code (auth.verify_sign_in_code) and a new code voiding the old one.
const SignInCodeDigits = 6

var signInCodeRE = regexp.MustCompile(fmt.Sprintf(`^[0-9]{%d}$`, SignInCodeDigits))

// POST /v1/auth/otp/request
//
// Always 202 with no body: whether the address has an account (or may get one) is
// never said. The code, its hash and the email are written in one transaction
// (auth.request_sign_in_code); the outbox sender delivers the email.
func (s *Server) requestSignInCode(w http.ResponseWriter, r *http.Request) {
	s.emailSecret(w, r, newSignInCode, `select auth.request_sign_in_code($1, $2, $3)`,
		func(string) any { return s.signInOpts.EmailSignUp })
}

// POST /v1/auth/otp/verify
//
// A wrong, expired, used or unknown code, and an unknown address, all get the same
// 401. A wrong code counts even though the request fails: auth.verify_sign_in_code
// returns NULL rather than raising, so its count commits.
func (s *Server) verifySignInCode(w http.ResponseWriter, r *http.Request) {
	var email, code string
	if err := decodeBody(r,
		str("email", true, &email, checkEmail),
		str("code", true, &code, checkSignInCode),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	// Five guesses per code are enforced in SQL; the buckets bound the codes guessed at.
	s.signIn(w, r, newError(ProblemInvalidCredentials, "The email or code is incorrect, expired or already used."),
		[]rateBucket{s.signInAddress(r), s.emailAccount(email)}, `select auth.verify_sign_in_code($1, $2, $3)`, email, code, s.signInOpts.EmailSignUp)
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
