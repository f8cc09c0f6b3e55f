package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rowguard/rowguard/api"
)

// Issue 12, attack 2: an attacker who owns an organization invites victim@x, takes the
// token from the API answer, accepts it with an account squatting victim@x, and the
// address counts as verified: GET /v1/invitations then lists the victim's invitations
// from other organizations. Now the token goes by email only; an unverified account
// neither lists invitations nor accepts a token anyone else saw; and the mailbox's
// owner, with the mailed token, proves the address (first proof wins).
func TestAttackInvitationVerifiesASquattedAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	attacker := e.newTenant(t, "Attacker Ltd")
	employer := e.newTenant(t, "Victim Employer")
	victim := e.newEmail("victim")
	// The victim's employer invites them; only the victim may ever see it.
	e.invite(t, employer.Owner, employer.Org.ID, map[string]any{"email": victim, "role": "ADMIN",
		"projects": []map[string]any{{"project_id": employer.Project.ID, "role": "ADMIN"}}})
	// The squatter holds an account on the victim's address made before sign-up proved
	// the mailbox (migration 017): unverified.
	squatter, _ := e.register(t, "squatter", "")
	e.exec(t, `update auth.users set email = $2, email_verified_at = null where id = $1`, squatter.ID, victim)

	// The attacker's own invitation: the answer carries no token (it used to).
	r := e.do(t, "POST", "/v1/orgs/"+attacker.Org.ID+"/invitations", attacker.Owner.Token,
		map[string]any{"email": victim, "role": "MEMBER"}).want(t, http.StatusCreated)
	var inv invitation
	r.decode(t, &inv)
	mailed := e.mailedInvitationToken(t, victim)
	if inv.Token != "" || strings.Contains(string(r.Body), mailed) {
		t.Fatalf("the create answer holds the token: %s", r.Body)
	}
	r = e.do(t, "POST", "/v1/orgs/"+attacker.Org.ID+"/invitations/"+inv.ID+"/resend", attacker.Owner.Token, nil).want(t, http.StatusOK)
	mailed = e.mailedInvitationToken(t, victim)
	if strings.Contains(string(r.Body), mailed) || strings.Contains(string(r.Body), `"token"`) {
		t.Fatalf("the resend answer holds the token: %s", r.Body)
	}

	// The squatter's address is unproven: nothing addressed to it is listed.
	r = e.do(t, "GET", "/v1/invitations", squatter.Token, nil)
	wantProblem(t, r, api.ProblemEmailUnverified)
	noLeak(t, r, employer.secrets()...)

	// The mailbox's owner, signed in to the account another way (a second session),
	// accepts with the mailed token: that proves the address, and the squatter is out.
	var owner authResponse
	e.do(t, "POST", "/v1/auth/login", "", map[string]any{"email": victim, "password": squatter.Password}).
		want(t, http.StatusOK).decode(t, &owner)
	e.do(t, "POST", "/v1/invitations/accept", owner.AccessToken, map[string]any{"token": mailed}).want(t, http.StatusOK)
	if e.count(t, `select count(*) from auth.users where id = $1 and email_verified_at is not null and password_hash is null`, squatter.ID) != 1 {
		t.Error("accepting with the mailed token did not prove the address (verified, squatter's password wiped)")
	}
	wantUnauthorized(t, e.do(t, "GET", "/v1/auth/me", squatter.Token, nil))
	var mine page[invitation]
	e.do(t, "GET", "/v1/invitations", owner.AccessToken, nil).want(t, http.StatusOK).decode(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].OrgID != employer.Org.ID {
		t.Errorf("the proven owner's invitations: %+v", mine.Items)
	}
}

// The same attack where the development switch still puts tokens in answers: the
// invitation records the disclosure, and the squatter cannot use the token.
func TestAttackDisclosedInvitationTokenProvesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *api.Options) { o.InvitationTokensInResponses = true }))
	attacker := e.newTenant(t, "Attacker Ltd")
	employer := e.newTenant(t, "Victim Employer")
	victim := e.newEmail("victim")
	e.do(t, "POST", "/v1/orgs/"+employer.Org.ID+"/invitations", employer.Owner.Token,
		map[string]any{"email": victim, "role": "ADMIN"}).want(t, http.StatusCreated)
	squatter, _ := e.register(t, "squatter", "")
	e.exec(t, `update auth.users set email = $2, email_verified_at = null where id = $1`, squatter.ID, victim)

	var inv struct {
		invitation
		TokenDisclosedAt *string `json:"token_disclosed_at"`
	}
	e.do(t, "POST", "/v1/orgs/"+attacker.Org.ID+"/invitations", attacker.Owner.Token,
		map[string]any{"email": victim, "role": "MEMBER"}).want(t, http.StatusCreated).decode(t, &inv)
	if inv.Token == "" || inv.TokenDisclosedAt == nil {
		t.Fatalf("with the switch on, the answer holds the token and says it was disclosed: %+v", inv)
	}
	before := e.snapshot(t)
	p := wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", squatter.Token, map[string]any{"token": inv.Token}), api.ProblemEmailUnverified)
	if !strings.Contains(p.Detail, "verify your email") {
		t.Errorf("detail: %q", p.Detail)
	}
	e.unchanged(t, before, "the squatter accepting a disclosed token")
	r := e.do(t, "GET", "/v1/invitations", squatter.Token, nil)
	wantProblem(t, r, api.ProblemEmailUnverified)
	noLeak(t, r, employer.secrets()...)
	if e.roleOf(t, attacker.Org.ID, squatter.ID) != "" {
		t.Error("the squatter joined the attacker's organization")
	}
}

