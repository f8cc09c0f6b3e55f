package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/api/apitest"
)

// currencyPattern is how openapi.json marks a currency, wherever it appears.
const currencyPattern = "^[A-Z]{3}$"

// currencyInput is one place an operation takes a currency: a query or path parameter,
// or a property of its body.
type currencyInput struct {
	method, path, in, name string
}

// currencyInputs lists, from openapi.json, every parameter and body property of an
// operation on the API port whose schema is a currency: a route added later is covered
// as soon as it is documented.
func currencyInputs(t *testing.T) []currencyInput {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	spec, err := apitest.Default()
	if err != nil {
		t.Fatal(err)
	}
	onAPI := spec.OperationsOn(apitest.ListenerAPI)
	var out []currencyInput
	isCurrency := func(s map[string]any) bool { return s != nil && s["pattern"] == currencyPattern }
	for path, item := range doc.Paths {
		var shared []map[string]any
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &shared)
		}
		for method, raw := range item {
			if !slices.Contains(onAPI, strings.ToUpper(method)+" "+path) {
				continue
			}
			var op struct {
				Parameters  []map[string]any `json:"parameters"`
				RequestBody *struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			for _, p := range append(slices.Clone(shared), op.Parameters...) {
				p = doc.resolve(p)
				schema, _ := p["schema"].(map[string]any)
				if isCurrency(doc.resolve(schema)) {
					out = append(out, currencyInput{strings.ToUpper(method), path, p["in"].(string), p["name"].(string)})
				}
			}
			if op.RequestBody != nil {
				body := doc.resolve(op.RequestBody.Content["application/json"].Schema)
				props, _ := body["properties"].(map[string]any)
				for name, ps := range props {
					if isCurrency(doc.resolve(ps.(map[string]any))) {
						out = append(out, currencyInput{strings.ToUpper(method), path, "body", name})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].method+out[i].path+out[i].name < out[j].method+out[j].path+out[j].name
	})
	return out
}

// TestCurrencyIsISO4217Everywhere: "XXQ" has the shape of a currency but is none. Every
// operation that takes a currency, anywhere in the request, answers 422 naming that
// field and changes nothing; before migration 023 a service in XXQ was created (201)
// while a financial record in XXQ was refused.
func TestCurrencyIsISO4217Everywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Currencies")
	svc := e.createService(t, pt.Owner, pt.Org.ID, "Priced", 30, 1)
	income := e.createCategory(t, pt, "income", "Sales")
	rec := e.createRecord(t, pt, recordBody("income", "5.00", "EUR", income.ID, "2030-01-02"))
	e.do(t, http.MethodPut, "/v1/orgs/"+pt.Org.ID+"/exchange-rates", pt.Owner.Token,
		map[string]any{"date": "2030-01-01", "from_currency": "EUR", "to_currency": "USD", "rate": "1.1"}).want(t, http.StatusOK)
	ids := strings.NewReplacer("{org_id}", pt.Org.ID, "{project_id}", pt.Project.ID, "{service_id}", svc.ID,
		"{record_id}", rec.ID, "{from_currency}", "EUR", "{to_currency}", "USD", "{date}", "2030-01-01")

	// Well-formed bodies in which only the currency is wrong (PATCH: the currency alone).
	bodies := map[string]map[string]any{
		"POST /v1/orgs/{org_id}/services":                      {"name": "XXQ priced", "duration_minutes": 30, "price": "1.00", "currency": "EUR"},
		"POST /v1/orgs/{org_id}/projects/{project_id}/records": recordBody("income", "1.00", "EUR", income.ID, "2030-01-03"),
		"PUT /v1/orgs/{org_id}/exchange-rates":                 {"date": "2030-02-01", "from_currency": "EUR", "to_currency": "USD", "rate": "1.2"},
	}

	inputs := currencyInputs(t)
	var seen []string
	before := e.snapshot(t)
	for _, in := range inputs {
		key := in.method + " " + in.path
		seen = append(seen, key+" "+in.in+":"+in.name)
		path, query := in.path, ""
		var body map[string]any
		switch in.in {
		case "path":
			path = strings.Replace(path, "{"+in.name+"}", "XXQ", 1)
		case "query":
			query = "?" + in.name + "=XXQ"
		case "body":
			if b, ok := bodies[key]; ok {
				body = maps.Clone(b)
			} else {
				body = map[string]any{}
			}
			body[in.name] = "XXQ"
		}
		if in.in != "body" && (in.method == http.MethodPost || in.method == http.MethodPut || in.method == http.MethodPatch) {
			body = bodies[key]
		}
		r := e.do(t, in.method, ids.Replace(path)+query, pt.Owner.Token, body)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s with %s %s=XXQ: %d, want 422: %.300s", key, in.in, in.name, r.Status, r.Body)
			continue
		}
		for _, fe := range wantProblem(t, r, api.ProblemValidation, in.name).Errors {
			if !strings.Contains(fe.Message, "ISO 4217") {
				t.Errorf("%s with %s %s=XXQ: errors[] says %q, want it to say ISO 4217", key, in.in, in.name, fe.Message)
			}
		}
	}
	e.unchanged(t, before, "requests with the currency XXQ")

	t.Logf("%d currency inputs: %v", len(seen), seen)
	// The discovery found every place we know of (it may find more).
	for _, want := range []string{
		"DELETE /v1/orgs/{org_id}/exchange-rates/{from_currency}/{to_currency}/{date} path:from_currency",
		"DELETE /v1/orgs/{org_id}/exchange-rates/{from_currency}/{to_currency}/{date} path:to_currency",
		"GET /v1/orgs/{org_id}/exchange-rates query:from_currency",
		"GET /v1/orgs/{org_id}/exchange-rates query:to_currency",
		"GET /v1/orgs/{org_id}/projects/{project_id}/analytics/summary query:base",
		"GET /v1/orgs/{org_id}/projects/{project_id}/records query:currency",
		"PATCH /v1/orgs/{org_id}/projects/{project_id}/records/{record_id} body:currency",
		"PATCH /v1/orgs/{org_id}/services/{service_id} body:currency",
		"POST /v1/orgs/{org_id}/projects/{project_id}/records body:currency",
		"POST /v1/orgs/{org_id}/services body:currency",
		"PUT /v1/orgs/{org_id}/exchange-rates body:from_currency",
		"PUT /v1/orgs/{org_id}/exchange-rates body:to_currency",
	} {
		if !slices.Contains(seen, want) {
			t.Errorf("openapi.json no longer marks %s as a currency (found %v)", want, seen)
		}
	}

	// The same valid codes still work everywhere, XAU (gold) included.
	e.do(t, http.MethodPatch, "/v1/orgs/"+pt.Org.ID+"/services/"+svc.ID, pt.Owner.Token,
		map[string]any{"currency": "XAU"}).want(t, http.StatusOK)
	e.do(t, http.MethodGet, pt.financePath("/records?currency=JPY"), pt.Owner.Token, nil).want(t, http.StatusOK)
	e.do(t, http.MethodGet, pt.financePath("/analytics/summary?base=USD"), pt.Owner.Token, nil).want(t, http.StatusOK)
}
