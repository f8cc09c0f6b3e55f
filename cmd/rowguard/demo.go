package main

import (
	"fmt"
	"time"
)

// The demo that `rowguard seed-demo` creates: two organizations, who is who in them, and
// what they hold. Everything is fixed but the dates, which follow the day of the run: a
// year of ledger records up to that day, bookings around it. Every address is under
// .example (RFC 2606): with SMTP configured, the invitation the demo queues goes nowhere.

// demoDevPassword is the password of every demo account when the database is the
// development cluster and no --password is given (documented in docs/demo.md and the README).
const demoDevPassword = "rowguard-demo"

// demoGrant is a project role given with an invitation; empty levels take the role's
// defaults.
type demoGrant struct {
	project            string // the project's name
	role               string
	finance, analytics string
}

// demoAccount is a user invited into an organization; pending ones never accept.
type demoAccount struct {
	email   string
	orgRole string
	grants  []demoGrant
	pending bool
}

type demoCategory struct{ kind, name string }

// demoLine is a recurring ledger line of a project.
type demoLine struct {
	kind, category, currency string
	cents                    int64 // typical amount; each month's varies by up to ±10 %
	day                      int   // day of the month (≤ 28)
	quarterly                bool  // January, April, July and October only
	source                   string
	tags                     []string
	description              string
}

type demoProject struct {
	name, description string
	bookkeeper        string // who enters the ledger: finance MANAGE in the project
	categories        []demoCategory
	lines             []demoLine
}

type demoService struct {
	name, description string
	minutes           int
	price, currency   string
	capacity          int
	inactive          bool // created, then switched off
}

// demoBooking ends in status: pending as booked; confirmed, completed and no_show set by
// the organization's manager; cancelled by whoever booked it.
type demoBooking struct {
	service        string
	days, hour     int // from the day of the run; hour in UTC
	customer       string
	customerEmail  string
	bookedBy       string
	status, reason string
}

type demoOrg struct {
	name, slug string
	owner      string // founds the organization; invites the others
	members    []demoAccount
	projects   []demoProject
	// rates: from_currency → to_currency, one rate on the first of each month of the
	// ledger's year.
	rateFrom, rateTo string
	services         []demoService
	bookings         []demoBooking
	manager          string // confirms, completes and marks no-shows (org OWNER or ADMIN)
}

