package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is Stripe's API.
const DefaultBaseURL = "https://api.stripe.com"

// Stripe creates checkout sessions with the Stripe API, or any server that speaks
// its POST /v1/checkout/sessions (form-encoded request, JSON answer with id and url).
type Stripe struct {
	BaseURL string // e.g. DefaultBaseURL, no trailing slash needed
	APIKey  string // secret key, sent as a bearer token
	Client  *http.Client
}

// NewStripe returns a Stripe provider with a 10-second HTTP timeout.
func NewStripe(baseURL, apiKey string) *Stripe {
	return &Stripe{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey, Client: &http.Client{Timeout: 10 * time.Second}}
}

// CreateCheckoutSession creates a subscription-mode checkout session for one plan.
// The request is idempotent per ReferenceID (Idempotency-Key), so a retried request
// never opens a second session.
func (s *Stripe) CreateCheckoutSession(ctx context.Context, req CheckoutRequest) (CheckoutSession, error) {
	form := url.Values{}
	form.Set("mode", "subscription")
	form.Set("line_items[0][price]", req.PriceID)
	form.Set("line_items[0][quantity]", "1")
	form.Set("client_reference_id", req.ReferenceID)
	form.Set("metadata[org_id]", req.OrgID)
	form.Set("metadata[plan]", req.Plan)
	form.Set("success_url", req.SuccessURL)
	form.Set("cancel_url", req.CancelURL)

	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL+"/v1/checkout/sessions", strings.NewReader(form.Encode()))
	if err != nil {
		return CheckoutSession{}, fmt.Errorf("%w: %v", ErrProvider, err)
	}
	hr.Header.Set("Authorization", "Bearer "+s.APIKey)
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.Header.Set("Idempotency-Key", "checkout-"+req.ReferenceID)
	resp, err := s.Client.Do(hr)
	if err != nil {
		return CheckoutSession{}, fmt.Errorf("%w: %v", ErrProvider, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return CheckoutSession{}, fmt.Errorf("%w: reading the answer: %v", ErrProvider, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return CheckoutSession{}, fmt.Errorf("%w: status %d: %s", ErrProvider, resp.StatusCode, e.Error.Message)
	}
	var out struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.ID == "" || out.URL == "" {
		return CheckoutSession{}, fmt.Errorf("%w: an answer without id and url", ErrProvider)
	}
	if u, err := url.Parse(out.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return CheckoutSession{}, fmt.Errorf("%w: checkout url %q is not an http(s) URL", ErrProvider, out.URL)
	}
	return CheckoutSession{ID: out.ID, URL: out.URL}, nil
}
