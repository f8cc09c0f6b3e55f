-- Bookings. The database sets ends_at, refuses a full slot (app.prepare_booking) and an
-- illegal status change (app.guard_booking_update); the policies decide who may.

create function api.booking_json(b app.bookings) returns json
language sql stable as $$
  select json_build_object(
           'id', b.id, 'org_id', b.org_id, 'service_id', b.service_id,
           'starts_at', b.starts_at, 'ends_at', b.ends_at,
           'customer', json_build_object('name', b.customer_name, 'email', b.customer_email),
           'notes', b.notes, 'status', b.status, 'cancel_reason', b.cancel_reason,
           'created_by', b.created_by, 'created_at', b.created_at, 'updated_at', b.updated_at)
$$;

create function api.list_bookings(p_limit int, p_cursor uuid, p_status app.booking_status, p_service_id uuid,
                                  p_customer_email text, p_from timestamptz, p_to timestamptz) returns json
language plpgsql stable as $$
declare
  v_items json[];
  v_ids   uuid[];
begin
  select array_agg(api.booking_json(b) order by b.id desc), array_agg(b.id order by b.id desc)
    into v_items, v_ids
    from (select *
            from app.bookings b
           where b.org_id = app.current_org_id()
             and b.id < api.cursor_or_max(p_cursor)
             and (p_status is null or b.status = p_status)
             and (p_service_id is null or b.service_id = p_service_id)
             and (p_customer_email is null or lower(b.customer_email) = lower(p_customer_email))
             and (p_from is null or b.starts_at >= p_from)
             and (p_to is null or b.starts_at < p_to)
           order by b.id desc
           limit p_limit + 1) b;
  return api.page_json(v_items, v_ids, p_limit);
end
$$;
comment on function api.list_bookings(int, uuid, app.booking_status, uuid, text, timestamptz, timestamptz) is
  'GET /v1/orgs/{org_id}/bookings: newest first, keyset-paginated; filters status, service, customer email, starts_at in [from, to).';

create function api.create_booking(p_service_id uuid, p_starts_at timestamptz, p_customer_name text,
                                   p_customer_email text, p_notes text) returns json
language plpgsql volatile as $$
declare
  v_booking app.bookings;
begin
  -- ends_at is set by the BEFORE INSERT trigger app.prepare_booking (NOT NULL is checked after it).
  insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, notes, created_by)
  values (app.current_org_id(), p_service_id, p_starts_at, btrim(p_customer_name),
          p_customer_email, p_notes, app.current_user_id())
  returning * into v_booking;
  return api.booking_json(v_booking);
end
$$;
comment on function api.create_booking(uuid, timestamptz, text, text, text) is
  'POST /v1/orgs/{org_id}/bookings: any member; pending; 409 when the slot is full, 422 for an unknown or inactive service.';

create function api.get_booking(p_booking_id uuid) returns json
language plpgsql stable as $$
declare
  v_booking json;
begin
  select api.booking_json(b) into v_booking
    from app.bookings b
   where b.org_id = app.current_org_id() and b.id = p_booking_id;
  if v_booking is null then
    raise exception 'booking not found' using errcode = 'RG404';
  end if;
  return v_booking;
end
$$;
comment on function api.get_booking(uuid) is 'GET /v1/orgs/{org_id}/bookings/{booking_id}: any member.';

create function api.change_booking(p_booking_id uuid, p_status app.booking_status, p_reason text) returns json
language plpgsql volatile as $$
declare
  v_booking app.bookings;
begin
  update app.bookings b
     set status = p_status,
         cancel_reason = case when p_status = 'cancelled' then p_reason else b.cancel_reason end
   where b.org_id = app.current_org_id() and b.id = p_booking_id
  returning b.* into v_booking;
  if v_booking.id is null then
    perform api.raise_hidden_or_forbidden(
      exists (select from app.bookings b where b.org_id = app.current_org_id() and b.id = p_booking_id), 'booking');
  end if;
  return api.booking_json(v_booking);
end
$$;

create function api.set_booking_status(p_booking_id uuid, p_status app.booking_status) returns json
language sql volatile as $$
  select api.change_booking(p_booking_id, p_status, null)
$$;
comment on function api.set_booking_status(uuid, app.booking_status) is
  'PATCH /v1/orgs/{org_id}/bookings/{booking_id}/status: OWNER/ADMIN; a member only cancels their own booking. Illegal transition → 409.';

create function api.cancel_booking(p_booking_id uuid, p_reason text) returns json
language sql volatile as $$
  select api.change_booking(p_booking_id, 'cancelled', p_reason)
$$;
comment on function api.cancel_booking(uuid, text) is
  'POST /v1/orgs/{org_id}/bookings/{booking_id}/cancel: OWNER/ADMIN, or the member who created the booking.';
