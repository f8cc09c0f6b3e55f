package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

type orgExport struct {
	Manifest struct {
		Format     string `json:"format"`
		OrgID      string `json:"org_id"`
		ExportedAt string `json:"exported_at"`
		Tables     []struct {
			Table, File string
			Rows        int
		} `json:"tables"`
	}
	Rows map[string][]map[string]any // by table
}

// readOrgExport checks an export's answer and reads the archive.
func readOrgExport(t testing.TB, r *response) orgExport {
	t.Helper()
	r.want(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/zip" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="org-`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	zr, err := zip.NewReader(bytes.NewReader(r.Body), int64(len(r.Body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	out := orgExport{Rows: map[string][]map[string]any{}}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if f.Name == "manifest.json" {
			if err := json.Unmarshal(data, &out.Manifest); err != nil {
				t.Fatalf("manifest: %v", err)
			}
			continue
		}
		table, ok := strings.CutSuffix(f.Name, ".jsonl")
		if !ok {
			t.Errorf("unexpected file %s", f.Name)
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var row map[string]any
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("%s: line %q: %v", f.Name, sc.Text(), err)
			}
			out.Rows[table] = append(out.Rows[table], row)
		}
	}
	for _, e := range out.Manifest.Tables {
		if len(out.Rows[e.Table]) != e.Rows || e.File != e.Table+".jsonl" {
			t.Errorf("manifest says %+v, the archive holds %d rows", e, len(out.Rows[e.Table]))
		}
	}
	if len(out.Manifest.Tables) != len(out.Rows) {
		t.Errorf("manifest lists %d tables, the archive has %d files", len(out.Manifest.Tables), len(out.Rows))
	}
	return out
}

func TestOrganizationExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Portable")
	other := e.newProjectTeam(t, "Portable rival")
	cat := e.createCategory(t, pt, "income", "Sales")
	for range 3 {
		e.createRecord(t, pt, recordBody("income", "10.00", "EUR", cat.ID, "2030-01-01"))
	}
	e.invite(t, pt.Owner, pt.Org.ID, map[string]any{"email": e.newEmail("export-invitee"), "role": "MEMBER"})
	rivalCat := e.createCategory(t, other, "income", "Rival")
	e.createRecord(t, other, recordBody("income", "5.00", "EUR", rivalCat.ID, "2030-01-01"))

	path := "/v1/orgs/" + pt.Org.ID + "/export"
	before := e.snapshot(t)
	// Wrong role: ADMIN, MEMBER → 403; another tenant's OWNER, an outsider → 404.
	wantProblem(t, e.do(t, http.MethodPost, path, pt.Admin.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPost, path, pt.Member.Token, nil), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodPost, path, other.Owner.Token, nil), api.ProblemNotFound)
	e.unchanged(t, before, "refused exports")

	x := readOrgExport(t, e.do(t, http.MethodPost, path, pt.Owner.Token, nil))
	if x.Manifest.Format != api.OrgExportFormat || x.Manifest.OrgID != pt.Org.ID || x.Manifest.ExportedAt == "" {
		t.Errorf("manifest = %+v", x.Manifest)
	}
	for table, want := range map[string]int{
		"app.organizations": 1, "app.projects": 1, "app.finance_categories": 1, "app.financial_records": 3,
		"app.memberships": 7, "app.invitations": 1, "auth.users": 7,
	} {
		if got := len(x.Rows[table]); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	if len(x.Rows["app.audit_log"]) == 0 {
		t.Errorf("no audit trail in the export")
	}
	// Every row is this organization's; no secret-named column is in any.
	for table, rows := range x.Rows {
		for _, row := range rows {
			org, ok := row["org_id"]
			if table == "app.organizations" {
				org, ok = row["id"], true
			}
			if table != "auth.users" && (!ok || org != pt.Org.ID) {
				t.Errorf("%s: a row of another organization: %v", table, row)
			}
			for k := range row {
				if strings.Contains(k, "hash") || strings.Contains(k, "token") || strings.Contains(k, "password") || strings.Contains(k, "secret") {
					t.Errorf("%s: secret column %s exported", table, k)
				}
			}
			if table == "auth.users" && strings.Contains(row["email"].(string), "rival") {
				t.Errorf("a user of the rival exported: %v", row)
			}
		}
	}
	if n := e.count(t, `select count(*) from app.financial_records where org_id = $1`, pt.Org.ID); n != len(x.Rows["app.financial_records"]) {
		t.Errorf("exported %d records of %d", len(x.Rows["app.financial_records"]), n)
	}
}
