package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rowguard/rowguard/api"
)

type booking struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	ServiceID string    `json:"service_id"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Customer  struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"customer"`
	Notes        *string `json:"notes"`
	Status       string  `json:"status"`
	CancelReason *string `json:"cancel_reason"`
	CreatedBy    *string `json:"created_by"`
}

// slot is a fixed future time, offset by hours so tests do not collide.
func slot(hours int) time.Time {
	return time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC).Add(time.Duration(hours) * time.Hour)
}

func bookingBody(serviceID string, at time.Time, email string) map[string]any {
	return map[string]any{
		"service_id": serviceID, "starts_at": at.Format(time.RFC3339),
		"customer": map[string]any{"name": "Customer " + email, "email": email},
	}
}

func (e *env) book(t testing.TB, u user, orgID, serviceID string, at time.Time, email string) booking {
	t.Helper()
	var b booking
	e.do(t, http.MethodPost, "/v1/orgs/"+orgID+"/bookings", u.Token, bookingBody(serviceID, at, email)).
		want(t, http.StatusCreated).decode(t, &b)
	return b
}

func TestBookingLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Clinic")
	svc := e.createService(t, a.Owner, a.Org.ID, "Checkup", 30, 1)
	base := "/v1/orgs/" + a.Org.ID + "/bookings"

	b := e.book(t, a.Member, a.Org.ID, svc.ID, slot(0), "pat@example.com")
	if b.Status != "pending" || !b.EndsAt.Equal(slot(0).Add(30*time.Minute)) || b.CreatedBy == nil || *b.CreatedBy != a.Member.ID {
		t.Errorf("new booking = %+v", b)
	}
	status := func(u user, id, to string) *response {
		return e.do(t, http.MethodPatch, base+"/"+id+"/status", u.Token, map[string]any{"status": to})
	}

	// A MEMBER creates and reads, but does not confirm.
	wantProblem(t, status(a.Member, b.ID, "confirmed"), api.ProblemForbidden)
	var got booking
	status(a.Admin, b.ID, "confirmed").want(t, http.StatusOK).decode(t, &got)
	if got.Status != "confirmed" {
		t.Errorf("after confirm: %s", got.Status)
	}
	// Illegal transitions → 409, status unchanged. (Asking for the current status is a no-op.)
	wantProblem(t, status(a.Owner, b.ID, "pending"), api.ProblemConflict)
	status(a.Owner, b.ID, "confirmed").want(t, http.StatusOK)
	status(a.Owner, b.ID, "completed").want(t, http.StatusOK)
	for _, to := range []string{"cancelled", "no_show", "confirmed"} {
		wantProblem(t, status(a.Owner, b.ID, to), api.ProblemConflict)
	}
	wantProblem(t, e.do(t, http.MethodPost, base+"/"+b.ID+"/cancel", a.Owner.Token, map[string]any{}), api.ProblemConflict)
	e.do(t, http.MethodGet, base+"/"+b.ID, a.Member.Token, nil).want(t, http.StatusOK).decode(t, &got)
	if got.Status != "completed" {
		t.Errorf("after refused transitions: %s", got.Status)
	}

	// The member cancels their own booking, not someone else's.
	own := e.book(t, a.Member, a.Org.ID, svc.ID, slot(1), "own@example.com")
	other := e.book(t, a.Admin, a.Org.ID, svc.ID, slot(2), "other@example.com")
	wantProblem(t, e.do(t, http.MethodPost, base+"/"+other.ID+"/cancel", a.Member.Token, map[string]any{"reason": "no"}), api.ProblemForbidden)
	e.do(t, http.MethodPost, base+"/"+own.ID+"/cancel", a.Member.Token, map[string]any{"reason": "ill"}).want(t, http.StatusOK).decode(t, &got)
	if got.Status != "cancelled" || got.CancelReason == nil || *got.CancelReason != "ill" {
		t.Errorf("own cancel: %+v", got)
	}
	// A cancelled booking frees its slot.
	e.book(t, a.Member, a.Org.ID, svc.ID, slot(1), "next@example.com")
	status(a.Admin, other.ID, "no_show").want(t, http.StatusOK)

	// Filters and pages.
	var pg page[booking]
	e.do(t, http.MethodGet, base+"?status=cancelled", a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != own.ID {
		t.Errorf("status=cancelled: %+v", pg.Items)
	}
	e.do(t, http.MethodGet, base+"?customer_email=OTHER@example.com&service_id="+svc.ID, a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].ID != other.ID {
		t.Errorf("customer_email: %+v", pg.Items)
	}
	e.do(t, http.MethodGet, base+"?from="+slot(1).Format(time.RFC3339)+"&to="+slot(2).Format(time.RFC3339), a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 2 {
		t.Errorf("from/to: %d items, want the two bookings at slot 1", len(pg.Items))
	}
	seen := map[string]bool{}
	cursor := ""
	for i := 0; i < 10; i++ {
		e.do(t, http.MethodGet, base+"?limit=2"+cursor, a.Member.Token, nil).want(t, http.StatusOK).decode(t, &pg)
		for _, it := range pg.Items {
			seen[it.ID] = true
		}
		if pg.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *pg.NextCursor
	}
	if len(seen) != 4 {
		t.Errorf("paging saw %d bookings, want 4", len(seen))
	}
	wantProblem(t, e.do(t, http.MethodGet, base+"?status=lost&from=yesterday&service_id=1", a.Member.Token, nil),
		api.ProblemValidation, "status", "from", "service_id")

	// A service with bookings stays (409); the organization, once purged, goes with all of them.
	wantProblem(t, e.do(t, http.MethodDelete, "/v1/orgs/"+a.Org.ID+"/services/"+svc.ID, a.Owner.Token, nil), api.ProblemConflict)
	e.deleteOrganization(t, a.Owner, a.Org.ID)
	e.purgeOrganization(t, a.Org.ID)
	if n := e.count(t, `select count(*) from app.bookings where org_id = $1`, a.Org.ID); n != 0 {
		t.Errorf("%d bookings outlive their organization", n)
	}
}

func TestBookingInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Input")
	svc := e.createService(t, a.Owner, a.Org.ID, "Massage", 60, 1)
	base := "/v1/orgs/" + a.Org.ID + "/bookings"
	e.do(t, http.MethodPatch, "/v1/orgs/"+a.Org.ID+"/services/"+svc.ID, a.Owner.Token, map[string]any{"active": false}).want(t, http.StatusOK)
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPost, base, a.Member.Token, bookingBody(svc.ID, slot(0), "x@example.com")), api.ProblemValidation, "service_id")
	wantProblem(t, e.do(t, http.MethodPost, base, a.Member.Token, bookingBody(a.Project.ID, slot(0), "x@example.com")), api.ProblemValidation, "service_id")
	wantProblem(t, e.do(t, http.MethodPost, base, a.Member.Token, map[string]any{
		"service_id": svc.ID, "starts_at": "tomorrow", "customer": map[string]any{"email": "nope"}}), api.ProblemValidation, "starts_at", "customer")
	wantProblem(t, e.do(t, http.MethodPost, base, a.Member.Token, map[string]any{}), api.ProblemValidation, "service_id", "starts_at", "customer")
	wantProblem(t, e.do(t, http.MethodPatch, base+"/"+svc.ID+"/status", a.Owner.Token, map[string]any{"status": "done"}), api.ProblemValidation, "status")
	e.unchanged(t, before, "invalid bookings")
}

func TestBookingCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.newTenant(t, "Alpha"), e.newTenant(t, "Beta")
	sb := e.createService(t, b.Owner, b.Org.ID, "Beta service", 60, 1)
	bb := e.book(t, b.Member, b.Org.ID, sb.ID, slot(0), "beta-customer@example.com")
	before := e.snapshot(t)
	// A names B's service in its own org: the composite foreign key and RLS both refuse.
	wantProblem(t, e.do(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/bookings", a.Owner.Token, bookingBody(sb.ID, slot(0), "x@example.com")),
		api.ProblemValidation, "service_id")
	for _, org := range []string{a.Org.ID, b.Org.ID} {
		p := "/v1/orgs/" + org + "/bookings/" + bb.ID
		r := e.do(t, http.MethodGet, p, a.Owner.Token, nil)
		wantProblem(t, r, api.ProblemNotFound)
		noLeak(t, r, "beta-customer@example.com")
		wantProblem(t, e.do(t, http.MethodPatch, p+"/status", a.Owner.Token, map[string]any{"status": "confirmed"}), api.ProblemNotFound)
		wantProblem(t, e.do(t, http.MethodPost, p+"/cancel", a.Owner.Token, map[string]any{}), api.ProblemNotFound)
	}
	var pg page[booking]
	e.do(t, http.MethodGet, "/v1/orgs/"+a.Org.ID+"/bookings?customer_email=beta-customer@example.com", a.Owner.Token, nil).
		want(t, http.StatusOK).decode(t, &pg)
	if len(pg.Items) != 0 {
		t.Errorf("A lists B's bookings")
	}
	e.unchanged(t, before, "cross-tenant booking requests")
}

