package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/payment"
)

const webhookSecret = "whsec_e2e_secret"

// fakeProvider is a Stripe-compatible payment provider inside the test process: it
// answers POST /v1/checkout/sessions and remembers what it was asked.
type fakeProvider struct {
	*httptest.Server
	mu       sync.Mutex
	requests []url.Values
	fail     bool
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Path != "/v1/checkout/sessions" || r.Header.Get("Authorization") != "Bearer sk_test_e2e" {
			http.Error(w, `{"error":{"message":"no"}}`, http.StatusUnauthorized)
			return
		}
		if f.fail {
			http.Error(w, `{"error":{"message":"provider down"}}`, http.StatusInternalServerError)
			return
		}
		f.requests = append(f.requests, form)
		id := fmt.Sprintf("cs_test_%d", len(f.requests))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "object": "checkout.session", "url": "https://pay.example/" + id})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProvider) last() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func withPayments(f *fakeProvider) envOption {
	return withOptions(func(o *api.Options) {
		o.Billing = api.BillingOptions{
			Provider:      payment.NewStripe(f.URL, "sk_test_e2e"),
			WebhookSecret: webhookSecret,
			ReturnURL:     "https://app.example/billing",
		}
	})
}

type checkoutJSON struct {
	ID     string `json:"id"`
	OrgID  string `json:"org_id"`
	Plan   string `json:"plan"`
	Status string `json:"status"`
	URL    string `json:"url"`
}

// webhook posts a provider event signed at signedAt with secret.
func (e *env) webhook(t testing.TB, event map[string]any, secret string, signedAt time.Time) *response {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, http.MethodPost, "/v1/billing/webhook", "", rawBody(payload),
		withHeader(payment.SignatureHeader, payment.Sign(payload, secret, signedAt)))
}

func completedEvent(id, checkoutID string) map[string]any {
	return map[string]any{
		"id": id, "object": "event", "type": "checkout.session.completed",
		"data": map[string]any{"object": map[string]any{
			"id": "cs_test_1", "object": "checkout.session", "client_reference_id": checkoutID,
			"customer": "cus_123", "subscription": "sub_123", "payment_status": "paid",
		}},
	}
}

