-- Services and bookings: a tenant's catalogue of services sold by appointment, and the
-- bookings customers make. Two rules live here because no policy can express them:
--   * a booking moves only along the status machine (app.booking_transition_allowed);
--   * a slot never holds more bookings than the service's capacity
--     (app.check_booking_capacity, serialized per service by a transaction lock).
-- Who may do what is in policies/bookings.sql.
set local role rowguard_owner;

-- ---------------------------------------------------------------------------------------
-- Services
-- ---------------------------------------------------------------------------------------
create table app.services (
  org_id           uuid not null references app.organizations (id) on delete cascade,
  id               uuid not null default app.uuid_v7() primary key,
  name             text not null
                   constraint services_name_check check (length(btrim(name)) between 1 and 200),
  description      text
                   constraint services_description_check check (length(description) <= 4000),
  duration_minutes int not null
                   constraint services_duration_minutes_check check (duration_minutes between 1 and 1440),
  price            numeric(12, 2) not null
                   constraint services_price_check check (price >= 0),
  currency         text not null
                   constraint services_currency_check check (currency ~ '^[A-Z]{3}$'),
  capacity         int not null default 1
                   constraint services_capacity_check check (capacity between 1 and 1000),
  active           boolean not null default true,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint services_org_id_id_key unique (org_id, id)
);
comment on table app.services is 'What an organization sells by appointment. Every member reads; OWNER and ADMIN manage.';
comment on column app.services.capacity is 'How many bookings one slot (an overlapping time range) may hold at once.';
comment on column app.services.price is 'ISO 4217 amount in currency; never summed across currencies.';
create unique index services_org_id_name_key on app.services (org_id, lower(name));

-- ---------------------------------------------------------------------------------------
-- Bookings
-- ---------------------------------------------------------------------------------------
create type app.booking_status as enum ('pending', 'confirmed', 'completed', 'cancelled', 'no_show');
comment on type app.booking_status is 'pending → confirmed → completed; pending/confirmed → cancelled or no_show. See app.booking_transition_allowed.';

create table app.bookings (
  org_id         uuid not null references app.organizations (id) on delete cascade,
  id             uuid not null default app.uuid_v7() primary key,
  service_id     uuid not null,
  starts_at      timestamptz not null,
  ends_at        timestamptz not null,
  customer_name  text not null
                 constraint bookings_customer_name_check check (length(btrim(customer_name)) between 1 and 200),
  customer_email text not null
                 constraint bookings_customer_email_check
                 check (length(customer_email) <= 254 and customer_email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
  notes          text
                 constraint bookings_notes_check check (length(notes) <= 4000),
  status         app.booking_status not null default 'pending',
  cancel_reason  text
                 constraint bookings_cancel_reason_check check (length(cancel_reason) <= 1000),
  created_by     uuid,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  constraint bookings_org_id_id_key unique (org_id, id),
  constraint bookings_ends_at_check check (ends_at > starts_at),
  -- A booking keeps its service: a service with bookings is deactivated, not deleted.
  -- NO ACTION, not RESTRICT: checked at the end of the statement, so deleting the whole
  -- organization (which cascades to both tables, in either order) still works.
  constraint bookings_service_id_fkey foreign key (org_id, service_id)
    references app.services (org_id, id) on delete no action,
  constraint bookings_created_by_fkey foreign key (org_id, created_by)
    references app.memberships (org_id, user_id) on delete set null (created_by)
);
comment on table app.bookings is 'A customer''s appointment for a service. Members create and read; the status machine and the capacity rule are enforced by triggers.';
comment on column app.bookings.ends_at is 'starts_at plus the service''s duration, set by the database (app.prepare_booking).';
-- The capacity check reads a service's bookings around a time: this index answers it.
create index bookings_service_id_starts_at_idx on app.bookings (org_id, service_id, starts_at) include (ends_at, status);
create index bookings_customer_email_idx on app.bookings (org_id, lower(customer_email));
-- The plan limit "bookings per month" counts an organization's bookings since the 1st.
create index bookings_org_id_created_at_idx on app.bookings (org_id, created_at);

grant usage on schema app to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop table app.bookings;
drop table app.services;
drop function if exists app.guard_booking_update();
drop function if exists app.booking_holds_slot(app.booking_status);
drop function if exists app.booking_transition_allowed(app.booking_status, app.booking_status);
drop type app.booking_status;
set local role rowguard_kernel;
drop function if exists app.prepare_booking();
reset role;
