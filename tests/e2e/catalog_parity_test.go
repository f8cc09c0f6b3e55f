package e2e

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// The API's copies of what the database owns (api/catalog.go) agree with the migrated
// catalog: a migration that adds an enum label, moves a CHECK bound or adds a plan
// fails here until the Go copy follows.
func TestGoCopiesMatchTheCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	for _, c := range api.EnumCopies() {
		var labels []string
		if err := e.admin.QueryRow(ctx, `select array_agg(e.enumlabel::text order by e.enumsortorder)
			from pg_enum e where e.enumtypid = $1::regtype`, c.Type).Scan(&labels); err != nil {
			t.Errorf("%s: %v", c.Type, err)
			continue
		}
		if !sameSet(labels, c.Labels) {
			t.Errorf("%s: the database has %v, the Go copy %v", c.Type, labels, c.Labels)
		}
	}

	// pg_get_constraintdef renders both "<= N" and "between M and N" as "... <= N".
	upper := regexp.MustCompile(`<= (\d+)\)`)
	for _, b := range api.BoundCopies() {
		var def string
		if err := e.admin.QueryRow(ctx, `select pg_get_constraintdef(c.oid) from pg_constraint c
			where c.conrelid = $1::regclass and c.conname = $2 and c.contype = 'c'`, b.Table, b.Constraint).Scan(&def); err != nil {
			t.Errorf("%s.%s: %v", b.Table, b.Constraint, err)
			continue
		}
		m := upper.FindAllStringSubmatch(def, -1)
		if len(m) != 1 {
			t.Errorf("%s.%s: want one upper bound in %q", b.Table, b.Constraint, def)
			continue
		}
		if n, _ := strconv.Atoi(m[0][1]); n != b.Max {
			t.Errorf("%s.%s: the database allows up to %d, the Go copy %d", b.Table, b.Constraint, n, b.Max)
		}
	}

	var plans []string
	if err := e.admin.QueryRow(ctx, `select array_agg(code order by code) from platform.plans`).Scan(&plans); err != nil {
		t.Fatal(err)
	}
	if !sameSet(plans, api.PlanCodes) {
		t.Errorf("platform.plans has %v, api.PlanCodes %v", plans, api.PlanCodes)
	}

	// An invitation's status is computed from its timestamps: every combination of
	// absent, past and future for each of the four gives every value it can return.
	var statuses []string
	if err := e.admin.QueryRow(ctx, `with t(v) as (values (null::timestamptz), (now() - interval '1 day'), (now() + interval '1 day'))
		select array_agg(distinct app.invitation_status(e.v, a.v, d.v, r.v))
		  from t e, t a, t d, t r`).Scan(&statuses); err != nil {
		t.Fatal(err)
	}
	if !sameSet(statuses, api.InvitationStatuses) {
		t.Errorf("app.invitation_status returns %v, api.InvitationStatuses %v", statuses, api.InvitationStatuses)
	}

	// The tag rule is a function, not a bound: hold MaxTagsPerRecord to what it accepts.
	tags := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "t" + strconv.Itoa(i)
		}
		return out
	}
	var atMax, overMax bool
	if err := e.admin.QueryRow(ctx, `select app.tags_valid($1), app.tags_valid($2)`,
		tags(api.MaxTagsPerRecord), tags(api.MaxTagsPerRecord+1)).Scan(&atMax, &overMax); err != nil {
		t.Fatal(err)
	}
	if !atMax || overMax {
		t.Errorf("app.tags_valid: %d tags %v, %d tags %v; want the Go limit %d to be the database's",
			api.MaxTagsPerRecord, atMax, api.MaxTagsPerRecord+1, overMax, api.MaxTagsPerRecord)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
