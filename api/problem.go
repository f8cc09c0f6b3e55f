package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ProblemTypeBase prefixes every problem "type" URI. Each slug below is
// documented in openapi.json (components.schemas.Problem, the table in
// info.description) and on /docs.
const ProblemTypeBase = "https://rowguard.dev/problems/"

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemKind is one documented problem type: its slug, fixed title and
// HTTP status.
type ProblemKind struct {
	Slug   string
	Title  string
	Status int
}

// Type returns the kind's absolute type URI.
func (k ProblemKind) Type() string { return ProblemTypeBase + k.Slug }

// The problem types this API answers with. Keep in step with openapi.json.
var (
	ProblemBadRequest           = ProblemKind{"bad-request", "Bad request", http.StatusBadRequest}
	ProblemUnauthorized         = ProblemKind{"unauthorized", "Authentication required", http.StatusUnauthorized}
	ProblemInvalidCredentials   = ProblemKind{"invalid-credentials", "Invalid email or password", http.StatusUnauthorized}
	ProblemSignInFailed         = ProblemKind{"sign-in-failed", "Sign-in with the identity provider failed", http.StatusUnauthorized}
	ProblemForbidden            = ProblemKind{"forbidden", "Forbidden", http.StatusForbidden}
	ProblemAccountDisabled      = ProblemKind{"account-disabled", "Account disabled", http.StatusForbidden}
	ProblemNotFound             = ProblemKind{"not-found", "Not found", http.StatusNotFound}
	ProblemMethodNotAllowed     = ProblemKind{"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed}
	ProblemConflict             = ProblemKind{"conflict", "Conflict", http.StatusConflict}
	ProblemPreconditionFailed   = ProblemKind{"precondition-failed", "Precondition failed", http.StatusPreconditionFailed}
	ProblemPayloadTooLarge      = ProblemKind{"payload-too-large", "Request body too large", http.StatusRequestEntityTooLarge}
	ProblemUnsupportedMediaType = ProblemKind{"unsupported-media-type", "Unsupported media type", http.StatusUnsupportedMediaType}
	ProblemValidation           = ProblemKind{"validation-failed", "Validation failed", http.StatusUnprocessableEntity}
	ProblemInternal             = ProblemKind{"internal-error", "Internal server error", http.StatusInternalServerError}
	ProblemUnavailable          = ProblemKind{"service-unavailable", "Service unavailable", http.StatusServiceUnavailable}
	ProblemTimeout              = ProblemKind{"timeout", "Request timed out", http.StatusGatewayTimeout}

	ProblemPlanLimitReached      = ProblemKind{"plan-limit-reached", "Plan limit reached", http.StatusPaymentRequired}
	ProblemOrganizationSuspended = ProblemKind{"organization-suspended", "Organization suspended", http.StatusForbidden}
	ProblemInvalidSignature      = ProblemKind{"invalid-signature", "Invalid webhook signature", http.StatusBadRequest}
	ProblemPaymentProviderFailed = ProblemKind{"payment-provider-error", "Payment provider error", http.StatusBadGateway}
	ProblemRefreshTokenReused    = ProblemKind{"refresh-token-reused", "Refresh token reused", http.StatusUnauthorized}
	ProblemTooManyRequests       = ProblemKind{"too-many-requests", "Too many requests", http.StatusTooManyRequests}
	ProblemEmailUnverified       = ProblemKind{"email-unverified", "Email address not verified", http.StatusForbidden}
	ProblemInvitationLapsed      = ProblemKind{"invitation-lapsed", "Invitation lapsed", http.StatusConflict}
	// ProblemReauthenticationRequired: a destructive act (deleting an organization,
	// removing its last other OWNER, a password change without the current password)
	// needs POST /v1/auth/reauthenticate within the last 5 minutes (SQLSTATE RGR03).
	ProblemReauthenticationRequired = ProblemKind{"reauthentication-required", "Reauthentication required", http.StatusForbidden}
	// ProblemAccountDeletionPending: a sign-in proved who it is for an account deleted
	// less than 30 days ago (SQLSTATE RGA03); the detail says until when and that
	// POST /v1/auth/restore cancels the deletion.
	ProblemAccountDeletionPending = ProblemKind{"account-deletion-pending", "Account pending deletion", http.StatusForbidden}
)

// ProblemKinds lists every problem type, for documentation and tests.
func ProblemKinds() []ProblemKind {
	return []ProblemKind{
		ProblemBadRequest, ProblemUnauthorized, ProblemInvalidCredentials, ProblemForbidden,
		ProblemAccountDisabled, ProblemNotFound, ProblemMethodNotAllowed, ProblemConflict,
		ProblemPayloadTooLarge, ProblemUnsupportedMediaType, ProblemValidation,
		ProblemInternal, ProblemUnavailable, ProblemTimeout, ProblemSignInFailed,
		ProblemPlanLimitReached, ProblemOrganizationSuspended, ProblemInvalidSignature, ProblemPaymentProviderFailed,
		ProblemRefreshTokenReused, ProblemTooManyRequests,
		ProblemPreconditionFailed, ProblemEmailUnverified, ProblemInvitationLapsed, ProblemReauthenticationRequired,
		ProblemAccountDeletionPending,
	}
}

// kindForStatus is the generic kind for a status, used for RGnnn codes.
func kindForStatus(status int) (ProblemKind, bool) {
	for _, k := range ProblemKinds() {
		if k.Status == status && k != ProblemInvalidCredentials && k != ProblemAccountDisabled &&
			k != ProblemOrganizationSuspended && k != ProblemInvalidSignature && k != ProblemSignInFailed &&
			k != ProblemRefreshTokenReused && k != ProblemEmailUnverified && k != ProblemInvitationLapsed &&
			k != ProblemReauthenticationRequired && k != ProblemAccountDeletionPending {
			return k, true
		}
	}
	return ProblemKind{}, false
}

// FieldError names one invalid input: a body member, a query parameter, or
// "body" for the request body as a whole.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// apiError is an error that knows the problem it answers with. Handlers
// return or pass these to Server.fail; anything else is mapped by mapError.
type apiError struct {
	kind   ProblemKind
	detail string
	errors []FieldError
	// authenticate, when set, is the WWW-Authenticate challenge to send.
	authenticate string
	// retryAfter, when positive, is the Retry-After (seconds) of a 429.
	retryAfter int
}

func (e *apiError) Error() string { return e.kind.Slug + ": " + e.detail }

func newError(k ProblemKind, detail string, errs ...FieldError) *apiError {
	return &apiError{kind: k, detail: detail, errors: errs}
}

// validationError is the 422 answer naming the offending fields.
func validationError(errs ...FieldError) *apiError {
	detail := "The request is invalid."
	if len(errs) == 1 {
		detail = "The request is invalid: " + errs[0].Field + " " + errs[0].Message + "."
	}
	return &apiError{kind: ProblemValidation, detail: detail, errors: errs}
}

// writeProblem renders e for request r.
func writeProblem(w http.ResponseWriter, r *http.Request, e *apiError) {
	switch e.kind {
	case ProblemUnauthorized: // authenticate noted its reason first; else the database refused the session
		noteAuthFailure(r, authSessionInvalid)
	case ProblemInvalidCredentials:
		noteAuthFailure(r, authInvalidCredentials)
	case ProblemAccountDisabled:
		noteAuthFailure(r, authAccountDisabled)
	}
	p := Problem{
		Type:      e.kind.Type(),
		Title:     e.kind.Title,
		Status:    e.kind.Status,
		Detail:    e.detail,
		Instance:  r.URL.EscapedPath(), // a URI reference: a NUL or blank in the path stays percent-encoded
		RequestID: RequestIDFrom(r.Context()),
		Errors:    e.errors,
	}
	if p.Detail == "" {
		p.Detail = e.kind.Title + "."
	}
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: only strings and ints
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	if e.authenticate != "" {
		h.Set("WWW-Authenticate", e.authenticate)
	}
	switch {
	case e.retryAfter > 0:
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	case e.kind.Status == http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.kind.Status)
	_, _ = w.Write(body)
}
