package policyreport_test

import (
	"slices"
	"testing"

	"github.com/rowguard/rowguard/internal/policyreport"
)

// An actor probed on one side only is one change saying so, not one "now allowed" per
// cell it reaches; a cell that changed for an actor probed on both sides still is.
func TestDiffOfANewActorIsOneChange(t *testing.T) {
	whoCan := func(actors []policyreport.ActorLabel, allowed []string, levels []policyreport.Levels) *policyreport.Report {
		return &policyreport.Report{WhoCan: &policyreport.WhoCan{
			Actors: actors,
			Tables: []policyreport.WhoCanTable{{Table: "app.projects", Commands: []policyreport.WhoCanCommand{
				{Command: "SELECT", Targets: []policyreport.TargetResult{{Target: "Apollo", Allowed: allowed}}},
				{Command: "UPDATE", Targets: []policyreport.TargetResult{{Target: "Apollo", Allowed: []string{}}}},
			}}},
			Levels: levels,
		}}
	}
	viewer := policyreport.ActorLabel{Name: "viewer", Label: "project VIEWER"}
	lowered := policyreport.ActorLabel{Name: "viewer_domains_none", Label: "project VIEWER with finance and analytics NONE"}
	old := whoCan([]policyreport.ActorLabel{viewer}, []string{}, []policyreport.Levels{{Actor: "viewer", Role: "VIEWER", Finance: "READ", Analytics: "READ"}})
	new := whoCan([]policyreport.ActorLabel{viewer, lowered}, []string{"viewer", "viewer_domains_none"}, []policyreport.Levels{
		{Actor: "viewer", Role: "VIEWER", Finance: "READ", Analytics: "READ"},
		{Actor: "viewer_domains_none", Role: "VIEWER", Finance: "NONE", Analytics: "NONE"},
	})
	words := func(d *policyreport.Diff) []string {
		var out []string
		for _, c := range d.Changes {
			out = append(out, c.Kind+": "+c.Words)
		}
		return out
	}

	got := words(policyreport.Compare("old", old, "new", new))
	want := []string{
		"who-can: project VIEWER with finance and analytics NONE: newly probed actor (role VIEWER, finance NONE, analytics NONE), allowed 1 of 2 targets",
		"who-can: project VIEWER: SELECT on app.projects: Apollo: now allowed",
	}
	if !slices.Equal(got, want) {
		t.Errorf("old → new:\n%q\nwant\n%q", got, want)
	}
	got = words(policyreport.Compare("new", new, "old", old))
	want = []string{
		"who-can: project VIEWER with finance and analytics NONE: no longer probed (was allowed 1 of 2 targets)",
		"who-can: project VIEWER: SELECT on app.projects: Apollo: now refused",
	}
	if !slices.Equal(got, want) {
		t.Errorf("new → old:\n%q\nwant\n%q", got, want)
	}
}
