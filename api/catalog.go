package api

// The database owns enum labels, CHECK bounds and plan codes; the API keeps copies of
// some of them only to answer a clearer 422 naming the field before the database
// refuses. Each copy is listed here, and tests/e2e's TestGoCopiesMatchTheCatalog holds
// every one to the migrated catalog, so a migration that changes the rule cannot leave
// the Go copy behind unnoticed.

// PlanCodes are the codes of platform.plans (migration 004) a plan change may name.
var PlanCodes = []string{"free", "pro", "business"}

// InvitationStatuses are the values app.invitation_status returns (a function of an
// invitation's timestamps, not an enum), which the status filter of the list accepts.
var InvitationStatuses = []string{"pending", "accepted", "declined", "revoked", "expired"}

// EnumCopy is a Go list of an enum type's labels.
type EnumCopy struct {
	Type   string // schema-qualified enum type
	Labels []string
}

// EnumCopies lists every Go copy of an enum's labels.
func EnumCopies() []EnumCopy {
	return []EnumCopy{
		{"app.org_role", orgRoles},
		{"app.project_role", projectRoles},
		{"app.domain_level", domainLevels},
		{"app.booking_status", BookingStatuses},
		{"app.finance_kind", FinanceKinds},
		{"app.payment_source", PaymentSources},
	}
}

// BoundCopy is a Go copy of a CHECK constraint's upper bound.
type BoundCopy struct {
	Table, Constraint string // schema-qualified table, constraint name
	Max               int
}

// BoundCopies lists every Go constant that repeats a CHECK's upper bound. The other
// Max* constants (page sizes, password and token lengths, search text, audit row ids)
// are the API's own limits: no column holds them.
func BoundCopies() []BoundCopy {
	return []BoundCopy{
		{"auth.users", "users_email_check", MaxEmailLength},
		{"app.invitations", "invitations_email_check", MaxEmailLength},
		{"app.bookings", "bookings_customer_email_check", MaxEmailLength},
		{"app.organizations", "organizations_name_check", MaxNameLength},
		{"app.projects", "projects_name_check", MaxNameLength},
		{"app.services", "services_name_check", MaxNameLength},
		{"app.bookings", "bookings_customer_name_check", MaxNameLength},
		{"app.projects", "projects_description_check", MaxDescriptionLength},
		{"app.services", "services_description_check", MaxDescriptionLength},
		{"app.bookings", "bookings_notes_check", MaxDescriptionLength},
		{"app.bookings", "bookings_cancel_reason_check", MaxCancelReasonLength},
		{"app.services", "services_duration_minutes_check", MaxServiceMinutes},
		{"app.services", "services_capacity_check", MaxServiceCapacity},
		{"app.subscriptions", "subscriptions_suspended_reason_check", MaxSuspendReasonLength},
		{"app.finance_categories", "finance_categories_name_check", MaxCategoryNameLength},
		{"app.financial_records", "financial_records_payment_reference_check", MaxPaymentReferenceLength},
		{"app.financial_records", "financial_records_description_check", MaxRecordDescription},
		{"app.finance_idempotency_keys", "finance_idempotency_keys_key_check", MaxIdempotencyKeyLength},
	}
}
