package e2e

import (
	"net/http"

	"github.com/rowguard/rowguard/api"
	"testing"
)

// A soft-deleted organization is gone for everyone at once (step-up, migration 020):
// its pending invitations are neither listed nor accepted, so nobody joins an
// organization its OWNER deleted. Restored within its 30 days, they work again.
func TestDeletedOrganizationInvitesNobody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.newTenant(t, "Deleted Inviter")
	invitee, _ := e.register(t, "deleted-org-invitee", "")
	inv := e.invite(t, tn.Owner, tn.Org.ID, map[string]any{"email": invitee.Email, "role": "MEMBER",
		"projects": []map[string]any{{"project_id": tn.Project.ID, "role": "VIEWER"}}})
	token := e.mailedInvitationToken(t, invitee.Email)

	listed := func() int {
		var mine page[invitation]
		e.do(t, http.MethodGet, "/v1/invitations", invitee.Token, nil).want(t, http.StatusOK).decode(t, &mine)
		n := 0
		for _, i := range mine.Items {
			if i.ID == inv.ID {
				n++
			}
		}
		return n
	}
	if listed() != 1 {
		t.Fatal("the live organization's invitation is not listed")
	}

	e.deleteOrganization(t, tn.Owner, tn.Org.ID)
	if listed() != 0 {
		t.Error("a deleted organization's invitation is still listed")
	}
	before := e.snapshot(t)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/invitations/accept", invitee.Token, map[string]any{"token": token}), api.ProblemNotFound)
	wantProblem(t, e.do(t, http.MethodPost, "/v1/invitations/decline", invitee.Token, map[string]any{"token": token}), api.ProblemNotFound)
	e.unchanged(t, before, "accepting or declining an invitation to a deleted organization")
	if e.roleOf(t, tn.Org.ID, invitee.ID) != "" {
		t.Fatal("the invitee joined a deleted organization")
	}

	// Restored, the organization's pending invitation stands again.
	e.do(t, http.MethodPost, "/v1/orgs/"+tn.Org.ID+"/restore", tn.Owner.Token, nil).want(t, http.StatusOK)
	if listed() != 1 {
		t.Error("the restored organization's invitation is not listed")
	}
	e.do(t, http.MethodPost, "/v1/invitations/accept", invitee.Token, map[string]any{"token": token}).want(t, http.StatusOK)
	if e.roleOf(t, tn.Org.ID, invitee.ID) != "MEMBER" {
		t.Error("the invitee did not join the restored organization")
	}
}
