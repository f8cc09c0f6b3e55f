// Package payment talks to the payment provider: it creates checkout sessions (a
// Provider; Stripe is the HTTP implementation, any Stripe-compatible server will do)
// and verifies the signature of the provider's webhook events.
package payment

import (
	"context"
	"errors"
)

// CheckoutRequest is one plan purchase to price and collect.
type CheckoutRequest struct {
	// ReferenceID is our checkout row's id; the provider sends it back in the
	// completed event (client_reference_id), which is how the webhook finds the
	// organization and the plan.
	ReferenceID string
	OrgID       string
	Plan        string
	// PriceID is the provider's price of the plan (Stripe: price_…).
	PriceID string
	// SuccessURL and CancelURL are where the provider sends the buyer back.
	SuccessURL, CancelURL string
}

// CheckoutSession is the provider's answer: its id and the page to send the buyer to.
type CheckoutSession struct {
	ID  string
	URL string
}

// Provider creates checkout sessions.
type Provider interface {
	CreateCheckoutSession(ctx context.Context, req CheckoutRequest) (CheckoutSession, error)
}

// ErrProvider wraps every failure to get a session from the provider: unreachable,
// refused, or an answer we cannot use. Nothing was charged.
var ErrProvider = errors.New("payment provider")
