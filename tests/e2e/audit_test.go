package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

type auditEntry struct {
	ID             string         `json:"id"`
	OrgID          string         `json:"org_id"`
	Table          string         `json:"table"`
	RowID          *string        `json:"row_id"`
	Action         string         `json:"action"`
	ActorUserID    *string        `json:"actor_user_id"`
	ActorSessionID *string        `json:"actor_session_id"`
	RequestID      *string        `json:"request_id"`
	TraceID        *string        `json:"trace_id"`
	Old            map[string]any `json:"old"`
	New            map[string]any `json:"new"`
	ChangedAt      time.Time      `json:"changed_at"`
}

// auditPage lists the audit entries of orgID as u with query (already encoded).
func (e *env) auditPage(t *testing.T, u user, orgID, query string) page[auditEntry] {
	t.Helper()
	var pg page[auditEntry]
	e.do(t, "GET", "/v1/orgs/"+orgID+"/audit?"+query, u.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	return pg
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Audit Acme")
	b := e.newTenant(t, "Audit Globex")
	base := "/v1/orgs/" + a.Org.ID

	// A create, a rename and a delete, each with its own request id.
	start := time.Now().Add(-time.Second)
	var p project
	e.do(t, "POST", base+"/projects", a.Admin.Token, map[string]any{"name": "Traced", "description": "v1"},
		withHeader(api.RequestIDHeader, "req-audit-create")).want(t, http.StatusCreated).decode(t, &p)
	e.do(t, "PATCH", base+"/projects/"+p.ID, a.Owner.Token, map[string]any{"description": "v2"},
		withHeader(api.RequestIDHeader, "req-audit-update")).want(t, http.StatusOK)
	e.do(t, "DELETE", base+"/projects/"+p.ID, a.Owner.Token, nil,
		withHeader(api.RequestIDHeader, "req-audit-delete")).want(t, http.StatusNoContent)

	pg := e.auditPage(t, a.Owner, a.Org.ID, "row_id="+p.ID)
	if len(pg.Items) != 3 || pg.NextCursor != nil {
		t.Fatalf("row_id filter: %d entries, want 3 (insert, update, delete): %+v", len(pg.Items), pg.Items)
	}
	del, upd, ins := pg.Items[0], pg.Items[1], pg.Items[2] // newest first
	for _, c := range []struct {
		got                           auditEntry
		action, actor, session, reqID string
	}{
		{ins, "INSERT", a.Admin.ID, a.Admin.SessionID, "req-audit-create"},
		{upd, "UPDATE", a.Owner.ID, a.Owner.SessionID, "req-audit-update"},
		{del, "DELETE", a.Owner.ID, a.Owner.SessionID, "req-audit-delete"},
	} {
		g := c.got
		if g.Action != c.action || g.Table != "app.projects" || g.OrgID != a.Org.ID ||
			g.ActorUserID == nil || *g.ActorUserID != c.actor ||
			g.ActorSessionID == nil || *g.ActorSessionID != c.session ||
			g.RequestID == nil || *g.RequestID != c.reqID {
			t.Errorf("%s entry: %+v", c.action, g)
		}
	}
	if ins.Old != nil || ins.New["name"] != "Traced" || ins.New["description"] != "v1" {
		t.Errorf("INSERT before/after: %v / %v", ins.Old, ins.New)
	}
	if upd.Old["description"] != "v1" || upd.New["description"] != "v2" || upd.New["name"] != nil {
		t.Errorf("UPDATE must hold only the changed columns: %v / %v", upd.Old, upd.New)
	}
	if del.New != nil || del.Old["description"] != "v2" {
		t.Errorf("DELETE before/after: %v / %v", del.Old, del.New)
	}

	// Filters combine; the cursor walks every entry exactly once.
	if got := e.auditPage(t, a.Owner, a.Org.ID, "table=projects&action=update&actor="+a.Owner.ID); len(got.Items) != 1 || got.Items[0].ID != upd.ID {
		t.Errorf("table+action+actor: %+v", got.Items)
	}
	if got := e.auditPage(t, a.Owner, a.Org.ID, "table=app.projects&action=DELETE"); len(got.Items) != 1 || got.Items[0].ID != del.ID {
		t.Errorf("table+action: %+v", got.Items)
	}
	if got := e.auditPage(t, a.Owner, a.Org.ID, "until="+url.QueryEscape(start.Format(time.RFC3339Nano))+"&row_id="+p.ID); len(got.Items) != 0 {
		t.Errorf("until before the changes: %+v", got.Items)
	}
	if got := e.auditPage(t, a.Owner, a.Org.ID, "since="+url.QueryEscape(start.Format(time.RFC3339Nano))+"&row_id="+p.ID); len(got.Items) != 3 {
		t.Errorf("since before the changes: %d entries", len(got.Items))
	}
	all := e.auditPage(t, a.Owner, a.Org.ID, "limit=100")
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		q := "limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		pg := e.auditPage(t, a.Admin, a.Org.ID, q)
		for _, it := range pg.Items {
			if seen[it.ID] || it.OrgID != a.Org.ID {
				t.Errorf("page %d: repeated or foreign entry %+v", pages, it)
			}
			seen[it.ID] = true
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = *pg.NextCursor
	}
	if len(seen) != len(all.Items) || len(seen) < 7 {
		t.Errorf("paging saw %d entries, one page of 100 has %d (want >= 7: org, 3 memberships, 2 projects, update, delete)", len(seen), len(all.Items))
	}

	// Sign-up, before any session exists, is traced by its request id too.
	founding := e.auditPage(t, a.Owner, a.Org.ID, "table=organizations&action=INSERT")
	if len(founding.Items) != 1 || founding.Items[0].RequestID == nil || founding.Items[0].ActorUserID == nil ||
		*founding.Items[0].ActorUserID != a.Owner.ID {
		t.Errorf("the founding of the organization: %+v", founding.Items)
	}

	// Who may read: OWNER and ADMIN; a MEMBER is refused; another tenant's id is a 404.
	wantProblem(t, e.do(t, "GET", base+"/audit", a.Member.Token, nil), api.ProblemForbidden)
	r := e.do(t, "GET", base+"/audit", b.Owner.Token, nil)
	wantProblem(t, r, api.ProblemNotFound)
	noLeak(t, r, a.secrets()...)
	for _, it := range e.auditPage(t, b.Owner, b.Org.ID, "limit=100").Items {
		if it.OrgID != b.Org.ID {
			t.Errorf("org B's trail holds %+v", it)
		}
	}

	// Bad filters name the parameter and change nothing.
	before := e.snapshot(t)
	for q, field := range map[string]string{
		"table=Projects%3Bdrop": "table", "table=%27%3B%20drop%20table%20x": "table", "action=TRUNCATE": "action", "actor=alice": "actor",
		"since=yesterday": "since", "until=2024-13-01T00:00:00Z": "until", "row_id=": "row_id",
		"limit=0": "limit", "cursor=x": "cursor", "action=INSERT&action=DELETE": "action",
	} {
		wantProblem(t, e.do(t, "GET", base+"/audit?"+q, a.Owner.Token, nil), api.ProblemValidation, field)
	}
	e.unchanged(t, before, "bad audit filters")
}
