package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

// routeFinance: a project's ledger (categories, records) and its analytics.
func (s *Server) routeFinance() {
	const project = "/v1/orgs/{org_id}/projects/{project_id}"
	s.handle(http.MethodGet, project+"/categories", s.listCategories, true)
	s.handle(http.MethodPost, project+"/categories", s.createCategory, true)
	s.handle(http.MethodPatch, project+"/categories/{category_id}", s.updateCategory, true)
	s.handle(http.MethodPost, project+"/categories/{category_id}/archive", s.archiveCategory, true)
	s.handle(http.MethodGet, project+"/records", s.listRecords, true)
	s.handle(http.MethodPost, project+"/records", s.createRecord, true)
	s.handle(http.MethodGet, project+"/records/{record_id}", s.getRecord, true)
	s.handle(http.MethodPatch, project+"/records/{record_id}", s.updateRecord, true)
	s.handle(http.MethodDelete, project+"/records/{record_id}", s.deleteRecord, true)
	s.handle(http.MethodPost, project+"/records/{record_id}/restore", s.restoreRecord, true)
	s.routeFinanceTags(project)
	s.routeAnalytics(project + "/analytics")
	s.routeExchangeRates()
}

// ----- categories ------------------------------------------------------------------

func categoryMembers(m map[string]any, create bool) []bodyField {
	if create {
		return []bodyField{
			member("kind", true, false, m, stringValue(oneOf(FinanceKinds...))),
			member("name", true, false, m, stringValue(checkCategoryName)),
		}
	}
	return []bodyField{
		member("name", false, false, m, stringValue(checkCategoryName)),
		member("archived", false, false, m, boolValue),
	}
}

