package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

func (s *Server) routeBookings() {
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/bookings", s.listBookings, true)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/bookings", s.createBooking, true)
	s.handle(http.MethodGet, "/v1/orgs/{org_id}/bookings/{booking_id}", s.getBooking, true)
	s.handle(http.MethodPatch, "/v1/orgs/{org_id}/bookings/{booking_id}/status", s.setBookingStatus, true)
	s.handle(http.MethodPost, "/v1/orgs/{org_id}/bookings/{booking_id}/cancel", s.cancelBooking, true)
}

// BookingStatuses are the values of app.booking_status.
var BookingStatuses = []string{"pending", "confirmed", "completed", "cancelled", "no_show"}

// MaxCancelReasonLength matches the CHECK on app.bookings.cancel_reason.
const MaxCancelReasonLength = 1000

func checkUUID(s string) string {
	if !isUUID(s) {
		return "must be a UUID"
	}
	return ""
}

// GET /v1/orgs/{org_id}/bookings?status=&service_id=&customer_email=&from=&to=
func (s *Server) listBookings(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := queryFilters{r: r}
	status := q.get("status", oneOf(BookingStatuses...))
	serviceID := q.get("service_id", checkUUID)
	email := q.get("customer_email", checkEmail)
	from := q.get("from", checkTimestamp)
	to := q.get("to", checkTimestamp)
	if err := q.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK,
		`select api.list_bookings($1::int, $2::uuid, $3::app.booking_status, $4::uuid, $5::text, $6::timestamptz, $7::timestamptz)`,
		limit, cursor, status, serviceID, email, from, to)
}

// CreateBookingSQL is POST /v1/orgs/{org_id}/bookings's statement: service id, start,
// customer name and email, notes.
const CreateBookingSQL = `select api.create_booking($1::uuid, $2::timestamptz, $3, $4, $5)`

// POST /v1/orgs/{org_id}/bookings
func (s *Server) createBooking(w http.ResponseWriter, r *http.Request) {
	var serviceID, startsAt string
	var notes *string
	customer := map[string]any{}
	if err := decodeBody(r,
		str("service_id", true, &serviceID, checkUUID),
		str("starts_at", true, &startsAt, checkTimestamp),
		object("customer", true,
			member("name", true, false, customer, stringValue(checkName)),
			member("email", true, false, customer, stringValue(checkEmail))),
		nullableStr("notes", &notes, checkDescription),
	); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusCreated, CreateBookingSQL, serviceID, startsAt, customer["name"], customer["email"], notes)
}

// GET /v1/orgs/{org_id}/bookings/{booking_id}
func (s *Server) getBooking(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, http.StatusOK, `select api.get_booking($1::uuid)`, mux.Vars(r)["booking_id"])
}

// PATCH /v1/orgs/{org_id}/bookings/{booking_id}/status
func (s *Server) setBookingStatus(w http.ResponseWriter, r *http.Request) {
	var status string
	if err := decodeBody(r, str("status", true, &status, oneOf(BookingStatuses...))); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.set_booking_status($1::uuid, $2::app.booking_status)`,
		mux.Vars(r)["booking_id"], status)
}

// POST /v1/orgs/{org_id}/bookings/{booking_id}/cancel
func (s *Server) cancelBooking(w http.ResponseWriter, r *http.Request) {
	var reason *string
	if err := decodeBody(r, nullableStr("reason", &reason, maxRunes(MaxCancelReasonLength))); err != nil {
		s.fail(w, r, err)
		return
	}
	s.call(w, r, http.StatusOK, `select api.cancel_booking($1::uuid, $2)`, mux.Vars(r)["booking_id"], reason)
}
