package api_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/operations.md names every rowguard_* family /metrics serves (by name, or by a
// prefix written `rowguard_db_pool_*`), and every family it names — the Go runtime's
// and the process's included — is one /metrics serves: the operators' manual and the
// exposition never drift apart.
func TestOperationsDocNamesTheMetrics(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Health and metrics\n")
	if !ok {
		t.Fatal("docs/operations.md has no ## Health and metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, want := range []string{"`GET /metrics`", "`prometheus/client_golang`"} {
		if !strings.Contains(section, want) {
			t.Errorf("docs/operations.md's ## Health and metrics does not name %s", want)
		}
	}
	served := parseExposition(t, scrapeForGolden(t))
	var named []string
	for _, m := range regexp.MustCompile("`((?:rowguard|go|process)_[a-z0-9_]*\\*?)`").FindAllStringSubmatch(section, -1) {
		if !strings.HasSuffix(m[1], "_*") || strings.Count(m[1], "_") > 1 {
			named = append(named, m[1]) // a whole namespace (`rowguard_*`) names no family
		}
	}
	covers := func(name, family string) bool {
		if prefix, ok := strings.CutSuffix(name, "*"); ok {
			return strings.HasPrefix(family, prefix)
		}
		return name == family
	}
	for _, prefix := range []string{"rowguard_", "go_", "process_"} {
		n := 0
		for _, name := range named {
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			n++
			found := false
			for family := range served {
				found = found || covers(name, family)
			}
			if !found {
				t.Errorf("docs/operations.md names %s, which /metrics does not serve", name)
			}
		}
		if n == 0 {
			t.Errorf("docs/operations.md names no %s* family", prefix)
		}
	}
	for family := range served {
		if !strings.HasPrefix(family, "rowguard_") {
			continue
		}
		found := false
		for _, name := range named {
			found = found || covers(name, family)
		}
		if !found {
			t.Errorf("/metrics serves %s, which docs/operations.md does not name", family)
		}
	}
}