// demoOrgs is the whole demo. The first organization's owner is how a later run knows
// the demo is there.
var demoOrgs = []demoOrg{
	{
		name: "Acme", slug: "acme-demo", owner: "owner@acme.example",
		members: []demoAccount{
			{email: "admin@acme.example", orgRole: "ADMIN"},
			{email: "lead@acme.example", orgRole: "MEMBER", grants: []demoGrant{{project: "Consulting", role: "OWNER"}}},
			{email: "bookkeeper@acme.example", orgRole: "MEMBER", grants: []demoGrant{{project: "Storefront", role: "ADMIN"}}},
			{email: "analyst@acme.example", orgRole: "MEMBER", grants: []demoGrant{{project: "Storefront", role: "ANALYST"}}},
			{email: "viewer@acme.example", orgRole: "MEMBER", grants: []demoGrant{{project: "Storefront", role: "VIEWER"}}},
			{email: "invited@acme.example", orgRole: "MEMBER", grants: []demoGrant{{project: "Consulting", role: "VIEWER"}}, pending: true},
		},
		projects: []demoProject{
			{
				name: "Storefront", description: "The online shop: sales in EUR, some in USD",
				bookkeeper: "bookkeeper@acme.example",
				categories: []demoCategory{{"income", "Sales"}, {"income", "Gift cards"}, {"expense", "Rent"}, {"expense", "Software"}, {"expense", "Marketing"}, {"expense", "Shipping"}},
				lines: []demoLine{
					{kind: "income", category: "Sales", currency: "EUR", cents: 1240000, day: 3, source: "online", tags: []string{"shop"}, description: "Web shop payouts, first half"},
					{kind: "income", category: "Sales", currency: "EUR", cents: 1385000, day: 17, source: "online", tags: []string{"shop"}, description: "Web shop payouts, second half"},
					{kind: "income", category: "Sales", currency: "USD", cents: 420000, day: 10, source: "card", tags: []string{"shop", "export"}, description: "US marketplace"},
					{kind: "income", category: "Gift cards", currency: "EUR", cents: 95000, day: 24, quarterly: true, source: "card", tags: []string{"seasonal"}, description: "Gift card sales"},
					{kind: "expense", category: "Rent", currency: "EUR", cents: 180000, day: 1, source: "bank_transfer", tags: []string{"recurring"}, description: "Warehouse rent"},
					{kind: "expense", category: "Software", currency: "USD", cents: 34900, day: 5, source: "card", tags: []string{"recurring", "saas"}, description: "Shop platform subscription"},
					{kind: "expense", category: "Marketing", currency: "EUR", cents: 310000, day: 12, source: "direct_debit", tags: []string{"ads"}, description: "Search and social ads"},
					{kind: "expense", category: "Shipping", currency: "EUR", cents: 215000, day: 26, source: "bank_transfer", description: "Carrier invoice"},
				},
			},
			{
				name: "Consulting", description: "Client work, billed in EUR",
				bookkeeper: "lead@acme.example",
				categories: []demoCategory{{"income", "Fees"}, {"expense", "Travel"}, {"expense", "Contractors"}},
				lines: []demoLine{
					{kind: "income", category: "Fees", currency: "EUR", cents: 960000, day: 8, source: "bank_transfer", tags: []string{"retainer"}, description: "Monthly retainer"},
					{kind: "expense", category: "Travel", currency: "EUR", cents: 78000, day: 14, source: "card", tags: []string{"client-visit"}, description: "Train and hotel"},
					{kind: "expense", category: "Contractors", currency: "EUR", cents: 420000, day: 22, source: "bank_transfer", description: "Freelance designer"},
				},
			},
		},
		rateFrom: "USD", rateTo: "EUR",
		services: []demoService{
			{name: "Consultation", description: "One hour with a consultant", minutes: 60, price: "120.00", currency: "EUR", capacity: 1},
			{name: "Team workshop", description: "Half a day, up to twelve people", minutes: 180, price: "900.00", currency: "EUR", capacity: 12},
			{name: "Legacy audit", description: "No longer offered", minutes: 90, price: "300.00", currency: "EUR", capacity: 1, inactive: true},
		},
		bookings: []demoBooking{
			{service: "Consultation", days: -21, hour: 9, customer: "Pat Doe", customerEmail: "pat@customer.example", bookedBy: "analyst@acme.example", status: "completed"},
			{service: "Team workshop", days: -14, hour: 13, customer: "Lee Roy", customerEmail: "lee@customer.example", bookedBy: "admin@acme.example", status: "completed"},
			{service: "Consultation", days: -7, hour: 10, customer: "Sam Poe", customerEmail: "sam@customer.example", bookedBy: "viewer@acme.example", status: "no_show"},
			{service: "Consultation", days: 1, hour: 11, customer: "Kim Lau", customerEmail: "kim@customer.example", bookedBy: "viewer@acme.example", status: "cancelled", reason: "customer rescheduled"},
			{service: "Consultation", days: 3, hour: 9, customer: "Kim Lau", customerEmail: "kim@customer.example", bookedBy: "bookkeeper@acme.example", status: "confirmed"},
			{service: "Team workshop", days: 10, hour: 13, customer: "Ada Ng", customerEmail: "ada@customer.example", bookedBy: "analyst@acme.example", status: "pending"},
		},
		manager: "admin@acme.example",
	},
	{
		name: "Globex", slug: "globex-demo", owner: "owner@globex.example",
		members: []demoAccount{
			{email: "analyst@globex.example", orgRole: "MEMBER", grants: []demoGrant{{project: "Research", role: "ANALYST", finance: "NONE"}}},
		},
		projects: []demoProject{
			{
				name: "Research", description: "Grant-funded lab, in USD",
				bookkeeper: "owner@globex.example",
				categories: []demoCategory{{"income", "Grants"}, {"expense", "Salaries"}, {"expense", "Equipment"}},
				lines: []demoLine{
					{kind: "income", category: "Grants", currency: "USD", cents: 9000000, day: 15, quarterly: true, source: "bank_transfer", tags: []string{"grant"}, description: "Quarterly grant tranche"},
					{kind: "expense", category: "Salaries", currency: "USD", cents: 2100000, day: 25, source: "bank_transfer", tags: []string{"payroll"}, description: "Payroll"},
					{kind: "expense", category: "Equipment", currency: "USD", cents: 350000, day: 9, source: "card", description: "Lab supplies"},
				},
			},
		},
		services: []demoService{
			{name: "Lab tour", description: "Guided visit of the lab", minutes: 90, price: "25.00", currency: "USD", capacity: 20},
		},
		bookings: []demoBooking{
			{service: "Lab tour", days: -5, hour: 15, customer: "Max Moe", customerEmail: "max@visitor.example", bookedBy: "owner@globex.example", status: "completed"},
			{service: "Lab tour", days: 6, hour: 15, customer: "Eve Ray", customerEmail: "eve@visitor.example", bookedBy: "analyst@globex.example", status: "pending"},
		},
		manager: "owner@globex.example",
	},
}

