package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rowguard/rowguard/internal/payment"
)

// BillingOptions configure checkout and the payment provider's webhook.
type BillingOptions struct {
	// Provider creates checkout sessions. Nil: checkout answers 503.
	Provider payment.Provider
	// WebhookSecret verifies the provider's webhook signatures. Empty: the
	// webhook answers 503 (it can trust nothing).
	WebhookSecret string
	// WebhookTolerance is the largest accepted age of a signature. Zero:
	// payment.DefaultTolerance.
	WebhookTolerance time.Duration
	// ReturnURL is where the provider sends the buyer back, with
	// ?checkout=success or ?checkout=cancel appended.
	ReturnURL string
}

func (o BillingOptions) withDefaults() BillingOptions {
	if o.WebhookTolerance <= 0 {
		o.WebhookTolerance = payment.DefaultTolerance
	}
	return o
}

func (s *Server) routeBilling() {
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/billing", s.getBilling, true)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/billing/checkout", s.checkout, true)
	s.handle(http.MethodPost, "/v1/billing/webhook", s.paymentWebhook, false)
	s.handle(http.MethodGet, "/v1/billing/plans", s.listPlans, true)
}

// GET /v1/billing/plans
func (s *Server) listPlans(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select json_build_object('items', api.list_plans())`)
}

// GET /v1/orgs/{org_id}/billing
func (s *Server) getBilling(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.get_billing()`)
}

// POST /v1/orgs/{org_id}/billing/checkout
//
// Three steps, because the provider sits in the middle: the database opens the
// checkout row (OWNER only, by policy), the provider creates its session, the
// database records the session's URL. A failure after the first step leaves an open
// checkout row that nothing completes: harmless, and visible to the OWNER.
func (s *Server) checkout(w http.ResponseWriter, r *http.Request) {
	var plan string
	if err := decodeBody(r, str("plan", true, &plan, oneOf(PlanCodes...))); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.billing.Provider == nil {
		// The caller first, as on every route: a stranger or a dead session hears 401/404,
		// a MEMBER 403; only an OWNER learns that payments are not configured.
		if _, err := s.callJSON(r.Context(), r, `select api.require_checkout_role()`); err != nil {
			s.fail(w, r, err)
			return
		}
		s.fail(w, r, newError(ProblemUnavailable, "Payments are not configured on this server."))
		return
	}
	body, err := s.callJSON(r.Context(), r, `select api.start_checkout($1)`, plan)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var started struct {
		Checkout struct {
			ID    string `json:"id"`
			OrgID string `json:"org_id"`
		} `json:"checkout"`
		PriceID string `json:"provider_price_id"`
	}
	if err := json.Unmarshal(body, &started); err != nil {
		s.fail(w, r, err)
		return
	}
	session, err := s.billing.Provider.CreateCheckoutSession(r.Context(), payment.CheckoutRequest{
		ReferenceID: started.Checkout.ID, OrgID: started.Checkout.OrgID, Plan: plan, PriceID: started.PriceID,
		SuccessURL: withQuery(s.billing.ReturnURL, "checkout=success"),
		CancelURL:  withQuery(s.billing.ReturnURL, "checkout=cancel"),
	})
	if err != nil {
		s.log(r).Error("payment provider", "error", err.Error())
		s.fail(w, r, newError(ProblemPaymentProviderFailed, "The payment provider could not create a checkout session. Nothing was charged; retry later."))
		return
	}
	s.call(w, r, http.StatusCreated, `select api.attach_checkout($1::uuid, $2, $3)`, started.Checkout.ID, session.ID, session.URL)
}

func withQuery(u, q string) string {
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}

// providerEvent is the part of a provider event the webhook reads.
type providerEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Object struct {
			ID                string `json:"id"`
			ClientReferenceID string `json:"client_reference_id"`
			Customer          string `json:"customer"`
			Subscription      string `json:"subscription"`
		} `json:"object"`
	} `json:"data"`
}

// POST /v1/billing/webhook
//
// Public, but trusted only when the provider's HMAC signature over the exact body is
// valid and recent; anything else is a 400 and touches nothing. The database records
// each event id once, so a redelivered event answers 200 and changes nothing.
func (s *Server) paymentWebhook(w http.ResponseWriter, r *http.Request) {
	if s.billing.WebhookSecret == "" {
		s.fail(w, r, newError(ProblemUnavailable, "Payments are not configured on this server."))
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, newError(ProblemPayloadTooLarge, "The request body is too large."))
			return
		}
		s.fail(w, r, newError(ProblemBadRequest, "The request body could not be read."))
		return
	}
	if err := payment.VerifySignature(payload, r.Header.Get(payment.SignatureHeader), s.billing.WebhookSecret,
		s.billing.WebhookTolerance, time.Now()); err != nil {
		s.log(r).Warn("webhook signature refused", "reason", err.Error())
		s.fail(w, r, newError(ProblemInvalidSignature, "The "+payment.SignatureHeader+" header does not sign this body, or is too old."))
		return
	}
	var ev providerEvent
	if err := json.Unmarshal(payload, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		s.fail(w, r, validationError(FieldError{"body", "must be a provider event with id and type"}))
		return
	}
	var checkoutID any // only our own ids are looked up
	if isUUID(ev.Data.Object.ClientReferenceID) {
		checkoutID = ev.Data.Object.ClientReferenceID
	}
	subscription := ev.Data.Object.Subscription
	if ev.Type == "customer.subscription.deleted" {
		subscription = ev.Data.Object.ID
	}
	body, err := s.queryJSON(r.Context(), `select api.payment_webhook($1, $2, $3::uuid, $4, $5)`,
		ev.ID, ev.Type, checkoutID, nullIfEmpty(ev.Data.Object.Customer), nullIfEmpty(subscription))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSONBytes(w, r, http.StatusOK, body)
}
