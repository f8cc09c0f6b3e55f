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
create trigger services_touch_updated_at before update on app.services
  for each row execute function app.touch_updated_at();

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
create trigger bookings_touch_updated_at before update on app.bookings
  for each row execute function app.touch_updated_at();

-- The status machine, in one place. Anything not listed is illegal (→ 409).
create function app.booking_transition_allowed(p_from app.booking_status, p_to app.booking_status) returns boolean
language sql immutable parallel safe as $$
  select (p_from, p_to) in (
    ('pending'::app.booking_status,   'confirmed'::app.booking_status),
    ('pending',   'cancelled'), ('pending',   'no_show'),
    ('confirmed', 'completed'), ('confirmed', 'cancelled'), ('confirmed', 'no_show'))
$$;
comment on function app.booking_transition_allowed(app.booking_status, app.booking_status) is
  'The booking status machine: pending → confirmed → completed; pending/confirmed → cancelled or no_show. completed, cancelled and no_show are final.';

-- Statuses that occupy a slot: a cancelled or no-show booking frees its place.
create function app.booking_holds_slot(p_status app.booking_status) returns boolean
language sql immutable parallel safe as $$
  select p_status in ('pending', 'confirmed', 'completed')
$$;

create function app.guard_booking_update() returns trigger
language plpgsql as $$
begin
  if new.status is distinct from old.status
     and not app.booking_transition_allowed(old.status, new.status) then
    raise exception 'a % booking cannot become %', old.status, new.status
      using errcode = 'RG409', column = 'status';
  end if;
  -- What was booked stays booked: only the status (and the reason of a cancellation) move.
  -- created_by may only become NULL: the foreign key's SET NULL when its creator leaves the
  -- organization (otherwise nobody who ever booked could leave or be removed).
  if (new.service_id, new.starts_at, new.ends_at, new.created_at)
     is distinct from (old.service_id, old.starts_at, old.ends_at, old.created_at)
     or (new.created_by is not null and new.created_by is distinct from old.created_by) then
    raise exception 'a booking''s service and time cannot change' using errcode = 'RG409';
  end if;
  return new;
end
$$;
comment on function app.guard_booking_update() is 'BEFORE UPDATE on bookings: only legal status transitions; service and time are fixed once booked.';
create trigger bookings_guard_update before update on app.bookings
  for each row execute function app.guard_booking_update();

-- ends_at from the service, and the capacity rule. Race-free: a transaction-scoped
-- advisory lock per service serializes concurrent bookings of one service, and in READ
-- COMMITTED the count after the lock sees every booking committed before it.
-- Counting overlapping bookings (not the peak overlap) is conservative: a booking is
-- refused when `capacity` bookings already overlap its time range.
-- SECURITY DEFINER (kernel): the rule must hold whatever the caller may read.
grant usage, create on schema app to rowguard_kernel;
set local role rowguard_kernel;

create function app.prepare_booking() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_service app.services;
  v_taken   int;
begin
  select * into v_service from app.services s where s.org_id = new.org_id and s.id = new.service_id;
  if not found then
    raise exception 'service not found' using errcode = 'RG422', column = 'service_id';
  end if;
  if not v_service.active then
    raise exception 'this service is not bookable (inactive)' using errcode = 'RG422', column = 'service_id';
  end if;
  new.ends_at := new.starts_at + pg_catalog.make_interval(mins => v_service.duration_minutes);

  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('rowguard.booking:' || new.service_id::text, 0));
  select count(*) into v_taken
    from app.bookings b
   where b.org_id = new.org_id and b.service_id = new.service_id
     and b.starts_at < new.ends_at and b.ends_at > new.starts_at
     and app.booking_holds_slot(b.status);
  if v_taken >= v_service.capacity then
    raise exception 'this slot is fully booked (capacity %)', v_service.capacity
      using errcode = 'RG409', column = 'starts_at';
  end if;
  return new;
end
$$;
comment on function app.prepare_booking() is
  'BEFORE INSERT on bookings: ends_at from the service''s duration; refuses an inactive service and a slot already holding capacity bookings (lock per service, so concurrent bookings cannot overbook).';
grant execute on function app.prepare_booking() to rowguard_owner;

set local role rowguard_owner;
revoke create on schema app from rowguard_kernel;
create trigger bookings_prepare before insert on app.bookings
  for each row execute function app.prepare_booking();

alter table app.services enable row level security;
alter table app.services force row level security;
alter table app.bookings enable row level security;
alter table app.bookings force row level security;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop table app.bookings;
drop table app.services;
drop function app.guard_booking_update();
drop function app.booking_holds_slot(app.booking_status);
drop function app.booking_transition_allowed(app.booking_status, app.booking_status);
drop type app.booking_status;
reset role;
set local role rowguard_kernel;
drop function app.prepare_booking();
reset role;
