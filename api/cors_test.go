package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// No configuration may allow every origin: the server refuses to start with a wildcard
// (config refuses it first, with the variable's name).
func TestCORSWildcardRefused(t *testing.T) {
	for _, origin := range []string{"*", "https://*.example.com", "null", "app.example.com"} {
		func() {
			defer func() {
				if rec := recover(); rec == nil || !strings.Contains(fmt.Sprint(rec), "not an origin") {
					t.Errorf("origin %q: recovered %v, want a panic", origin, rec)
				}
			}()
			newFixture(t, func(o *api.Options) { o.CORSAllowedOrigins = []string{"https://app.example.com", origin} })
		}()
	}
}
