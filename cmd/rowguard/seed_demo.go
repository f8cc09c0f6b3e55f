package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/rowguard/rowguard/api"
	"github.com/rowguard/rowguard/internal/config"
	"github.com/rowguard/rowguard/internal/inprocess"
)

// demoClock is the day the demo's dates follow (tests pin it).
var demoClock = time.Now

// errDemoThere: the first organization's owner exists, so the demo was seeded before.
var errDemoThere = errors.New("the demo is already there")

// seedDemoCmd fills the database `serve` would use with the demo of demo.go, through
// the HTTP API served in process (the same handler, options and serving role as
// `serve`): every row is written by a request, under row-level security, as the demo
// user it belongs to. A second run finds the first organization's owner and changes
// nothing.
func seedDemoCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seed-demo", stderr)
	pwFlag := fs.String("password", "", "password of every demo account (default: "+demoDevPassword+
		" on the development database; with DATABASE_URL a random one, printed at the end)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(*pwFlag); *pwFlag != "" && (n < api.MinPasswordRunes || n > api.MaxPasswordRunes) {
		fmt.Fprintf(stderr, "rowguard seed-demo: --password must be %d to %d characters long\n", api.MinPasswordRunes, api.MaxPasswordRunes)
		return errUsage
	}
	cfg, err := config.LoadServe()
	if err != nil {
		return err
	}
	password, origin, err := demoPassword(*pwFlag, cfg.DevMode())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The API's own log: warnings and errors only (the access log of a few hundred
	// requests would bury the result).
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: max(cfg.LogLevel, slog.LevelWarn)}))
	b, err := openBackend(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	defer b.close()
	srv, err := inprocess.Start(b.opts, 2)
	if err != nil {
		return err
	}
	defer srv.Close()

	s := &seeder{ctx: ctx, srv: srv, password: password, today: demoClock().UTC(), users: map[string]*demoUser{},
		mailbox: &demoMailbox{pool: b.pool}}
	fmt.Fprintln(stdout, "seeding the demo through the API…")
	orgs, err := s.seed(stdout)
	if errors.Is(err, errDemoThere) {
		fmt.Fprintf(stdout, "the demo is already there (%s exists): nothing was changed.\n", demoOrgs[0].owner)
		if cfg.DevMode() {
			fmt.Fprintf(stdout, "Its accounts are those of docs/demo.md; unless the first run was given --password, theirs is %s.\n", demoDevPassword)
		} else {
			fmt.Fprintln(stdout, "Its accounts and their password are those the run that created it printed.")
		}
		return nil
	}
	if err != nil && s.wrote {
		return fmt.Errorf("%w\nthe database now holds part of the demo, which a second run would take for all of it: "+
			"seed an empty database instead (development mode: a new ROWGUARD_DATA_DIR)", err)
	}
	if err != nil {
		return err
	}
	printDemo(stdout, orgs, password, origin, publicBaseURL(cfg))
	return nil
}

// demoPassword is --password, else the documented development password on the
// development database, else (DATABASE_URL: someone else's database) a random one.
func demoPassword(flagValue string, devMode bool) (password, origin string, err error) {
	switch {
	case flagValue != "":
		return flagValue, "--password", nil
	case devMode:
		return demoDevPassword, "the development default; --password sets another", nil
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), "generated for this database: keep it, it is not shown again", nil
}

// publicBaseURL is where `serve` answers with this configuration.
func publicBaseURL(cfg *config.ServeConfig) string {
	if cfg.PublicURL != "" {
		return strings.TrimSuffix(cfg.PublicURL, "/")
	}
	host, port, _ := net.SplitHostPort(cfg.Addr) // validated by config
	p, _ := strconv.Atoi(port)
	return baseURL(&net.TCPAddr{IP: net.ParseIP(host), Port: p}, cfg.Addr)
}

// demoUser is a demo account signed in during the seeding.
type demoUser struct{ id, token string }

