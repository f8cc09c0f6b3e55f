package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// docFiles are README.md and every file of docs/, as paths from this directory.
func docFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("docs/ holds no .md file")
	}
	return append([]string{"../README.md"}, docs...)
}

var (
	fence    = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```[^\\n]*$")
	codeSpan = regexp.MustCompile("`[^`\\n]*`")
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading  = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)
)

// prose is a Markdown file without its code blocks and code spans, where nothing is a link.
func prose(md string) string {
	return codeSpan.ReplaceAllString(fence.ReplaceAllString(md, ""), "")
}

// links are the targets of the inline links of a Markdown file.
func links(md string) []string {
	var out []string
	for _, m := range mdLink.FindAllStringSubmatch(prose(md), -1) {
		out = append(out, m[1])
	}
	return out
}

// anchors are the ids GitHub gives a Markdown file's headings: lower case, every
// character but letters, digits, spaces, hyphens and underscores dropped, spaces
// turned into hyphens; a repeated id gets -1, -2, ...
func anchors(md string) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(md, ""), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			ids[id+"-"+strconv.Itoa(n)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
	}
	return ids
}

// Every relative link of README.md and docs/*.md names an existing file, and every
// #fragment a heading of the file it points into: moving or renaming a doc, or a
// heading, breaks the build rather than the reader's click.
func TestDocLinksResolve(t *testing.T) {
	for _, file := range docFiles(t) {
		md, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, target := range links(string(md)) {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			path, fragment, _ := strings.Cut(target, "#")
			resolved := file
			if path != "" {
				resolved = filepath.Join(filepath.Dir(file), path)
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s links to %s: no such file", file, target)
					continue
				}
			}
			if fragment == "" || !strings.HasSuffix(resolved, ".md") {
				continue
			}
			into, err := os.ReadFile(resolved)
			if err != nil {
				t.Fatal(err)
			}
			if !anchors(string(into))[fragment] {
				t.Errorf("%s links to %s: %s has no heading #%s", file, target, resolved, fragment)
			}
		}
		if file != "../README.md" && n == 0 {
			t.Errorf("%s links nowhere (not even back to the README)", file)
		}
	}
}

// README.md is the front door: at most 300 lines, and it links to every file of docs/,
// so no part of the manual is out of reach.
func TestREADMEIsAFrontDoor(t *testing.T) {
	md, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(md), "\n"); n > 300 {
		t.Errorf("README.md has %d lines; the front door holds at most 300 (move the detail to docs/)", n)
	}
	linked := map[string]bool{}
	for _, target := range links(string(md)) {
		path, _, _ := strings.Cut(target, "#")
		linked[filepath.Clean(path)] = true
	}
	for _, doc := range docFiles(t)[1:] {
		if rel := strings.TrimPrefix(doc, "../"); !linked[rel] {
			t.Errorf("README.md does not link to %s", rel)
		}
	}
}

// The link and anchor readers themselves: a code span or block is not a link, and the
// ids are GitHub's.
func TestDocLinkReaders(t *testing.T) {
	md := "# Behind PgBouncer (transaction pooling)\n## Two\n## Two\n" +
		"[a](x.md#two-1) `[b](no.md)`\n```\n[c](no.md)\n# Not a heading\n```\n[d](../y.md)\n"
	if got := strings.Join(links(md), " "); got != "x.md#two-1 ../y.md" {
		t.Errorf("links: %q", got)
	}
	ids := anchors(md)
	for _, id := range []string{"behind-pgbouncer-transaction-pooling", "two", "two-1"} {
		if !ids[id] {
			t.Errorf("anchors: no %q in %v", id, ids)
		}
	}
	if ids["not-a-heading"] {
		t.Errorf("anchors: a heading inside a code block: %v", ids)
	}
}

// docs/dependencies.md names every module go.mod requires directly, so a dependency
// never arrives without its reason written down.
func TestDependenciesAreExplained(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/dependencies.md")
	if err != nil {
		t.Fatal(err)
	}
	direct := regexp.MustCompile(`(?m)^\s*(?:require\s+)?([a-z0-9.\-]+\.[a-z]+/\S+) v\S+\s*$`)
	modules := direct.FindAllStringSubmatch(string(mod), -1)
	if len(modules) < 6 {
		t.Fatalf("found %d direct requirements in go.mod; is the pattern right?", len(modules))
	}
	for _, m := range modules {
		if !strings.Contains(string(doc), "`"+m[1]+"`") {
			t.Errorf("go.mod requires %s, which docs/dependencies.md does not explain", m[1])
		}
	}
}