// demoRecord is one ledger record as the API takes it.
type demoRecord struct {
	Kind          string   `json:"kind"`
	Amount        string   `json:"amount"`
	Currency      string   `json:"currency"`
	CategoryID    string   `json:"category_id"` // filled in by the seeder
	OccurredOn    string   `json:"occurred_on"`
	PaymentSource string   `json:"payment_source"`
	Tags          []string `json:"tags,omitempty"`
	Description   string   `json:"description,omitempty"`

	category string // its name, for the seeder
}

// demoMonths are the first days of the ledger's twelve months, oldest first: the month
// of today and the eleven before it (what the trends show by default).
func demoMonths(today time.Time) []time.Time {
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	months := make([]time.Time, 12)
	for i := range months {
		months[i] = first.AddDate(0, i-11, 0)
	}
	return months
}

// records are the project's ledger for the year up to today (nothing later than today).
func (p *demoProject) records(today time.Time) []demoRecord {
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	var out []demoRecord
	for m, month := range demoMonths(today) {
		for i, l := range p.lines {
			if l.quarterly && (month.Month()-1)%3 != 0 {
				continue
			}
			day := month.AddDate(0, 0, l.day-1)
			if day.After(today) {
				continue
			}
			wiggle := int64((m*37+i*11+l.day*5)%21 - 10) // -10 … +10 %
			cents := l.cents * (100 + wiggle) / 100
			out = append(out, demoRecord{
				Kind: l.kind, Amount: fmt.Sprintf("%d.%02d", cents/100, cents%100), Currency: l.currency,
				OccurredOn: day.Format(time.DateOnly), PaymentSource: l.source, Tags: l.tags,
				Description: l.description, category: l.category,
			})
		}
	}
	return out
}

// rates are the organization's exchange rates: one on the first of each ledger month,
// so that every record's day has one.
func (o *demoOrg) rates(today time.Time) []map[string]string {
	if o.rateFrom == "" {
		return nil
	}
	var out []map[string]string
	for m, month := range demoMonths(today) {
		out = append(out, map[string]string{
			"date": month.Format(time.DateOnly), "from_currency": o.rateFrom, "to_currency": o.rateTo,
			"rate": fmt.Sprintf("0.%04d", 9050+35*((m*5)%9)),
		})
	}
	return out
}