// demoAccountRow is one line of the table printed at the end.
type demoAccountRow struct {
	email, org, orgRole string
	projects            []string // "Storefront: ANALYST (finance READ, analytics MANAGE)"
}

// seededOrg is what one organization became.
type seededOrg struct {
	plan                     *demoOrg
	id                       string
	projectIDs               map[string]string
	accounts                 []demoAccountRow
	records, bookings, rates int
}

// seeder drives the in-process API.
type seeder struct {
	ctx      context.Context
	srv      *inprocess.Server
	password string
	today    time.Time
	users    map[string]*demoUser // by email
	mailbox  *demoMailbox         // the demo accounts' mail (invitation tokens)
	wrote    bool                 // something was written: a failure now leaves part of the demo
}

// stepError names the step that failed and what the API answered.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string {
	return fmt.Sprintf("seed-demo: step %q failed: %v", e.step, e.err)
}
func (e *stepError) Unwrap() error { return e.err }

// call sends one request as the user with token tok and decodes the answer into out
// (when not nil); any status but want fails the step.
func (s *seeder) call(step, method, path, tok string, body any, want int, out any) error {
	status, data, _, err := s.srv.Call(s.ctx, method, path, tok, "", body)
	return s.answer(step, method, path, status, data, err, want, out)
}

// answer checks one answer of call.
func (s *seeder) answer(step, method, path string, status int, data []byte, err error, want int, out any) error {
	if err != nil {
		return &stepError{step, err}
	}
	if status != want {
		msg := strings.TrimSpace(string(data))
		if p, ok := problemOf(data); ok {
			msg = p.Title + ": " + p.Detail
			for _, fe := range p.Errors {
				msg += fmt.Sprintf(" [%s: %s]", fe.Field, fe.Message)
			}
		}
		return &stepError{step, fmt.Errorf("%s %s answered %d (%s)", method, path, status, msg)}
	}
	s.wrote = s.wrote || method != http.MethodGet
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &stepError{step, fmt.Errorf("%s %s: %w", method, path, err)}
		}
	}
	return nil
}

func problemOf(data []byte) (api.Problem, bool) {
	var p api.Problem
	return p, json.Unmarshal(data, &p) == nil && p.Title != ""
}

// register signs a demo account up (without an organization). The very first one, the
// first organization's owner, already having an account means the demo is there.
//
// A sign-up proves its mailbox, and the demo's addresses (.example) are nobody's: this
// command, which holds the server's signing key and database like `serve`, starts the
// sign-up itself through auth.request_sign_up with a code it made (what POST
// /v1/auth/register does once its rate limits pass; the email still waits in the outbox,
// for `serve` to deliver or log), then proves the code over HTTP like any person:
// POST /v1/auth/register/verify.
func (s *seeder) register(email string) (*demoUser, error) {
	if !s.wrote && email == demoOrgs[0].owner {
		// auth.credentials_for is what login asks (the API role may): an account or not.
		var n int
		if err := s.srv.QueryRow(s.ctx, `select count(*)::int from auth.credentials_for($1)`, email).Scan(&n); err != nil {
			return nil, &stepError{"look for " + email, err}
		}
		if n > 0 {
			return nil, errDemoThere
		}
	}
	code, err := s.srv.StartSignUp(s.ctx, email, s.password, nil)
	if err != nil {
		return nil, &stepError{"sign up " + email, err}
	}
	var res struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	if err := s.call("sign up "+email+": the emailed code", http.MethodPost, "/v1/auth/register/verify", "",
		map[string]any{"email": email, "code": code}, http.StatusCreated, &res); err != nil {
		return nil, err
	}
	u := &demoUser{id: res.User.ID, token: res.AccessToken}
	s.users[email] = u
	return u, nil
}

