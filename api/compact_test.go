package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Layouts Postgres writes (json_build_object, jsonb, json_agg, a json column stored
// as typed), with the awkward strings: whitespace, quotes and backslashes inside.
var compactCases = []string{
	`{"id":"x","n":1.50}`,
	`{"a" : 1, "b" : [1, 2, 3], "c" : {"d" : null}}`,
	`{"a": 1, "b": [true, false], "c": {"d": "e f"}}`,
	"[{\"a\" : 1}, \n {\"a\" : 2}]",
	"{\r\n\t\"k\" :\t\"v\"\r\n}",
	`{"s" : "a \" b \\ c", "t" : "\\", "u" : "\\\"  "}`,
	`{"q" : " spaced   string ", "e" : "\u00e9 \n \t"}`,
	`  "lonely"  `,
	`[ ]`, `{ }`, `[]`, `{}`, `1`, ` 1 `, `"\\"`, `[ "\\\\", " " ]`,
	`{"nested" : [[ [ {"x" : ["y" , "z"]} ] ]]}`,
}

func TestCompactJSONMatchesEncodingJSON(t *testing.T) {
	for _, c := range compactCases {
		want := stdCompact(t, []byte(c))
		got, pooled := compactJSON([]byte(c))
		if string(got) != want {
			t.Errorf("compactJSON(%q) = %q, want %q", c, got, want)
		}
		if (pooled == nil) != (want == c) {
			t.Errorf("compactJSON(%q): copied %v, want a copy only when something changes", c, pooled != nil)
		}
		releaseCompact(pooled)
	}
}

func TestWriteJSONBytesCompacts(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v1/orgs/x", nil)
	w := httptest.NewRecorder()
	writeJSONBytes(w, r, http.StatusOK, []byte("[{\"a\" : 1, \"s\" : \"x y\"}, \n {\"a\": 2}]"))
	if got := w.Body.String(); got != `[{"a":1,"s":"x y"},{"a":2}]` {
		t.Fatalf("body %q", got)
	}
	if cl := w.Header().Get("Content-Length"); cl != fmt.Sprint(w.Body.Len()) {
		t.Fatalf("Content-Length %s for %d bytes", cl, w.Body.Len())
	}
}

func FuzzCompactJSON(f *testing.F) {
	for _, c := range compactCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if !json.Valid(src) {
			return // Postgres never hands us invalid JSON
		}
		var want bytes.Buffer
		if err := json.Compact(&want, src); err != nil {
			t.Fatal(err)
		}
		got, pooled := compactJSON(src)
		defer releaseCompact(pooled)
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("compactJSON(%q) = %q, want %q", src, got, want.Bytes())
		}
	})
}

func stdCompact(t testing.TB, src []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, src); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// benchmarkBody is a page of 20 projects as api.list_projects writes it (the
// tests/load request), about 9 KB.
func benchmarkBody() []byte {
	var items []string
	for i := range 20 {
		items = append(items, fmt.Sprintf(`{"id" : "0190c0de-0000-7000-8000-%012d", "org_id" : "0190c0de-0000-7000-8000-000000000001", "name" : "Project %d", "description" : "A project with a description of some words", "created_at" : "2026-12-03T02:48:54.123456+00:00", "updated_at" : "2026-12-03T02:48:54.123456+00:00", "my_permissions" : {"project_role" : "OWNER", "finance" : "WRITE", "analytics" : "READ"}}`, i, i))
	}
	return []byte(`{"items" : [` + strings.Join(items, ", \n ") + `], "next_cursor" : "MDE5MGMwZGUtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDIw"}`)
}

// go test ./api -run '^$' -bench CompactJSON -benchmem
func BenchmarkCompactJSON(b *testing.B) {
	body := benchmarkBody()
	compact := []byte(stdCompact(b, body))
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			_, pooled := compactJSON(body)
			releaseCompact(pooled)
		}
	})
	b.Run("ours-already-compact", func(b *testing.B) {
		b.SetBytes(int64(len(compact)))
		for b.Loop() {
			_, pooled := compactJSON(compact)
			releaseCompact(pooled)
		}
	})
	b.Run("encoding-json-pooled", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			_ = json.Compact(&buf, body)
		}
	})
}
