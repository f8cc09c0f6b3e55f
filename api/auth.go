package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rowguard/rowguard/internal/token"
)

// realm names the protection space in WWW-Authenticate challenges.
const realm = "rowguard"

// bearerChallenge builds an RFC 6750 WWW-Authenticate value. errCode is
// empty when the request carried no credentials at all (RFC 6750 §3.1:
// then no error code is sent).
func bearerChallenge(errCode, description string) string {
	c := `Bearer realm="` + realm + `"`
	if errCode != "" {
		c += `, error="` + errCode + `"`
		if description != "" {
			c += `, error_description="` + quoteSafe(description) + `"`
		}
	}
	return c
}

// quoteSafe keeps the characters RFC 6750 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E): no quotes, backslashes or controls.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

func claimsFrom(ctx context.Context) (token.Claims, bool) {
	c, ok := ctx.Value(claimsKey).(token.Claims)
	return c, ok
}

// authenticate admits requests carrying a valid access token and puts its
// claims in the context. It checks only the token; whether the session is
// still live and the user active is decided by auth.begin_request, in the
// same transaction as the work.
func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Authorization")) == 0 {
			noteAuthFailure(r, authMissingToken)
			e := newError(ProblemUnauthorized, "This endpoint requires a bearer access token (Authorization: Bearer <token>).")
			e.authenticate = bearerChallenge("", "")
			writeProblem(w, r, e)
			return
		}
		var claims token.Claims
		raw, detail := bearerToken(r)
		if detail != "" {
			noteAuthFailure(r, authMalformedHeader)
		} else {
			var err error
			claims, err = s.tokens.Verify(raw)
			switch {
			case errors.Is(err, token.ErrExpired):
				noteAuthFailure(r, authExpiredToken)
				detail = "The access token has expired."
			case err != nil:
				noteAuthFailure(r, authInvalidToken)
				detail = "The access token is invalid."
			}
			if err != nil {
				s.log(r).Info("rejected access token", "error", err.Error())
			}
		}
		if detail != "" {
			e := newError(ProblemUnauthorized, detail)
			e.authenticate = bearerChallenge("invalid_token", detail)
			writeProblem(w, r, e)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.userID = claims.UserID
		}
		next(w, r.WithContext(context.WithValue(r.Context(), claimsKey, claims)))
	}
}

// bearerToken extracts the token of the request's one "Authorization:
// Bearer <token>" header (the scheme is case-insensitive, RFC 9110 §11.1),
// or says what is wrong with the header.
func bearerToken(r *http.Request) (tok, problem string) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", "Send exactly one Authorization header."
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", "The Authorization header must use the Bearer scheme."
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", "The Authorization header must carry exactly one bearer token."
	}
	return tok, ""
}
