-- Services and bookings: tenant isolation, who may do what, the status machine and the
-- capacity rule, all enforced by Postgres (policies, triggers) with no Go in between.
begin;
create extension if not exists pgtap;
select plan(33);
\ir fixtures/tenants.sql
\ir fixtures/bookings.sql

-- ------------------------------------------------ cross-tenant: alice in A
select pg_temp.act_as(:alice, :org_a);
select is((select count(*) from app.services), 2::bigint, 'A sees her two services');
select is((select count(*) from app.services where org_id = :org_b), 0::bigint, 'A cannot see B''s services');
select is((select count(*) from app.bookings where org_id = :org_b), 0::bigint, 'A cannot see B''s bookings');
select throws_ok($$insert into app.services (org_id, name, duration_minutes, price, currency) values ('bbbbbbbb-0000-4000-8000-000000000000', 'planted', 10, 1, 'EUR')$$,
                 '42501', null, 'A cannot add a service to B');
select is_empty($$update app.services set price = 0 where id = 'bbbbbbbb-0000-4000-8000-0000000000c1' returning id$$, 'A cannot change B''s service');
select is_empty($$delete from app.services where org_id = 'bbbbbbbb-0000-4000-8000-000000000000' returning id$$, 'A cannot delete B''s services');
select is_empty($$update app.bookings set status = 'cancelled' where id = 'bbbbbbbb-0000-4000-8000-0000000000d1' returning id$$, 'A cannot cancel B''s booking');
select throws_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('bbbbbbbb-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000c1', '2031-02-01 10:00+00', 'x', 'x@y.test', 'a1000000-0000-4000-8000-000000000001')$$,
                 '42501', null, 'A cannot book in B');
-- A row in A pointing at B's service: the composite foreign key (org_id, service_id) refuses.
select throws_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'bbbbbbbb-0000-4000-8000-0000000000c1', '2031-02-01 10:00+00', 'x', 'x@y.test', 'a1000000-0000-4000-8000-000000000001')$$,
                 'RG422', 'service not found', 'A cannot book B''s service into A');
select pg_temp.act_as(:alice, :org_b);
select is((select count(*) from app.services) + (select count(*) from app.bookings), 0::bigint, 'forged org B context: nothing of B visible');
select pg_temp.act_as(:sam, :org_a);
select is((select count(*) from app.services) + (select count(*) from app.bookings), 0::bigint, 'a stranger naming A sees nothing');
select pg_temp.act_as(null, null);
select is((select count(*) from app.services) + (select count(*) from app.bookings), 0::bigint, 'anonymous sees nothing');

-- ------------------------------------------------ roles: MEMBER mary
select pg_temp.act_as(:mary, :org_a);
select is((select count(*) from app.services), 2::bigint, 'MEMBER reads the services');
select throws_ok($$insert into app.services (org_id, name, duration_minutes, price, currency) values ('aaaaaaaa-0000-4000-8000-000000000000', 'by mary', 10, 1, 'EUR')$$,
                 '42501', null, 'MEMBER cannot add a service');
select is_empty($$update app.services set price = 0 returning id$$, 'MEMBER cannot change a service');
select lives_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c2', '2031-01-06 09:00+00', 'Sue', 'sue@x.test', 'a3000000-0000-4000-8000-000000000003')$$,
                'MEMBER books');
select is((select ends_at from app.bookings where customer_name = 'Sue'), '2031-01-06 10:00+00'::timestamptz, 'ends_at = starts_at + the service''s duration, set by the database');
select throws_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by, status) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c2', '2031-01-07 09:00+00', 'x', 'x@y.test', 'a3000000-0000-4000-8000-000000000003', 'confirmed')$$,
                 '42501', null, 'MEMBER cannot insert a booking already confirmed');
select throws_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c2', '2031-01-07 09:00+00', 'x', 'x@y.test', 'a1000000-0000-4000-8000-000000000001')$$,
                 '42501', null, 'MEMBER cannot book in someone else''s name');
select throws_ok($$update app.bookings set status = 'confirmed' where id = 'aaaaaaaa-0000-4000-8000-0000000000d1'$$,
                 '42501', null, 'MEMBER cannot confirm, even her own booking');
select isnt_empty($$update app.bookings set status = 'cancelled', cancel_reason = 'ill' where id = 'aaaaaaaa-0000-4000-8000-0000000000d1' returning id$$,
                  'MEMBER cancels her own booking');
select throws_ok($$delete from app.bookings$$, '42501', null, 'nobody deletes a booking through the API role');

-- ------------------------------------------------ ADMIN adam: the status machine
select pg_temp.act_as(:adam, :org_a);
select lives_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c1', '2031-01-08 09:00+00', 'Ann', 'ann@x.test', 'a2000000-0000-4000-8000-000000000002')$$,
                'ADMIN books');
select isnt_empty($$update app.bookings set status = 'confirmed' where customer_name = 'Sue' returning id$$, 'ADMIN confirms a member''s booking');
select throws_ok($$update app.bookings set status = 'completed' where customer_name = 'Ann'$$,
                 'RG409', 'a pending booking cannot become completed', 'pending → completed is illegal');
select lives_ok($$update app.bookings set status = 'confirmed' where customer_name = 'Ann'$$, 'ADMIN confirms');
select lives_ok($$update app.bookings set status = 'completed' where customer_name = 'Ann'$$, 'ADMIN completes');
select throws_ok($$update app.bookings set status = 'cancelled' where customer_name = 'Ann'$$,
                 'RG409', 'a completed booking cannot become cancelled', 'completed is final');
select throws_ok($$update app.bookings set status = 'pending' where id = 'aaaaaaaa-0000-4000-8000-0000000000d1'$$,
                 'RG409', 'a cancelled booking cannot become pending', 'cancelled is final');

-- ------------------------------------------------ capacity
-- "Cut" has capacity 1 and its 09:00 booking was cancelled, so 09:00 is free once.
select lives_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c1', '2031-01-06 09:00+00', 'Joe', 'joe@x.test', 'a2000000-0000-4000-8000-000000000002')$$,
                'a cancelled booking frees its slot');
select throws_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c1', '2031-01-06 09:15+00', 'Max', 'max@x.test', 'a2000000-0000-4000-8000-000000000002')$$,
                 'RG409', 'this slot is fully booked (capacity 1)', 'an overlapping booking beyond capacity is refused');
select lives_ok($$insert into app.bookings (org_id, service_id, starts_at, customer_name, customer_email, created_by) values ('aaaaaaaa-0000-4000-8000-000000000000', 'aaaaaaaa-0000-4000-8000-0000000000c1', '2031-01-06 09:30+00', 'Max', 'max@x.test', 'a2000000-0000-4000-8000-000000000002')$$,
                'the next slot (touching, not overlapping) is free');

-- ------------------------------------------------ nothing of B changed
select pg_temp.act_as_superuser();
select is((select status::text || ' ' || price::text from app.bookings b join app.services s on s.id = b.service_id where b.id = :b_b1),
          'pending 80.00', 'B''s booking and service are untouched');

select * from finish();
rollback;
