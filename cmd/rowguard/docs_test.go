package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docs/operations.md's table of commands gives, in order, the synopsis of every command
// as `rowguard help` prints it: a new, renamed or re-flagged command fails here until
// the operators' manual says so.
func TestOperationsDocListsEveryCommand(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Commands\n")
	if !ok {
		t.Fatal("docs/operations.md has no ## Commands section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var inDoc, synopses []string
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:[^`\\\\]|\\\\.)+)` \\|").FindAllStringSubmatch(section, -1) {
		inDoc = append(inDoc, strings.ReplaceAll(m[1], `\|`, "|")) // a | in a table cell is escaped
	}
	for _, c := range commands {
		synopses = append(synopses, c.synopsis)
	}
	if !slices.Equal(inDoc, synopses) {
		t.Errorf("docs/operations.md's commands:\n  %s\nrowguard help's:\n  %s", strings.Join(inDoc, "\n  "), strings.Join(synopses, "\n  "))
	}
	for _, want := range []string{"`rowguard help CMD`", "`rowguard CMD -h`"} {
		if !strings.Contains(section, want) {
			t.Errorf("docs/operations.md's ## Commands does not name %s", want)
		}
	}
}
