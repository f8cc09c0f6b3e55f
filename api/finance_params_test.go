package api

import (
	"net/http/httptest"
	"testing"
)

// TestRecordFiltersParseTheQueryOnce: reading the records list's 15 parameters parses
// the query string once (queryFilters keeps it), not once per parameter: the
// allocations of a page's parameter checks stay those of one parse. With a parse per
// parameter they were 15 maps and their values.
func TestRecordFiltersParseTheQueryOnce(t *testing.T) {
	for _, query := range []string{
		"limit=50",
		"limit=50&kind=income&tags_any=shop,travel&from=2024-01-01&to=2024-12-31&q=rent",
	} {
		r := httptest.NewRequest("GET", "/v1/orgs/x/projects/y/records?"+query, nil)
		read := func() {
			q := queryFilters{r: r}
			if wantsCSV(r, &q) {
				t.Fatal("a JSON page taken for CSV")
			}
			_ = q.intParam("limit", 1, MaxRecordPageLimit, DefaultPageLimit)
			_ = q.get("cursor", checkRecordCursor)
			_ = recordFilterArgs(&q)
			if err := q.err(); err != nil {
				t.Fatal(err)
			}
		}
		once := testing.AllocsPerRun(50, func() { _ = r.URL.Query() })
		all := testing.AllocsPerRun(50, read)
		// One parse, the arguments' slice, boxed values and the checks' own (6 and 19
		// with Go 1.26; a parse per parameter: 48 and 131).
		if limit := 2*once + 15; all > limit {
			t.Errorf("?%s: %.0f allocations to read the parameters (one parse: %.0f), want at most %.0f", query, all, once, limit)
		}
	}
}
