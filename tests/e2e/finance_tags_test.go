package e2e

import (
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

type tagJSON struct {
	Name        string    `json:"name"`
	RecordCount int       `json:"record_count"`
	LastUsedAt  time.Time `json:"last_used_at"`
}

func init() {
	snapshotQueries["app.finance_tag_totals"] = `select * from app.finance_tag_totals`
	validBodies["POST /v1/orgs/{org_id}/projects/{project_id}/tags/rename"] = map[string]any{"from": "a", "to": "b"}
	// DELETE …/tags/{name}: the name is a value (422 naming it when malformed).
	sweepPathValues["{name}"] = "shop"
	sweepPathValid["{name}"] = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,49}$`).MatchString
}

// tagCounts lists the project's tags as u: name → record count.
func (e *env) tagCounts(t testing.TB, pt *projectTeam, u user) map[string]int {
	t.Helper()
	var list struct{ Items []tagJSON }
	e.do(t, http.MethodGet, pt.financePath("/tags"), u.Token, nil).want(t, http.StatusOK).decode(t, &list)
	got := map[string]int{}
	for i, tg := range list.Items {
		if i > 0 && list.Items[i-1].Name >= tg.Name {
			t.Errorf("tags not sorted by name: %+v", list.Items)
		}
		if tg.LastUsedAt.IsZero() {
			t.Errorf("tag %q without last_used_at", tg.Name)
		}
		got[tg.Name] = tg.RecordCount
	}
	return got
}

func TestFinanceTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Tagged")
	other := e.newProjectTeam(t, "Tag rival")
	cat := e.createCategory(t, pt, "income", "Sales")
	withTags := func(tags ...string) map[string]any {
		b := recordBody("income", "10.00", "EUR", cat.ID, "2030-01-01")
		b["tags"] = tags
		return b
	}
	r1 := e.createRecord(t, pt, withTags("shop", "promo"))
	r2 := e.createRecord(t, pt, withTags("shpo"))
	r3 := e.createRecord(t, pt, withTags("shop", "shpo"))
	e.createRecord(t, pt, withTags("promo"))
	gone := e.createRecord(t, pt, withTags("shpo", "old"))
	e.do(t, http.MethodDelete, pt.financePath("/records/"+gone.ID), pt.Owner.Token, nil).want(t, http.StatusNoContent)
	// The rival project's ledger uses the same names: never counted, never touched here.
	rivalCat := e.createCategory(t, other, "income", "Sales")
	rb := recordBody("income", "1.00", "EUR", rivalCat.ID, "2030-01-01")
	rb["tags"] = []string{"shpo", "promo"}
	e.createRecord(t, other, rb)

	// Finance READ lists (a project VIEWER); live records only.
	want := map[string]int{"promo": 2, "shop": 2, "shpo": 2}
	if got := e.tagCounts(t, pt, pt.Member); !mapsEqual(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}

	path := pt.financePath("/tags")
	before := e.snapshot(t)
	// Wrong role: READ may not rename or delete; no finance level at all may not list.
	wantProblem(t, e.do(t, http.MethodPost, path+"/rename", pt.Member.Token, map[string]any{"from": "shpo", "to": "shop"}), api.ProblemForbidden)
	wantProblem(t, e.do(t, http.MethodDelete, path+"/promo", pt.Member.Token, nil), api.ProblemForbidden)
	// Cross-tenant and outside the project: 404, never a hint.
	wantProblem(t, e.do(t, http.MethodGet, path, other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, path, pt.Outsider.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodGet, "/v1/orgs/"+other.Org.ID+"/projects/"+pt.Project.ID+"/tags", other.Owner.Token, nil), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+other.Org.ID+"/projects/"+pt.Project.ID+"/tags/rename", other.Owner.Token,
		map[string]any{"from": "shpo", "to": "x"}), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodDelete, "/v1/orgs/"+other.Org.ID+"/projects/"+pt.Project.ID+"/tags/promo", other.Owner.Token, nil), api.ProblemNotFound)
	// Bad input names the field; a tag nobody carries is 404.
	wantProblem(t, e.do(t, http.MethodPost, path+"/rename", pt.Owner.Token, map[string]any{"from": "shpo", "to": "Shop!"}), api.ProblemValidation, "to")
	wantProblem(t, e.do(t, http.MethodPost, path+"/rename", pt.Owner.Token, map[string]any{"from": "shpo", "to": "shpo"}), api.ProblemValidation, "to")
	wantProblem(t, e.do(t, http.MethodPost, path+"/rename", pt.Owner.Token, map[string]any{"to": "x"}), api.ProblemValidation, "from")
	wantProblem(t, e.do(t, http.MethodDelete, path+"/BAD", pt.Owner.Token, nil), api.ProblemValidation, "name")
	wantProblem(t, e.do(t, http.MethodPost, path+"/rename", pt.Owner.Token, map[string]any{"from": "nowhere", "to": "x"}), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodDelete, path+"/nowhere", pt.Owner.Token, nil), api.ProblemNotFound)
	e.unchanged(t, before, "refused tag requests")

	// Rename shpo → shop: merges (r3 carried both), soft-deleted records included.
	auditBefore := e.count(t, `select count(*) from app.audit_log where org_id = $1`, pt.Org.ID)
	var renamed struct {
		From, To    string
		RecordCount int `json:"record_count"`
	}
	e.do(t, http.MethodPost, path+"/rename", pt.PAdmin.Token, map[string]any{"from": "shpo", "to": "shop"},
		withHeader(api.RequestIDHeader, "req-tag-rename")).want(t, http.StatusOK).decode(t, &renamed)
	if renamed.From != "shpo" || renamed.To != "shop" || renamed.RecordCount != 3 {
		t.Errorf("rename = %+v, want 3 records", renamed)
	}
	want = map[string]int{"promo": 2, "shop": 3}
	if got := e.tagCounts(t, pt, pt.Owner); !mapsEqual(got, want) {
		t.Errorf("after rename, tags = %v, want %v", got, want)
	}
	for id, tags := range map[string][]string{r1.ID: {"shop", "promo"}, r2.ID: {"shop"}, r3.ID: {"shop"}} {
		var rec record
		e.do(t, http.MethodGet, pt.financePath("/records/"+id), pt.Owner.Token, nil).want(t, http.StatusOK).decode(t, &rec)
		if !slices.Equal(rec.Tags, tags) {
			t.Errorf("record %s tags = %v, want %v", id, rec.Tags, tags)
		}
	}
	if n := e.count(t, `select count(*) from app.financial_records where id = $1 and tags = '{shop,old}'`, gone.ID); n != 1 {
		t.Errorf("the soft-deleted record was not renamed too")
	}
	// The rival project keeps its own shpo.
	if got := e.tagCounts(t, other, other.Owner); got["shpo"] != 1 || got["promo"] != 1 {
		t.Errorf("rival tags = %v", got)
	}
	// Audited once for the operation, not once per record.
	if n := e.count(t, `select count(*) from app.audit_log where org_id = $1`, pt.Org.ID); n != auditBefore+1 {
		t.Errorf("audit entries after a rename of 3 records: %d new, want 1", n-auditBefore)
	}
	pg := e.auditPage(t, pt.Owner, pt.Org.ID, "limit=1")
	if len(pg.Items) != 1 || pg.Items[0].RequestID == nil || *pg.Items[0].RequestID != "req-tag-rename" ||
		pg.Items[0].ActorUserID == nil || *pg.Items[0].ActorUserID != pt.PAdmin.ID || pg.Items[0].RowID != nil ||
		pg.Items[0].Table != "app.financial_records" || pg.Items[0].New["records"] != float64(3) {
		t.Errorf("the rename's audit entry = %+v", pg.Items)
	}

	// Delete promo: gone from every record and the list, one entry.
	var removed struct {
		Name        string
		RecordCount int `json:"record_count"`
	}
	e.do(t, http.MethodDelete, path+"/promo", pt.POwner.Token, nil).want(t, http.StatusOK).decode(t, &removed)
	if removed.Name != "promo" || removed.RecordCount != 2 {
		t.Errorf("delete = %+v", removed)
	}
	want = map[string]int{"shop": 3}
	if got := e.tagCounts(t, pt, pt.Owner); !mapsEqual(got, want) {
		t.Errorf("after delete, tags = %v, want %v", got, want)
	}
	if n := e.count(t, `select count(*) from app.audit_log where org_id = $1`, pt.Org.ID); n != auditBefore+2 {
		t.Errorf("audit entries after a rename and a delete: %d new, want 2", n-auditBefore)
	}
	// A record's own edit of its tags is still audited row by row.
	e.do(t, http.MethodPatch, pt.financePath("/records/"+r2.ID), pt.Owner.Token, map[string]any{"tags": []string{"fresh"}}).
		want(t, http.StatusOK)
	if n := e.count(t, `select count(*) from app.audit_log where org_id = $1 and row_id = $2 and action = 'UPDATE'`, pt.Org.ID, r2.ID); n != 1 {
		t.Errorf("a PATCH of one record's tags left %d row entries, want 1", n)
	}
	// Restoring the soft-deleted record counts its (renamed) tags again.
	e.do(t, http.MethodPost, pt.financePath("/records/"+gone.ID+"/restore"), pt.Owner.Token, nil).want(t, http.StatusOK)
	want = map[string]int{"fresh": 1, "old": 1, "shop": 3}
	if got := e.tagCounts(t, pt, pt.Owner); !mapsEqual(got, want) {
		t.Errorf("after restore, tags = %v, want %v", got, want)
	}
	// The rollup equals the ledger.
	if n := e.count(t, `select count(*) from (
	    select tag, count(*) from app.financial_records, unnest(tags) tag where project_id = $1 and deleted_at is null group by tag
	    except select tag, record_count from app.finance_tag_totals where project_id = $1) x`, pt.Project.ID); n != 0 {
		t.Errorf("the tag rollup differs from the ledger in %d tags", n)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
