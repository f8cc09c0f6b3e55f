package policyreport_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rowguard/rowguard/internal/policyreport"
	"github.com/rowguard/rowguard/internal/testdb"
)

// accessJSON is the committed access model of this version: what
// `rowguard policies --who-can --format json` prints on a freshly migrated database
// (database name "rowguard"). Reviewers diff it between versions
// (`rowguard policies diff OLD NEW`), so it must never be stale.
var accessJSON = filepath.Join("..", "..", "policies", "access.json")

func TestCommittedAccessJSONIsCurrent(t *testing.T) {
	db := testdb.New(t)
	conn := connect(t, db.AdminURL)
	rep, err := policyreport.Load(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if rep.WhoCan, err = policyreport.Probe(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
	rep.Database = "rowguard"
	var want bytes.Buffer
	if err := rep.Write(&want, "json"); err != nil {
		t.Fatal(err)
	}
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(accessJSON, want.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(accessJSON)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, want.Bytes()) {
		return
	}
	var committed policyreport.Report
	if err := json.Unmarshal(got, &committed); err != nil {
		t.Fatalf("policies/access.json: %v", err)
	}
	d := policyreport.Compare("policies/access.json", &committed, "the migrated database", rep)
	var words bytes.Buffer
	if err := d.Write(&words, "text"); err != nil {
		t.Fatal(err)
	}
	t.Errorf("policies/access.json is stale (regenerate: go test ./internal/policyreport -run TestCommittedAccessJSONIsCurrent -update, "+
		"and let a reviewer approve the change):\n%s", words.String())
}
