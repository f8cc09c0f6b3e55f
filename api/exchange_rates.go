package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/gorilla/mux"
)

// routeExchangeRates: the rates an organization enters for the analytics' base currency.
func (s *Server) routeExchangeRates() {
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/exchange-rates", s.listExchangeRates, true)
	s.handle(http.MethodPut, "/v1/orgs/{org_id}/exchange-rates", s.putExchangeRate, true)
	s.handle(http.MethodDelete, "/v1/orgs/{org_id}/exchange-rates/{from_currency}/{to_currency}/{date}", s.deleteExchangeRate, true)
}

// rateRE: a positive rate as numeric(20, 10) holds it, as a string.
var rateRE = regexp.MustCompile(`^[0-9]{1,10}(\.[0-9]{1,10})?$`)

func checkRate(s string) string {
	if !rateRE.MatchString(s) || strings.Trim(s, "0.") == "" {
		return `must be a positive decimal string like "1.0845" (at most 10 digits before the point and 10 after)`
	}
	return ""
}

var rateCursorRE = regexp.MustCompile(`^[A-Z]{3}_[A-Z]{3}_[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

func checkRateCursor(s string) string {
	if !rateCursorRE.MatchString(s) || checkDate(s[8:]) != "" {
		return "must be the next_cursor of the previous page"
	}
	return ""
}

// GET /v1/orgs/{org_id}/exchange-rates?limit&cursor&from_currency&to_currency
func (s *Server) listExchangeRates(w http.ResponseWriter, r *http.Request) {
	q := queryFilters{r: r}
	limit := q.intParam("limit", 1, MaxRecordPageLimit, DefaultPageLimit)
	cursor := q.get("cursor", checkRateCursor)
	from := q.get("from_currency", checkCurrency)
	to := q.get("to_currency", checkCurrency)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.list_exchange_rates($1::int, $2::text, $3::text, $4::text)`, limit, cursor, from, to)
}

// PUT /v1/orgs/{org_id}/exchange-rates {date, from_currency, to_currency, rate}
func (s *Server) putExchangeRate(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	body, err := decodeJSONObject(r, func(fields map[string]any) []bodyField {
		m = fields
		return []bodyField{
			member("date", true, false, m, stringValue(checkDate)),
			member("from_currency", true, false, m, stringValue(checkCurrency)),
			member("to_currency", true, false, m, stringValue(checkCurrency)),
			member("rate", true, false, m, stringValue(checkRate)),
		}
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if m["from_currency"] == m["to_currency"] {
		s.fail(w, r, validationError(FieldError{"to_currency", "must differ from from_currency"}))
		return
	}
	s.call(w, r, http.StatusOK, `select api.put_exchange_rate($1::jsonb)`, string(body))
}

// DELETE /v1/orgs/{org_id}/exchange-rates/{from_currency}/{to_currency}/{date}
func (s *Server) deleteExchangeRate(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	var errs []FieldError
	for _, f := range []struct{ name, msg string }{
		{"from_currency", checkCurrency(vars["from_currency"])},
		{"to_currency", checkCurrency(vars["to_currency"])},
		{"date", checkDate(vars["date"])},
	} {
		if f.msg != "" {
			errs = append(errs, FieldError{f.name, f.msg})
		}
	}
	if len(errs) > 0 {
		s.fail(w, r, validationError(errs...))
		return
	}
	s.call(w, r, http.StatusNoContent, `select api.delete_exchange_rate($1::text, $2::text, $3::date)`,
		vars["from_currency"], vars["to_currency"], vars["date"])
}
