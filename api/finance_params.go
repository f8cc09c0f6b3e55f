package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Finance values and limits. The sets mirror app.finance_kind and
// app.payment_source; the limits mirror the CHECKs of sql/migrations/013_finance.sql.
var (
	FinanceKinds   = []string{"income", "expense"}
	PaymentSources = []string{"cash", "card", "bank_transfer", "direct_debit", "cheque", "mobile_wallet", "online", "other"}
)

const (
	MaxCategoryNameLength     = 100
	MaxPaymentReferenceLength = 200
	MaxRecordDescription      = 2000
	MaxTagsPerRecord          = 20
	MaxRecordPageLimit        = 200
	MaxIdempotencyKeyLength   = 200
	MaxSearchTextLength       = 200
)

// recordAmountRE: a positive amount as numeric(14, 2) holds it, as a string.
var recordAmountRE = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,2})?$`)

func checkRecordAmount(s string) string {
	if !recordAmountRE.MatchString(s) || strings.Trim(s, "0.") == "" {
		return `must be a positive decimal string like "25.00" (at most 12 digits before the point and 2 after)`
	}
	return ""
}

func checkCategoryName(s string) string {
	if msg := checkName(s); msg != "" {
		return msg
	}
	return maxRunes(MaxCategoryNameLength)(strings.TrimSpace(s))
}

// checkDate accepts a calendar date YYYY-MM-DD from 1900 to 2999 (the CHECK on occurred_on).
func checkDate(s string) string {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.Year() < 1900 || d.Year() > 2999 {
		return "must be a date YYYY-MM-DD between 1900-01-01 and 2999-12-31"
	}
	return ""
}

var tagRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,49}$`)

func checkTag(s string) string {
	if !tagRE.MatchString(s) {
		return "must be 1–50 of a-z 0-9 _ . : - starting with a letter or digit"
	}
	return ""
}

// checkTags validates a list of tags: each one, how many, no repeat.
func checkTags(tags []string) string {
	if len(tags) > MaxTagsPerRecord {
		return "must hold at most " + strconv.Itoa(MaxTagsPerRecord) + " tags"
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if msg := checkTag(t); msg != "" {
			return "tag " + strconv.Quote(t) + " " + msg
		}
		if seen[t] {
			return "must not repeat tag " + strconv.Quote(t)
		}
		seen[t] = true
	}
	return ""
}

// tagsValue is a JSON array of tags.
func tagsValue(raw json.RawMessage) (any, string) {
	var tags []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &tags) != nil {
		return nil, "must be an array of strings"
	}
	if msg := checkTags(tags); msg != "" {
		return nil, msg
	}
	return tags, ""
}

// checkTagList is a query parameter of comma-separated tags.
func checkTagList(s string) string {
	return checkTags(strings.Split(s, ","))
}

// tagList turns a checked tag-list parameter (or nil) into a text[] argument.
func tagList(v any) any {
	if v == nil {
		return nil
	}
	return strings.Split(v.(string), ",")
}

var recordCursorRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}_` + uuidPattern + `$`)

func checkRecordCursor(s string) string {
	date, _, _ := strings.Cut(s, "_")
	if !recordCursorRE.MatchString(s) || checkDate(date) != "" {
		return "must be the next_cursor of the previous page"
	}
	return ""
}

func checkSearchText(s string) string {
	if strings.TrimSpace(s) == "" {
		return "must not be blank"
	}
	return maxRunes(MaxSearchTextLength)(s)
}

// intParam is an optional integer query parameter from lo to hi (def when absent).
func (q *queryFilters) intParam(name string, lo, hi, def int) int {
	v := q.get(name, func(s string) string {
		n, err := strconv.Atoi(s)
		if !digitsRE.MatchString(s) || err != nil || n < lo || n > hi {
			return "must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
		}
		return ""
	})
	if v == nil {
		return def
	}
	n, _ := strconv.Atoi(v.(string))
	return n
}

// ordered names hi when both bounds are given and lo > hi (dates compare as
// strings; amounts as numbers).
func (q *queryFilters) ordered(loName, hiName string, lo, hi any, less func(a, b string) bool) {
	if lo != nil && hi != nil && less(hi.(string), lo.(string)) {
		q.errs = append(q.errs, FieldError{hiName, "must not be before " + loName})
	}
}

func stringLess(a, b string) bool { return a < b }

func amountLess(a, b string) bool {
	x, _ := strconv.ParseFloat(a, 64)
	y, _ := strconv.ParseFloat(b, 64)
	return x < y
}

// idempotencyKey reads the optional Idempotency-Key header: 1–200 visible ASCII characters.
func idempotencyKey(r *http.Request) (any, error) {
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return nil, nil
	}
	k := vs[0]
	ok := len(vs) == 1 && len(k) >= 1 && len(k) <= MaxIdempotencyKeyLength
	for i := 0; ok && i < len(k); i++ {
		ok = k[i] > ' ' && k[i] < 0x7f
	}
	if !ok {
		return nil, validationError(FieldError{"Idempotency-Key",
			"must be given once, 1 to " + strconv.Itoa(MaxIdempotencyKeyLength) + " visible ASCII characters"})
	}
	return k, nil
}

var ifMatchRE = regexp.MustCompile(`^(?:W/)?"([0-9]{1,9})"$`)

// ifMatchVersion reads the optional If-Match header: one ETag this API sent
// ("<version>"); nil when absent or "*".
func ifMatchVersion(r *http.Request) (any, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return nil, nil
	}
	m := ifMatchRE.FindStringSubmatch(v)
	if m == nil {
		return nil, validationError(FieldError{"If-Match", `must be one ETag of this record, like "3"`})
	}
	n, _ := strconv.Atoi(m[1])
	return n, nil
}
