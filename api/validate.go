package api

import (
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// uuidPattern is the canonical textual UUID (RFC 9562 §4), any case. Path
// ids are matched with it by the router, so "/v1/orgs/abc" is a 404, never
// a database error.
const uuidPattern = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`

var uuidRE = regexp.MustCompile(`^` + uuidPattern + `$`)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

// Password rules (NIST SP 800-63B §3.1.1.2): length only, counted in
// Unicode code points; no composition rules.
const (
	MinPasswordRunes = 8
	MaxPasswordRunes = 256
)

func checkPassword(pw string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordRunes:
		return "must be at least " + strconv.Itoa(MinPasswordRunes) + " characters long"
	case n > MaxPasswordRunes:
		return "must be at most " + strconv.Itoa(MaxPasswordRunes) + " characters long"
	}
	return ""
}

// MaxEmailLength is the longest address SMTP can carry (RFC 5321 §4.5.3.1.3
// path limit less the angle brackets).
const MaxEmailLength = 254

// checkEmail accepts a bare addr-spec (local@domain, no display name, no
// comments, no whitespace) whose domain has a dot: what a person types as
// their email. The database keeps its own CHECK as the last word.
func checkEmail(email string) string {
	const msg = "must be an email address like name@example.com"
	if len(email) > MaxEmailLength {
		return "must be at most " + strconv.Itoa(MaxEmailLength) + " bytes long"
	}
	if email == "" || strings.IndexFunc(email, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 || strings.Count(email, "@") != 1 {
		return msg
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return msg
	}
	_, domain, _ := strings.Cut(email, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return msg
	}
	return ""
}

// MaxNameLength matches the CHECK on organization and project names.
const MaxNameLength = 200

// checkName requires something other than blanks, at most MaxNameLength
// characters once trimmed (the database trims too).
func checkName(name string) string {
	t := strings.TrimSpace(name)
	switch {
	case t == "":
		return "must not be blank"
	case utf8.RuneCountInString(t) > MaxNameLength:
		return "must be at most " + strconv.Itoa(MaxNameLength) + " characters long"
	}
	return ""
}

// Pagination limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 100
)

var digitsRE = regexp.MustCompile(`^[0-9]{1,4}$`)

// pageParams reads the limit and cursor query parameters of list
// endpoints. cursor is nil (SQL NULL) for the first page.
func pageParams(r *http.Request) (limit int, cursor any, err error) {
	q := r.URL.Query()
	var errs []FieldError
	limit = DefaultPageLimit
	if vs, ok := q["limit"]; ok {
		switch n, convErr := strconv.Atoi(vs[0]); {
		case len(vs) > 1:
			errs = append(errs, FieldError{"limit", "must be given once"})
		case !digitsRE.MatchString(vs[0]) || convErr != nil || n < 1 || n > MaxPageLimit:
			errs = append(errs, FieldError{"limit", "must be an integer from 1 to " + strconv.Itoa(MaxPageLimit)})
		default:
			limit = n
		}
	}
	if vs, ok := q["cursor"]; ok {
		switch {
		case len(vs) > 1:
			errs = append(errs, FieldError{"cursor", "must be given once"})
		case !isUUID(vs[0]):
			errs = append(errs, FieldError{"cursor", "must be a UUID (the next_cursor of the previous page)"})
		default:
			cursor = strings.ToLower(vs[0])
		}
	}
	if len(errs) > 0 {
		return 0, nil, validationError(errs...)
	}
	return limit, cursor, nil
}
