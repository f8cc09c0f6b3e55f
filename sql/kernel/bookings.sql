-- Bookings: the status state machine, which statuses hold a slot, and the checks before a
-- booking is written.
-- Part of the kernel code package (install.sql).

-- The status machine, in one place. Anything not listed is illegal (→ 409).
create or replace function app.booking_transition_allowed(p_from app.booking_status, p_to app.booking_status) returns boolean
language sql immutable parallel safe as $$
  select (p_from, p_to) in (
    ('pending'::app.booking_status,   'confirmed'::app.booking_status),
    ('pending',   'cancelled'), ('pending',   'no_show'),
    ('confirmed', 'completed'), ('confirmed', 'cancelled'), ('confirmed', 'no_show'))
$$;
comment on function app.booking_transition_allowed(app.booking_status, app.booking_status) is
  'The booking status machine: pending → confirmed → completed; pending/confirmed → cancelled or no_show. completed, cancelled and no_show are final.';

-- Statuses that occupy a slot: a cancelled or no-show booking frees its place.
create or replace function app.booking_holds_slot(p_status app.booking_status) returns boolean
language sql immutable parallel safe as $$
  select p_status in ('pending', 'confirmed', 'completed')
$$;

create or replace function app.guard_booking_update() returns trigger
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

set local role rowguard_kernel;

-- ends_at from the service, and the capacity rule. Race-free: a transaction-scoped
-- advisory lock per service serializes concurrent bookings of one service, and in READ
-- COMMITTED the count after the lock sees every booking committed before it.
-- Counting overlapping bookings (not the peak overlap) is conservative: a booking is
-- refused when `capacity` bookings already overlap its time range.
-- SECURITY DEFINER (kernel): the rule must hold whatever the caller may read.
create or replace function app.prepare_booking() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_found    boolean;
  v_active   boolean;
  v_duration int;
  v_capacity int;
  v_locked   text;
  v_taken    int;
begin
  -- The service, and the lock of its slots when it is bookable, in one statement (they
  -- were two: a statement costs its executor start on every booking, tests/load -writes).
  -- Bookings of one service are serialized; the count below is the next statement, with
  -- a new snapshot that sees every booking committed before the lock was granted.
  select true, s.active, s.duration_minutes, s.capacity,
         case when s.active then
           pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('rowguard.booking:' || s.id::text, 0))::text end
    into v_found, v_active, v_duration, v_capacity, v_locked
    from app.services s where s.org_id = new.org_id and s.id = new.service_id;
  if v_found is null then
    raise exception 'service not found' using errcode = 'RG422', column = 'service_id';
  end if;
  if not v_active then
    raise exception 'this service is not bookable (inactive)' using errcode = 'RG422', column = 'service_id';
  end if;
  new.ends_at := new.starts_at + pg_catalog.make_interval(mins => v_duration);

  select count(*) into v_taken
    from app.bookings b
   where b.org_id = new.org_id and b.service_id = new.service_id
     and b.starts_at < new.ends_at and b.ends_at > new.starts_at
     and app.booking_holds_slot(b.status);
  if v_taken >= v_capacity then
    raise exception 'this slot is fully booked (capacity %)', v_capacity
      using errcode = 'RG409', column = 'starts_at';
  end if;
  return new;
end
$$;
comment on function app.prepare_booking() is
  'BEFORE INSERT on bookings: ends_at from the service''s duration; refuses an inactive service and a slot already holding capacity bookings (lock per service, so concurrent bookings cannot overbook).';
grant execute on function app.prepare_booking() to rowguard_owner;

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger bookings_guard_update before update on app.bookings
  for each row execute function app.guard_booking_update();
create or replace trigger bookings_prepare before insert on app.bookings
  for each row execute function app.prepare_booking();
