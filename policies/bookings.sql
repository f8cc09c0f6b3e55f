-- Services and bookings. Every row is visible only in the organization the request acts
-- in, and only to its members. Who does what:
--
--   services   read: every member       create/change/delete: OWNER, ADMIN
--   bookings   read: every member       create (status pending): every member
--              confirm, complete, mark no_show, cancel: OWNER, ADMIN
--              cancel their own booking: the member who created it
--   Nobody deletes a booking (cancel it); a service with bookings cannot be deleted.
-- Which status may follow which is not a role question: app.guard_booking_update.

-- ----- app.services ---------------------------------------------------------------------
alter table app.services enable row level security;
alter table app.services force row level security;
grant select,
      insert (org_id, name, description, duration_minutes, price, currency, capacity, active),
      update (name, description, duration_minutes, price, currency, capacity, active),
      delete
   on app.services to rowguard_api;

create policy services_select on app.services for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) is not null);
comment on policy services_select on app.services is
  'Every member of the current organization reads its services; nobody else reads any.';

create policy services_insert on app.services for insert to rowguard_api
  with check (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy services_insert on app.services is
  'OWNER and ADMIN add services, only in the current organization.';

create policy services_update on app.services for update to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
  with check (org_id = (select app.current_org_id()));
comment on policy services_update on app.services is
  'OWNER and ADMIN change services of the current organization; a row can never move to another.';

create policy services_delete on app.services for delete to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy services_delete on app.services is
  'OWNER and ADMIN delete services of the current organization (the foreign key keeps those with bookings).';

grant select on app.services to rowguard_kernel;
create policy services_select_kernel on app.services for select to rowguard_kernel
  using (true);
comment on policy services_select_kernel on app.services is
  'app.prepare_booking reads the booked service (duration, capacity, active) of the row being inserted; app.enforce_plan_limit counts an organization''s services.';

-- ----- app.bookings ---------------------------------------------------------------------
alter table app.bookings enable row level security;
alter table app.bookings force row level security;
grant select,
      insert (org_id, service_id, starts_at, customer_name, customer_email, notes, created_by),
      update (status, cancel_reason)
   on app.bookings to rowguard_api;

create policy bookings_select on app.bookings for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) is not null);
comment on policy bookings_select on app.bookings is
  'Every member of the current organization reads its bookings; nobody else reads any.';

create policy bookings_insert on app.bookings for insert to rowguard_api
  with check (org_id = (select app.current_org_id())
              and (select app.current_org_role()) is not null
              and status = 'pending'
              and created_by = (select app.current_user_id()));
comment on policy bookings_insert on app.bookings is
  'Every member books, in the current organization, as themselves, and a booking starts pending.';

create policy bookings_update_staff on app.bookings for update to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
  with check (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy bookings_update_staff on app.bookings is
  'OWNER and ADMIN move any booking of the current organization along the status machine (confirm, complete, no_show, cancel).';

create policy bookings_update_own_cancel on app.bookings for update to rowguard_api
  using (org_id = (select app.current_org_id())
         and (select app.current_org_role()) is not null
         and created_by = (select app.current_user_id()))
  with check (org_id = (select app.current_org_id())
              and created_by = (select app.current_user_id())
              and status = 'cancelled');
comment on policy bookings_update_own_cancel on app.bookings is
  'A member may cancel a booking they created, and do nothing else to it.';

grant select on app.bookings to rowguard_kernel;
create policy bookings_select_kernel on app.bookings for select to rowguard_kernel
  using (true);
comment on policy bookings_select_kernel on app.bookings is
  'app.prepare_booking counts the bookings overlapping the new one (whatever the caller may read); app.enforce_plan_limit counts an organization''s bookings this month.';

grant execute on function app.booking_holds_slot(app.booking_status) to rowguard_kernel;
-- The BEFORE UPDATE trigger app.guard_booking_update runs as the caller.
grant execute on function app.booking_transition_allowed(app.booking_status, app.booking_status) to rowguard_api;

-- ----- the API functions of this domain -------------------------------------------------
grant execute on function
  api.service_json(app.services),
  api.booking_json(app.bookings),
  api.list_services(int, uuid, boolean),
  api.create_service(jsonb),
  api.get_service(uuid),
  api.update_service(uuid, jsonb),
  api.delete_service(uuid),
  api.list_bookings(int, uuid, app.booking_status, uuid, text, timestamptz, timestamptz),
  api.create_booking(uuid, timestamptz, text, text, text),
  api.get_booking(uuid),
  api.change_booking(uuid, app.booking_status, text),
  api.set_booking_status(uuid, app.booking_status),
  api.cancel_booking(uuid, text)
to rowguard_api;