// invitationToken reads the invitation email to email from the demo mailbox. Should a
// `serve` running beside seed-demo have delivered it first (to its log), the owner
// (token tok) resends the invitation at invitationPath and the new email is read.
func (s *seeder) invitationToken(invitationPath, tok, email string) (string, error) {
	step := "read the invitation email to " + email
	for attempt := 1; ; attempt++ {
		token, err := s.mailbox.token(s.ctx, email, "invitation")
		if err == nil {
			return token, nil
		}
		if !errors.Is(err, errMailTaken) || attempt == 3 {
			return "", &stepError{step, err}
		}
		if err := s.call("resend the invitation to "+email, http.MethodPost, invitationPath+"/resend", tok, nil, http.StatusOK, nil); err != nil {
			return "", err
		}
	}
}

func (s *seeder) seed(progress io.Writer) ([]*seededOrg, error) {
	var out []*seededOrg
	for i := range demoOrgs {
		o, err := s.seedOrg(&demoOrgs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		members, pending := 1, 0
		for _, m := range o.plan.members {
			if m.pending {
				pending++
			} else {
				members++
			}
		}
		fmt.Fprintf(progress, "  %-12s %s\n", o.plan.slug, strings.Join([]string{
			count(members, "member"), count(pending, "pending invitation"), count(len(o.plan.projects), "project"),
			count(o.records, "financial record"), count(o.rates, "exchange rate"),
			count(len(o.plan.services), "service"), count(o.bookings, "booking"),
		}, ", "))
	}
	return out, nil
}

func (s *seeder) seedOrg(plan *demoOrg) (*seededOrg, error) {
	o := &seededOrg{plan: plan, projectIDs: map[string]string{}}
	owner, err := s.register(plan.owner)
	if err != nil {
		return nil, err
	}
	var org struct {
		ID string `json:"id"`
	}
	if err := s.call("create organization "+plan.slug, http.MethodPost, "/v1/orgs", owner.token,
		map[string]any{"name": plan.name, "slug": plan.slug}, http.StatusCreated, &org); err != nil {
		return nil, err
	}
	o.id = org.ID
	o.accounts = append(o.accounts, demoAccountRow{plan.owner, plan.slug, "OWNER", []string{"every project: OWNER (org role)"}})
	orgPath := "/v1/orgs/" + o.id

	for _, p := range plan.projects {
		var res struct {
			ID string `json:"id"`
		}
		if err := s.call(plan.slug+": create project "+p.name, http.MethodPost, orgPath+"/projects", owner.token,
			map[string]any{"name": p.name, "description": p.description}, http.StatusCreated, &res); err != nil {
			return nil, err
		}
		o.projectIDs[p.name] = res.ID
	}

	var pending []demoAccountRow
	// Members: invited by the owner with their org role and project grants, then each
	// signs up and accepts, as the walk-through does.
	for _, m := range plan.members {
		grants := []map[string]any{}
		for _, g := range m.grants {
			grant := map[string]any{"project_id": o.projectIDs[g.project], "role": g.role}
			if g.finance != "" {
				grant["finance"] = g.finance
			}
			if g.analytics != "" {
				grant["analytics"] = g.analytics
			}
			grants = append(grants, grant)
		}
		var inv struct {
			ID       string `json:"id"`
			Projects []struct {
				ProjectID string `json:"project_id"`
				permissionsJSON
			} `json:"projects"`
		}
		if err := s.call(plan.slug+": invite "+m.email, http.MethodPost, orgPath+"/invitations", owner.token,
			map[string]any{"email": m.email, "role": m.orgRole, "projects": grants}, http.StatusCreated, &inv); err != nil {
			return nil, err
		}
		if m.pending {
			row := demoAccountRow{m.email, plan.slug, m.orgRole + " (invited)", nil}
			for _, p := range inv.Projects {
				row.projects = append(row.projects, p.describe(projectName(o.projectIDs, p.ProjectID)))
			}
			row.projects = append(row.projects, "invitation pending: sign up with this email, then accept it")
			pending = append(pending, row)
			continue
		}
		u, err := s.register(m.email)
		if err != nil {
			return nil, err
		}
		// The token is in the invitation email only, as for any invitee.
		token, err := s.invitationToken(orgPath+"/invitations/"+inv.ID, owner.token, m.email)
		if err != nil {
			return nil, err
		}
		var accepted struct {
			Organization struct {
				Role string `json:"role"`
			} `json:"organization"`
			Projects []struct {
				ProjectID   string          `json:"project_id"`
				Permissions permissionsJSON `json:"permissions"`
			} `json:"projects"`
		}
		if err := s.call(m.email+" accepts the invitation to "+plan.slug, http.MethodPost, "/v1/invitations/accept", u.token,
			map[string]any{"token": token}, http.StatusOK, &accepted); err != nil {
			return nil, err
		}
		row := demoAccountRow{m.email, plan.slug, accepted.Organization.Role, nil}
		if row.orgRole == "OWNER" || row.orgRole == "ADMIN" {
			row.projects = append(row.projects, "every project: "+row.orgRole+" (org role)")
		}
		for _, p := range accepted.Projects {
			row.projects = append(row.projects, p.Permissions.describe(projectName(o.projectIDs, p.ProjectID)))
		}
		o.accounts = append(o.accounts, row)
	}
	o.accounts = append(o.accounts, pending...)

	for _, r := range plan.rates(s.today) {
		if err := s.call(fmt.Sprintf("%s: exchange rate %s→%s on %s", plan.slug, r["from_currency"], r["to_currency"], r["date"]),
			http.MethodPut, orgPath+"/exchange-rates", owner.token, r, http.StatusOK, nil); err != nil {
			return nil, err
		}
		o.rates++
	}

	for _, p := range plan.projects {
		n, err := s.seedLedger(plan, &p, orgPath+"/projects/"+o.projectIDs[p.name])
		if err != nil {
			return nil, err
		}
		o.records += n
	}

	services := map[string]string{}
	for _, sv := range plan.services {
		var res struct {
			ID string `json:"id"`
		}
		step := plan.slug + ": create service " + sv.name
		if err := s.call(step, http.MethodPost, orgPath+"/services", owner.token, map[string]any{
			"name": sv.name, "description": sv.description, "duration_minutes": sv.minutes,
			"price": sv.price, "currency": sv.currency, "capacity": sv.capacity,
		}, http.StatusCreated, &res); err != nil {
			return nil, err
		}
		services[sv.name] = res.ID
		if sv.inactive {
			if err := s.call(plan.slug+": switch service "+sv.name+" off", http.MethodPatch, orgPath+"/services/"+res.ID, owner.token,
				map[string]any{"active": false}, http.StatusOK, nil); err != nil {
				return nil, err
			}
		}
	}

	day := time.Date(s.today.Year(), s.today.Month(), s.today.Day(), 0, 0, 0, 0, time.UTC)
	manager := s.users[plan.manager]
	for i, bk := range plan.bookings {
		step := fmt.Sprintf("%s: booking %d (%s, %s)", plan.slug, i+1, bk.service, bk.status)
		booker := s.users[bk.bookedBy]
		var res struct {
			ID string `json:"id"`
		}
		startsAt := day.AddDate(0, 0, bk.days).Add(time.Duration(bk.hour) * time.Hour)
		if err := s.call(step, http.MethodPost, orgPath+"/bookings", booker.token, map[string]any{
			"service_id": services[bk.service], "starts_at": startsAt.Format(time.RFC3339),
			"customer": map[string]any{"name": bk.customer, "email": bk.customerEmail},
		}, http.StatusCreated, &res); err != nil {
			return nil, err
		}
		var moves []string
		switch bk.status {
		case "confirmed":
			moves = []string{"confirmed"}
		case "completed":
			moves = []string{"confirmed", "completed"}
		case "no_show":
			moves = []string{"no_show"}
		case "cancelled":
			if err := s.call(step, http.MethodPost, orgPath+"/bookings/"+res.ID+"/cancel", booker.token,
				map[string]any{"reason": bk.reason}, http.StatusOK, nil); err != nil {
				return nil, err
			}
		}
		for _, to := range moves {
			if err := s.call(step, http.MethodPatch, orgPath+"/bookings/"+res.ID+"/status", manager.token,
				map[string]any{"status": to}, http.StatusOK, nil); err != nil {
				return nil, err
			}
		}
		o.bookings++
	}
	return o, nil
}

// seedLedger creates a project's categories and records as its bookkeeper.
func (s *seeder) seedLedger(plan *demoOrg, p *demoProject, projectPath string) (int, error) {
	tok := s.users[p.bookkeeper].token
	categories := map[string]string{}
	for _, c := range p.categories {
		var res struct {
			ID string `json:"id"`
		}
		if err := s.call(plan.slug+": "+p.name+": category "+c.name, http.MethodPost, projectPath+"/categories", tok,
			map[string]any{"kind": c.kind, "name": c.name}, http.StatusCreated, &res); err != nil {
			return 0, err
		}
		categories[c.kind+"/"+c.name] = res.ID
	}
	records := p.records(s.today)
	for i, r := range records {
		r.CategoryID = categories[r.Kind+"/"+r.category]
		step := fmt.Sprintf("%s: %s: record %d of %d (%s %s %s on %s)", plan.slug, p.name, i+1, len(records), r.Kind, r.Amount, r.Currency, r.OccurredOn)
		if err := s.call(step, http.MethodPost, projectPath+"/records", tok, r, http.StatusCreated, nil); err != nil {
			return 0, err
		}
	}
	return len(records), nil
}

// permissionsJSON is a project role and its levels, as the API answers them.
type permissionsJSON struct {
	Role      string `json:"role"`
	Finance   string `json:"finance"`
	Analytics string `json:"analytics"`
}

func (p permissionsJSON) describe(project string) string {
	return fmt.Sprintf("%s: %s (finance %s, analytics %s)", project, p.Role, p.Finance, p.Analytics)
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func projectName(ids map[string]string, id string) string {
	for name, pid := range ids {
		if pid == id {
			return name
		}
	}
	return id
}

// printDemo prints the accounts and a few requests to paste.
func printDemo(w io.Writer, orgs []*seededOrg, password, origin, base string) {
	fmt.Fprintf(w, "\nThe demo is ready. Password of every account: %s   (%s)\n\n", password, origin)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tORGANIZATION\tORG ROLE\tPROJECT ROLES")
	for _, o := range orgs {
		for _, a := range o.accounts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.email, a.org, a.orgRole, strings.Join(a.projects, "; "))
		}
	}
	tw.Flush()

	a, b := orgs[0], orgs[1]
	const who = "analyst@acme.example"
	login, _ := json.Marshal(map[string]string{"email": who, "password": password})
	orgA := "$API/v1/orgs/" + a.id
	fmt.Fprintf(w, `
Try it with `+"`rowguard serve`"+` running (jq reads the token): %s is an org MEMBER who is ANALYST in Storefront only.
  API=%s
  TOKEN=$(curl -s $API/v1/auth/login -H 'content-type: application/json' -d %s | jq -r .access_token)
  curl -s %s/projects -H "authorization: Bearer $TOKEN"    # Storefront; Consulting is not theirs
  curl -s "%s/projects/%s/analytics/summary?base=EUR" -H "authorization: Bearer $TOKEN"
  curl -s $API/v1/orgs/%s/projects -H "authorization: Bearer $TOKEN"    # %s, another tenant: 404
`, who, base, shellQuote(string(login)), orgA, orgA, a.projectIDs["Storefront"], b.id, b.plan.slug)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