func TestCheckoutAndWebhookLiftALimit(t *testing.T) {
	t.Parallel()
	provider := newFakeProvider(t)
	e := newEnv(t, withPayments(provider))
	a, b := e.newTenant(t, "Buyer"), e.newTenant(t, "Bystander")
	e.setLimit(t, "free", "services", 1)
	e.createService(t, a.Owner, a.Org.ID, "First", 30, 1)
	svcBody := map[string]any{"name": "Second", "duration_minutes": 30, "price": "1", "currency": "EUR"}
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/services", a.Owner.Token, svcBody), api.ProblemPlanLimitReached)

	checkoutPath := "/v1/orgs/" + a.Org.ID + "/billing/checkout"
	// Only the OWNER buys; nobody reaches the provider before the database agrees.
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPost, checkoutPath, a.Admin.Token, map[string]any{"plan": "pro"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/billing/checkout", b.Owner.Token, map[string]any{"plan": "pro"}), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, checkoutPath, a.Owner.Token, map[string]any{"plan": "free"}), api.ProblemValidation, "plan")
	wantProblem(t, e.do(t, http.MethodPost, checkoutPath, a.Owner.Token, map[string]any{"plan": "gold"}), api.ProblemValidation, "plan")
	e.unchanged(t, before, "refused checkouts")
	if len(provider.requests) != 0 {
		t.Fatalf("the provider was called %d times for refused checkouts", len(provider.requests))
	}

	var co checkoutJSON
	e.do(t, http.MethodPost, checkoutPath, a.Owner.Token, map[string]any{"plan": "pro"}).want(t, http.StatusCreated).decode(t, &co)
	if co.Status != "open" || co.Plan != "pro" || co.URL != "https://pay.example/cs_test_1" || co.OrgID != a.Org.ID {
		t.Errorf("checkout = %+v", co)
	}
	sent := provider.last()
	for k, v := range map[string]string{"client_reference_id": co.ID, "line_items[0][price]": "price_rowguard_pro",
		"success_url": "https://app.example/billing?checkout=success", "metadata[org_id]": a.Org.ID} {
		if sent.Get(k) != v {
			t.Errorf("provider got %s = %q, want %q", k, sent.Get(k), v)
		}
	}
	if got := e.billing(t, a.Owner, a.Org.ID).Plan.Code; got != "free" {
		t.Fatalf("the plan changed before any payment: %s", got)
	}

	// Forged, tampered or replayed webhooks: 400, nothing changes.
	before = e.snapshot(t)
	bad := []*response{
		e.webhook(t, completedEvent("evt_1", co.ID), "whsec_wrong", time.Now()),
		e.webhook(t, completedEvent("evt_1", co.ID), webhookSecret, time.Now().Add(-10*time.Minute)),
		e.do(t, http.MethodPost, "/v1/billing/webhook", "", completedEvent("evt_1", co.ID)),
	}
	payload, _ := json.Marshal(completedEvent("evt_1", co.ID))
	tampered, _ := json.Marshal(completedEvent("evt_1", b.Org.ID))
	bad = append(bad, e.do(t, http.MethodPost, "/v1/billing/webhook", "", rawBody(tampered),
		withHeader(payment.SignatureHeader, payment.Sign(payload, webhookSecret, time.Now()))))
	for _, r := range bad {
		wantProblem(t, r, api.ProblemInvalidSignature)
	}
	e.unchanged(t, before, "webhooks with bad signatures")
	if n := e.count(t, `select count(*) from platform.webhook_events`); n != 0 {
		t.Errorf("%d webhook events recorded from bad signatures", n)
	}

	// The genuine event changes the plan, once.
	var res struct{ EventID, Outcome string }
	e.webhook(t, completedEvent("evt_1", co.ID), webhookSecret, time.Now()).want(t, http.StatusOK).decode(t, &res)
	if res.Outcome != "plan changed to pro" {
		t.Errorf("outcome = %q", res.Outcome)
	}
	got := e.billing(t, a.Member, a.Org.ID)
	if got.Plan.Code != "pro" || got.usage()["services"] != "1/100" {
		t.Errorf("after payment: %s %v", got.Plan.Code, got.usage())
	}
	e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/services", a.Owner.Token, svcBody).want(t, http.StatusCreated)

	// Redelivered (same id, fresh valid signature) and concurrent redeliveries: no change.
	before = e.snapshot(t)
	var wg sync.WaitGroup
	outcomes := make([]string, 5)
	for i := range outcomes {
		payload, _ := json.Marshal(completedEvent("evt_1", co.ID))
		req := e.newRequest(t, http.MethodPost, "/v1/billing/webhook", "", rawBody(payload),
			withHeader(payment.SignatureHeader, payment.Sign(payload, webhookSecret, time.Now())))
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.send(req)
			if err != nil || r.Status != http.StatusOK {
				t.Errorf("redelivery: %v %v", r, err)
				return
			}
			var res struct{ Outcome string }
			_ = json.Unmarshal(r.Body, &res)
			outcomes[i] = res.Outcome
		}()
	}
	wg.Wait()
	for _, o := range outcomes {
		if o != "duplicate" {
			t.Errorf("a redelivered event answered %q", o)
		}
	}
	e.unchanged(t, before, "redelivered webhooks")
	if got := e.billing(t, b.Owner, b.Org.ID).Plan.Code; got != "free" {
		t.Errorf("the bystander's plan is %s", got)
	}

	// Unknown references and types are acknowledged and ignored.
	e.webhook(t, completedEvent("evt_2", b.Org.ID), webhookSecret, time.Now()).want(t, http.StatusOK).decode(t, &res)
	if res.Outcome != "ignored: no open checkout session with this reference" {
		t.Errorf("unknown reference: %q", res.Outcome)
	}
	e.webhook(t, map[string]any{"id": "evt_3", "type": "invoice.paid"}, webhookSecret, time.Now()).want(t, http.StatusOK)

	// The subscription ends: back to free.
	e.webhook(t, map[string]any{"id": "evt_4", "type": "customer.subscription.deleted",
		"data": map[string]any{"object": map[string]any{"id": "sub_123", "object": "subscription"}}}, webhookSecret, time.Now()).
		want(t, http.StatusOK).decode(t, &res)
	if res.Outcome != "plan changed to free" || e.billing(t, a.Owner, a.Org.ID).Plan.Code != "free" {
		t.Errorf("subscription deleted: %q", res.Outcome)
	}
	wantProblem(t, e.do(t, http.MethodPost, "/v1/billing/webhook", "", rawBody(`[1,2]`),
		withHeader(payment.SignatureHeader, payment.Sign([]byte(`[1,2]`), webhookSecret, time.Now()))), api.ProblemValidation, "body")
}

func TestCheckoutProviderDown(t *testing.T) {
	t.Parallel()
	provider := newFakeProvider(t)
	provider.fail = true
	e := newEnv(t, withPayments(provider))
	e.logs.expect("payment provider")
	e.logs.expect("status=502")
	a := e.newTenant(t, "Unlucky")
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/billing/checkout", a.Owner.Token, map[string]any{"plan": "business"}),
		api.ProblemPaymentProviderFailed)
	if got := e.billing(t, a.Owner, a.Org.ID).Plan.Code; got != "free" {
		t.Errorf("plan = %s", got)
	}
}

func TestPaymentsNotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.logs.expect("status=503")
	a := e.newTenant(t, "Plain")
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/billing/checkout", a.Owner.Token, map[string]any{"plan": "pro"}), api.ProblemUnavailable)
	wantProblem(t, e.webhook(t, completedEvent("evt_1", a.Org.ID), webhookSecret, time.Now()), api.ProblemUnavailable)
}
