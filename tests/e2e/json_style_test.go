package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestOneJSONStyle walks every GET that openapi.json documents on the API port, with a
// tenant whose every kind of row exists (so lists have several items: json_agg's
// layout), as the OWNER (and the platform admin for /v1/admin): each answers 2xx, and
// env.check holds its body to json.Compact, as it does every answer of the suite
// (checkCompactJSON). Before, answers came in three layouts: compact from Go,
// `"k" : v` from json_build_object, `"k": v` from jsonb.
func TestOneJSONStyle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Layout")
	ops := e.newPlatformAdmin(t)
	org, proj := pt.Org.ID, pt.Project.ID

	svc := e.createService(t, pt.Owner, org, "Cut", 30, 2)
	e.createService(t, pt.Owner, org, "Colour", 60, 1)
	bk := e.book(t, pt.Member, org, svc.ID, slot(0), "one@example.com")
	e.book(t, pt.Member, org, svc.ID, slot(1), "two@example.com")
	income := e.createCategory(t, pt, "income", "Sales")
	e.createCategory(t, pt, "expense", "Rent")
	rec := e.createRecord(t, pt, recordBody("income", "12.50", "EUR", income.ID, "2030-01-02"))
	e.createRecord(t, pt, map[string]any{"kind": "income", "amount": "3.00", "currency": "USD", "category_id": income.ID,
		"payment_source": "cash", "occurred_on": "2030-01-03", "tags": []string{"a", "b"}, "description": "with \"quotes\" and  spaces"})
	for _, d := range []string{"2030-01-01", "2030-02-01"} {
		e.do(t, http.MethodPut, "/v1/orgs/"+org+"/exchange-rates", pt.Owner.Token,
			map[string]any{"date": d, "from_currency": "USD", "to_currency": "EUR", "rate": "0.9"}).want(t, http.StatusOK)
	}
	e.invite(t, pt.Owner, org, map[string]any{"email": "invitee@example.com", "role": "MEMBER"})
	e.createProject(t, pt.Owner, org, "Second", "")

	ids := strings.NewReplacer("{org_id}", org, "{project_id}", proj, "{service_id}", svc.ID, "{booking_id}", bk.ID,
		"{record_id}", rec.ID, "{tenant_id}", org)
	query := map[string]string{
		"/v1/orgs/{org_id}/projects/{project_id}/analytics/summary": "?base=EUR",
		"/v1/orgs/{org_id}/projects/{project_id}/analytics/trends":  "?from=2030-01-01&to=2030-03-01",
	}
	walked := 0
	for _, op := range sweepOps(t) {
		if op.method != http.MethodGet || strings.Contains(op.path, "{provider}") || strings.HasPrefix(op.path, "/docs") {
			continue // OIDC redirects and the HTML page: no JSON
		}
		tok := pt.Owner.Token
		if strings.HasPrefix(op.path, "/v1/admin/") {
			tok = ops.Token
		}
		if !op.auth {
			tok = ""
		}
		r := e.do(t, op.method, ids.Replace(op.path)+query[op.path], tok, nil)
		if r.Status < 200 || r.Status > 299 {
			t.Errorf("GET %s: %d, want 2xx: %.300s", op.path, r.Status, r.Body)
			continue
		}
		walked++
	}
	t.Logf("%d GET operations answered 2xx", walked)
	if walked < 30 {
		t.Errorf("walked only %d GET operations: is openapi.json read?", walked)
	}
}
