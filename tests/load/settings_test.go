package main

import (
	"maps"
	"testing"
)

func TestParseSettings(t *testing.T) {
	got, err := parseSettings(" shared_buffers=1GB, work_mem = 4MB ,,")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"shared_buffers": "1GB", "work_mem": "4MB"}; !maps.Equal(got, want) {
		t.Errorf("parseSettings = %v, want %v", got, want)
	}
	for _, bad := range []string{"shared_buffers", "=1GB", "a=1,b"} {
		if _, err := parseSettings(bad); err == nil {
			t.Errorf("parseSettings(%q): no error", bad)
		}
	}
}