// GET …/categories[?kind=&archived=]
func (s *Server) listCategories(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	kind := q.get("kind", oneOf(FinanceKinds...))
	archived := q.get("archived", oneOf("true", "false"))
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_finance_categories($1::uuid, $2::app.finance_kind, $3::boolean)`,
		mux.Vars(r)["project_id"], kind, archived)
}

// POST …/categories
func (s *Server) createCategory(w http.ResponseWriter, r *http.Request) {
	body, err := decodeJSONObject(r, func(m map[string]any) []bodyField { return categoryMembers(m, true) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusCreated, `select api.create_finance_category($1::uuid, $2::jsonb)`, mux.Vars(r)["project_id"], string(body))
}

// PATCH …/categories/{category_id}
func (s *Server) updateCategory(w http.ResponseWriter, r *http.Request) {
	patch, err := decodePatch(r, func(m map[string]any) []bodyField { return categoryMembers(m, false) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := mux.Vars(r)
	s.call(w, r, http.StatusOK, `select api.update_finance_category($1::uuid, $2::uuid, $3::jsonb)`,
		v["project_id"], v["category_id"], string(patch))
}

// POST …/categories/{category_id}/archive
func (s *Server) archiveCategory(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	s.call(w, r, http.StatusOK, `select api.archive_finance_category($1::uuid, $2::uuid)`, v["project_id"], v["category_id"])
}

// ----- records ---------------------------------------------------------------------

func recordMembers(m map[string]any, create bool) []bodyField {
	return []bodyField{
		member("kind", create, false, m, stringValue(oneOf(FinanceKinds...))),
		member("amount", create, false, m, stringValue(checkRecordAmount)),
		member("currency", create, false, m, stringValue(checkCurrency)),
		member("category_id", create, false, m, stringValue(checkUUID)),
		member("tags", false, false, m, tagsValue),
		member("payment_source", create, false, m, stringValue(oneOf(PaymentSources...))),
		member("payment_reference", false, true, m, stringValue(maxRunes(MaxPaymentReferenceLength))),
		member("occurred_on", create, false, m, stringValue(checkDate)),
		member("description", false, true, m, stringValue(maxRunes(MaxRecordDescription))),
	}
}

// ListRecordsSQL is the statement of GET …/records; exported for tests/load.
const ListRecordsSQL = `select api.list_financial_records($1::uuid, $2::int, $3::text, $4::boolean,
  $5::app.finance_kind, $6::uuid, $7::text[], $8::text[], $9::text, $10::app.payment_source,
  $11::date, $12::date, $13::numeric, $14::numeric, $15::text)`

// CreateRecordSQL is the statement of POST …/records ($1 project, $2 body, $3 key or NULL).
const CreateRecordSQL = `select api.create_financial_record($1::uuid, $2::jsonb, $3::text)`

// GET …/records?limit&cursor&deleted&kind&category_id&tags_any&tags_all&currency&payment_source&from&to&min_amount&max_amount&q
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	if wantsCSV(r, &q) { // finance_csv.go
		s.exportRecords(w, r, &q)
		return
	}
	limit := q.intParam("limit", 1, MaxRecordPageLimit, DefaultPageLimit)
	cursor := q.get("cursor", checkRecordCursor)
	filters := recordFilterArgs(&q)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, ListRecordsSQL, append([]any{mux.Vars(r)["project_id"], limit, cursor}, filters...)...)
}

// deletedFilterArg is where recordFilterArgs puts ?deleted (a bool): the CSV export's
// audit names a deleted-records export apart.
const deletedFilterArg = 0

// recordFilterArgs reads the records list's filters (every parameter but limit and
// cursor), checked into q's errors, as the arguments the list and the CSV export take
// after the project (and the page): deleted, kind, category, tags_any, tags_all,
// currency, payment_source, from, to, min_amount, max_amount, q.
func recordFilterArgs(q *queryFilters) []any {
	deleted := q.get("deleted", oneOf("true", "false")) == "true"
	kind := q.get("kind", oneOf(FinanceKinds...))
	category := q.get("category_id", checkUUID)
	tagsAny := q.get("tags_any", checkTagList)
	tagsAll := q.get("tags_all", checkTagList)
	currency := q.get("currency", checkCurrency)
	source := q.get("payment_source", oneOf(PaymentSources...))
	from := q.get("from", checkDate)
	to := q.get("to", checkDate)
	minAmount := q.get("min_amount", checkRecordAmount)
	maxAmount := q.get("max_amount", checkRecordAmount)
	text := q.get("q", checkSearchText)
	q.ordered("from", "to", from, to, stringLess)
	q.ordered("min_amount", "max_amount", minAmount, maxAmount, amountLess)
	return []any{deleted, kind, category, tagList(tagsAny), tagList(tagsAll), currency, source, from, to, minAmount, maxAmount, text}
}

// POST …/records (Idempotency-Key honoured)
func (s *Server) createRecord(w http.ResponseWriter, r *http.Request) {
	key, err := idempotencyKey(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := decodeJSONObject(r, func(m map[string]any) []bodyField { return recordMembers(m, true) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.callWithETag(w, r, http.StatusCreated, CreateRecordSQL, mux.Vars(r)["project_id"], string(body), key)
}

// GET …/records/{record_id}
func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	s.callWithETag(w, r, http.StatusOK, `select api.get_financial_record($1::uuid, $2::uuid)`, v["project_id"], v["record_id"])
}

// PATCH …/records/{record_id} (If-Match: the ETag of GET → 412 when stale)
func (s *Server) updateRecord(w http.ResponseWriter, r *http.Request) {
	version, err := ifMatchVersion(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	patch, err := decodePatch(r, func(m map[string]any) []bodyField { return recordMembers(m, false) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := mux.Vars(r)
	s.callWithETag(w, r, http.StatusOK, `select api.update_financial_record($1::uuid, $2::uuid, $3::jsonb, $4::int)`,
		v["project_id"], v["record_id"], string(patch), version)
}

// DELETE …/records/{record_id}: a soft delete.
func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	s.call(w, r, http.StatusNoContent, `select api.set_financial_record_deleted($1::uuid, $2::uuid, true)`, v["project_id"], v["record_id"])
}

// POST …/records/{record_id}/restore
func (s *Server) restoreRecord(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	s.callWithETag(w, r, http.StatusOK, `select api.set_financial_record_deleted($1::uuid, $2::uuid, false)`, v["project_id"], v["record_id"])
}

// callWithETag is call for a single record: its version becomes the ETag
// that PATCH's If-Match compares.
func (s *Server) callWithETag(w http.ResponseWriter, r *http.Request, status int, query string, args ...any) {
	body, err := s.callJSON(r.Context(), r, query, args...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var rec struct {
		Version *int `json:"version"`
	}
	if json.Unmarshal(body, &rec) == nil && rec.Version != nil {
		w.Header().Set("ETag", `"`+strconv.Itoa(*rec.Version)+`"`)
	}
	writeJSONBytes(w, r, status, body)
}