// Issue 12, attack 3: an org ADMIN may not invite a project OWNER, but resending an
// OWNER's invitation that grants project OWNER answered 200 with a fresh token. Now a
// resend is a new issue, checked against the resender's roles: 403, nothing changed,
// nothing mailed. A resend within the ADMIN's authority works, and signs the invitation.
func TestAttackResendEscalation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	invitations := "/v1/orgs/" + a.Org.ID + "/invitations"
	ownerGrant := map[string]any{"email": e.newEmail("future-owner"), "role": "MEMBER",
		"projects": []map[string]any{{"project_id": a.Project.ID, "role": "OWNER"}}}
	wantProblem(t, e.do(t, "POST", invitations, a.Admin.Token, ownerGrant), api.ProblemForbidden)
	inv := e.invite(t, a.Owner, a.Org.ID, ownerGrant)

	before := e.snapshot(t)
	r := e.do(t, "POST", invitations+"/"+inv.ID+"/resend", a.Admin.Token, nil)
	p := wantProblem(t, r, api.ProblemForbidden)
	if !strings.Contains(p.Detail, "grants more than you hold") {
		t.Errorf("detail: %q", p.Detail)
	}
	e.unchanged(t, before, "an ADMIN resending a project OWNER invitation")

	// The OWNER's token still works for the real invitee.
	invitee, _ := e.register(t, "future-owner-account", "")
	e.exec(t, `update auth.users set email = $2 where id = $1`, invitee.ID, inv.Email)
	var acc acceptedInvitation
	e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}).want(t, http.StatusOK).decode(t, &acc)
	if len(acc.Projects) != 1 || acc.Projects[0].Permissions.Role != "OWNER" {
		t.Errorf("accepted: %+v", acc)
	}

	// Within their authority, the ADMIN resends an OWNER's invitation, and stands behind it.
	mine := e.invite(t, a.Owner, a.Org.ID, map[string]any{"email": e.newEmail("analyst"), "role": "MEMBER",
		"projects": []map[string]any{{"project_id": a.Project.ID, "role": "ANALYST"}}})
	var resent struct {
		InvitedBy string `json:"invited_by"`
	}
	e.do(t, "POST", invitations+"/"+mine.ID+"/resend", a.Admin.Token, nil).want(t, http.StatusOK).decode(t, &resent)
	if resent.InvitedBy != a.Admin.ID {
		t.Errorf("after the ADMIN's resend the inviter is %s, want the ADMIN", resent.InvitedBy)
	}
}

// Issue 12, attack 3 (second half): the project grants of an invitation did not lapse
// when the inviter's project authority dropped. Now accepting checks the inviter's roles
// at that moment, project grants included, and refuses the whole invitation.
func TestAttackLapsedProjectAuthority(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newTenant(t, "Acme Rockets")
	// The ADMIN is also the project's OWNER, so may invite a project OWNER.
	e.putProjectMember(t, a.Owner, a.Org.ID, a.Project.ID, a.Admin, "OWNER")
	invitee, _ := e.register(t, "lapsed-project", "")
	inv := e.invite(t, a.Admin, a.Org.ID, map[string]any{"email": invitee.Email, "role": "MEMBER",
		"projects": []map[string]any{{"project_id": a.Project.ID, "role": "OWNER"}}})
	// Then they lose that project role (still org ADMIN).
	e.do(t, "DELETE", "/v1/orgs/"+a.Org.ID+"/projects/"+a.Project.ID+"/members/"+a.Admin.ID, a.Owner.Token, nil).
		want(t, http.StatusNoContent)

	before := e.snapshot(t)
	p := wantProblem(t, e.do(t, "POST", "/v1/invitations/accept", invitee.Token, map[string]any{"token": inv.Token}),
		api.ProblemInvitationLapsed)
	if !strings.Contains(p.Detail, "lapsed") {
		t.Errorf("detail: %q", p.Detail)
	}
	e.unchanged(t, before, "accepting a lapsed invitation")
	if e.roleOf(t, a.Org.ID, invitee.ID) != "" {
		t.Error("a lapsed invitation let the invitee in")
	}
	// The ADMIN cannot revive it; an OWNER can, and then it stands.
	wantProblem(t, e.do(t, "POST", "/v1/orgs/"+a.Org.ID+"/invitations/"+inv.ID+"/resend", a.Admin.Token, nil), api.ProblemForbidden)
	e.do(t, "POST", "/v1/orgs/"+a.Org.ID+"/invitations/"+inv.ID+"/resend", a.Owner.Token, nil).want(t, http.StatusOK)
	e.do(t, "POST", "/v1/invitations/accept", invitee.Token,
		map[string]any{"token": e.mailedInvitationToken(t, invitee.Email)}).want(t, http.StatusOK)
	if e.roleOf(t, a.Org.ID, invitee.ID) != "MEMBER" {
		t.Error("the re-issued invitation was not applied")
	}
}
