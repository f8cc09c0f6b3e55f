package payment_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rowguard/rowguard/internal/payment"
)

func TestVerifySignature(t *testing.T) {
	const secret = "whsec_test"
	payload := []byte(`{"id":"evt_1","type":"checkout.session.completed"}`)
	now := time.Unix(1_900_000_000, 0)
	good := payment.Sign(payload, secret, now)
	if err := payment.VerifySignature(payload, good, secret, payment.DefaultTolerance, now.Add(time.Minute)); err != nil {
		t.Fatalf("a fresh, correct signature is refused: %v", err)
	}
	// Stripe sends several v1 signatures while a secret is rolled: any one may match.
	rolled := "t=" + strings.TrimPrefix(strings.Split(good, ",")[0], "t=") + ",v1=" + strings.Repeat("0", 64) + "," + strings.Split(good, ",")[1]
	if err := payment.VerifySignature(payload, rolled, secret, payment.DefaultTolerance, now); err != nil {
		t.Errorf("a header with an extra, stale v1 is refused: %v", err)
	}
	cases := map[string]struct {
		payload []byte
		header  string
		secret  string
		now     time.Time
	}{
		"wrong secret":         {payload, good, "whsec_other", now},
		"payload changed":      {[]byte(`{"id":"evt_1","type":"checkout.session.completed" }`), good, secret, now},
		"replayed (too old)":   {payload, good, secret, now.Add(payment.DefaultTolerance + time.Second)},
		"from the future":      {payload, good, secret, now.Add(-payment.DefaultTolerance - time.Second)},
		"no header":            {payload, "", secret, now},
		"no v1":                {payload, "t=1900000000", secret, now},
		"no timestamp":         {payload, strings.Split(good, ",")[1], secret, now},
		"timestamp re-written": {payload, strings.Replace(good, "t=1900000000", "t=1900000001", 1), secret, now},
		"v0 scheme only":       {payload, strings.Replace(good, "v1=", "v0=", 1), secret, now},
	}
	for name, c := range cases {
		err := payment.VerifySignature(c.payload, c.header, c.secret, payment.DefaultTolerance, c.now)
		if !errors.Is(err, payment.ErrSignature) {
			t.Errorf("%s: err = %v, want ErrSignature", name, err)
		}
	}
}

func TestStripeCreateCheckoutSession(t *testing.T) {
	var got url.Values
	var auth, idem string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/checkout/sessions" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(body))
		auth, idem = r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"cs_test_1","object":"checkout.session","url":"https://pay.example/cs_test_1"}`)
	}))
	defer srv.Close()

	p := payment.NewStripe(srv.URL+"/", "sk_test_123")
	s, err := p.CreateCheckoutSession(context.Background(), payment.CheckoutRequest{
		ReferenceID: "ref-1", OrgID: "org-1", Plan: "pro", PriceID: "price_pro",
		SuccessURL: "https://app.example/ok", CancelURL: "https://app.example/cancel",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "cs_test_1" || s.URL != "https://pay.example/cs_test_1" {
		t.Errorf("session = %+v", s)
	}
	for k, v := range map[string]string{
		"mode": "subscription", "line_items[0][price]": "price_pro", "line_items[0][quantity]": "1",
		"client_reference_id": "ref-1", "metadata[org_id]": "org-1", "metadata[plan]": "pro",
		"success_url": "https://app.example/ok", "cancel_url": "https://app.example/cancel",
	} {
		if got.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, got.Get(k), v)
		}
	}
	if auth != "Bearer sk_test_123" || idem != "checkout-ref-1" {
		t.Errorf("Authorization %q, Idempotency-Key %q", auth, idem)
	}
}

func TestStripeErrors(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"refused": func(w http.ResponseWriter) {
			w.WriteHeader(402)
			_, _ = io.WriteString(w, `{"error":{"message":"card declined"}}`)
		},
		"no url":      func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"id":"cs_1"}`) },
		"not json":    func(w http.ResponseWriter) { _, _ = io.WriteString(w, `<html>`) },
		"javascript:": func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"id":"cs_1","url":"javascript:alert(1)"}`) },
	}
	for name, answer := range answers {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { answer(w) }))
		_, err := payment.NewStripe(srv.URL, "sk").CreateCheckoutSession(context.Background(), payment.CheckoutRequest{ReferenceID: "r"})
		srv.Close()
		if !errors.Is(err, payment.ErrProvider) {
			t.Errorf("%s: err = %v, want ErrProvider", name, err)
		}
	}
	_, err := payment.NewStripe("http://127.0.0.1:1", "sk").CreateCheckoutSession(context.Background(), payment.CheckoutRequest{ReferenceID: "r"})
	if !errors.Is(err, payment.ErrProvider) {
		t.Errorf("unreachable: err = %v", err)
	}
}
