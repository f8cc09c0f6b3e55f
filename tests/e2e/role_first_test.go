package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// The caller's role is checked before the server's configuration: a MEMBER asking for a
// checkout heard 503 "Payments are not configured" (and, with payments configured, 422
// or 409 about the plan) where an OWNER-only act must answer 403, as every route does.
func TestCheckoutAsksForTheOwnerFirst(t *testing.T) {
	t.Parallel()
	t.Run("payments not configured", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.logs.expect("status=503")
		a, b := e.newTenant(t, "Unconfigured"), e.newTenant(t, "Elsewhere")
		path := "/v1/orgs/" + a.Org.ID + "/billing/checkout"
		before := e.snapshot(t)
		for _, u := range []user{a.Member, a.Admin} {
			wantProblem(t, e.do(t, http.MethodPost, path, u.Token, map[string]any{"plan": "pro"}), api.ProblemForbidden)
		}
		wantProblem(t, e.do(t, http.MethodPost, path, b.Owner.Token, map[string]any{"plan": "pro"}), api.ProblemNotFound)
		wantProblem(t, e.do(t, http.MethodPost, path, "", map[string]any{"plan": "pro"}), api.ProblemUnauthorized)
		// Only the OWNER learns that the server cannot take payments.
		wantProblem(t, e.do(t, http.MethodPost, path, a.Owner.Token, map[string]any{"plan": "pro"}), api.ProblemUnavailable)
		e.unchanged(t, before, "checkouts on a server without payments")
	})
	t.Run("payments configured", func(t *testing.T) {
		t.Parallel()
		provider := newFakeProvider(t)
		e := newEnv(t, withPayments(provider))
		a := e.newTenant(t, "Configured")
		path := "/v1/orgs/" + a.Org.ID + "/billing/checkout"
		before := e.snapshot(t)
		// "free" is not sold through checkout (422 to the OWNER), and the organization is
		// on it already: a MEMBER hears neither, only 403.
		for _, plan := range []string{"pro", "free"} {
			wantProblem(t, e.do(t, http.MethodPost, path, a.Member.Token, map[string]any{"plan": plan}), api.ProblemForbidden)
		}
		wantProblem(t, e.do(t, http.MethodPost, path, a.Owner.Token, map[string]any{"plan": "free"}), api.ProblemValidation, "plan")
		e.unchanged(t, before, "refused checkouts")
		if len(provider.requests) != 0 {
			t.Fatalf("the provider was called %d times for refused checkouts", len(provider.requests))
		}
	})
}

// TestNoConfigurationAnswerBeforeTheRole sweeps every documented route of an
// organization on a server with nothing optional configured (no payments, no identity
// provider, no reset page), as a MEMBER and as a stranger: none answers 503 (or any
// 5xx), because the caller is checked before the configuration. The webhook is public
// (no caller to check) and outside the organization routes.
func TestNoConfigurationAnswerBeforeTheRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.newTenant(t, "Bare"), e.newTenant(t, "Outsider")
	ops := sweepOps(t)
	// Reads first, deletions last: a MEMBER who left would hear only 404s.
	order := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	slices.SortStableFunc(ops, func(x, y sweepOp) int { return slices.Index(order, x.method) - slices.Index(order, y.method) })
	swept := 0
	for _, op := range ops {
		if !op.auth || !strings.HasPrefix(op.path, "/v1/orgs/{org_id}") {
			continue
		}
		swept++
		path := fillOtherPathVars(strings.NewReplacer("{org_id}", a.Org.ID, "{project_id}", a.Project.ID).Replace(op.path))
		var body any
		if op.body != nil {
			body = map[string]any{}
			if vb, ok := validBodies[op.method+" "+op.path]; ok {
				body = vb
			}
		}
		for _, u := range []user{a.Member, b.Owner} {
			r := e.do(t, op.method, path, u.Token, body)
			if r.Status >= 500 {
				t.Errorf("%s %s as %s: %d before the role was checked: %.200s", op.method, op.path, u.Email, r.Status, r.Body)
			}
		}
	}
	if swept < 30 {
		t.Errorf("swept only %d organization routes: is openapi.json read?", swept)
	}
}