// TestBookingNeverOverbooks fires many bookings for one slot at once: the database
// admits exactly the service's capacity and refuses the rest with 409.
func TestBookingNeverOverbooks(t *testing.T) {
	t.Parallel()
	// Enough connections that the attempts really run side by side in Postgres.
	e := newEnv(t, withMaxConns(40))
	a := e.newTenant(t, "Busy")
	const capacity, attempts = 3, 40
	svc := e.createService(t, a.Owner, a.Org.ID, "Group class", 60, capacity)
	users := []user{a.Owner, a.Admin, a.Member}

	reqs := make([]*http.Request, attempts)
	for i := range reqs {
		// Half aim at the slot itself, half at a time overlapping it by 30 minutes.
		at := slot(0)
		if i%2 == 1 {
			at = at.Add(30 * time.Minute)
		}
		reqs[i] = e.newRequest(t, http.MethodPost, "/v1/orgs/"+a.Org.ID+"/bookings", users[i%3].Token,
			bookingBody(svc.ID, at, fmt.Sprintf("c%d@example.com", i)))
	}
	wantAdmitted(t, e.fireTogether(t, reqs), http.StatusConflict, capacity)
	if n := e.count(t, `select count(*) from app.bookings where service_id = $1`, svc.ID); n != capacity {
		t.Errorf("%d bookings in the database, capacity %d", n, capacity)
	}
	// A slot that does not overlap is still free.
	e.book(t, a.Member, a.Org.ID, svc.ID, slot(2), "later@example.com")
}

// validBodies are well-formed bodies for routes whose body is checked before the
// database authenticates the session (TestUnauthenticated must reach that check).
var validBodies = map[string]any{
	"POST /v1/orgs/{org_id}/services":                               map[string]any{"name": "Intruder", "duration_minutes": 10, "price": "1", "currency": "EUR"},
	"POST /v1/orgs/{org_id}/bookings":                               bookingBody("01a2081b-c1dc-7622-a92d-91e6db938af5", slot(0), "intruder@example.com"),
	"PATCH /v1/orgs/{org_id}/bookings/{booking_id}/status":          map[string]any{"status": "cancelled"},
	"POST /v1/orgs/{org_id}/bookings/{booking_id}/cancel":           map[string]any{},
	"POST /v1/orgs/{org_id}/billing/checkout":                       map[string]any{"plan": "pro"},
	"POST /v1/admin/tenants/{tenant_id}/plan":                       map[string]any{"plan": "pro"},
	"POST /v1/admin/tenants/{tenant_id}/suspend":                    map[string]any{"reason": "test"},
	"PATCH /v1/orgs/{org_id}/members/{user_id}":                     map[string]any{"role": "MEMBER"},
	"PUT /v1/orgs/{org_id}/projects/{project_id}/members/{user_id}": map[string]any{"role": "VIEWER"},
	"POST /v1/orgs/{org_id}/invitations":                            map[string]any{"email": "intruder@example.com", "role": "MEMBER"},
	"POST /v1/invitations/accept":                                   map[string]any{"token": "intruder"},
	"POST /v1/invitations/decline":                                  map[string]any{"token": "intruder"},
}

// fireTogether sends every request at the same moment, each on its own goroutine, and
// counts the answers by status.
func (e *env) fireTogether(t testing.TB, reqs []*http.Request) map[int]int {
	t.Helper()
	statuses := make([]int, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := e.send(req)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.Status
		}()
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	return counts
}

// wantAdmitted fails t unless exactly admitted requests got 201 and all others refused.
func wantAdmitted(t testing.TB, counts map[int]int, refused, admitted int) {
	t.Helper()
	total := 0
	for _, n := range counts {
		total += n
	}
	if counts[http.StatusCreated] != admitted || counts[refused] != total-admitted {
		t.Errorf("answers by status %v; want %d × 201 and %d × %d", counts, admitted, total-admitted, refused)
	}
}
