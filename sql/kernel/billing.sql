-- Billing: the free subscription of a new organization, plan limits enforced by trigger,
-- usage, and payment events applied once.
-- Part of the kernel code package (install.sql).

create or replace function app.billing_period_start() returns timestamptz
language sql stable parallel safe as $$
  select pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC')
$$;
comment on function app.billing_period_start() is 'Start of the current billing period: the calendar month, in UTC.';

set local role rowguard_kernel;

create or replace function app.add_free_subscription() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into app.subscriptions (org_id, plan_code) values (new.id, 'free');
  return null;
end
$$;
comment on function app.add_free_subscription() is 'AFTER INSERT on organizations: every organization starts on the free plan.';
grant execute on function app.add_free_subscription() to rowguard_owner;

-- How many rows of a kind an organization has (this period when per_month). NULL when
-- the kind's table does not exist yet. The five counted tables have their own static
-- statements (plans made once per connection: a dynamic statement was planned again at
-- every insert, tests/load -writes); any other counted table is counted dynamically.
-- (app.enforce_plan_limit has the five static counts written out, for the cost of a call.)
-- Not SECURITY DEFINER and no SET: its only callers, app.enforce_plan_limit and
-- app.plan_usage, already run as the kernel with search_path '' (a function's own
-- settings are switched in and out at every call: a plan-limit check paid that twice);
-- the API cannot execute it.
create or replace function app.count_usage(p_org_id uuid, p_kind platform.limit_kinds) returns bigint
language plpgsql stable as $$
declare
  v_since timestamptz := case when p_kind.per_month then app.billing_period_start() else '-infinity'::timestamptz end;
  v_used  bigint;
begin
  case p_kind.counted_table
  when 'app.projects' then
    select count(*) into v_used from app.projects t where t.org_id = p_org_id and t.created_at >= v_since;
  when 'app.memberships' then
    select count(*) into v_used from app.memberships t where t.org_id = p_org_id and t.created_at >= v_since;
  when 'app.services' then
    select count(*) into v_used from app.services t where t.org_id = p_org_id and t.created_at >= v_since;
  when 'app.bookings' then
    select count(*) into v_used from app.bookings t where t.org_id = p_org_id and t.created_at >= v_since;
  when 'app.financial_records' then
    select count(*) into v_used from app.financial_records t where t.org_id = p_org_id and t.created_at >= v_since;
  else
    if pg_catalog.to_regclass(p_kind.counted_table) is null then
      return null;
    end if;
    execute pg_catalog.format('select count(*) from %s where org_id = $1 and created_at >= $2',
                              pg_catalog.to_regclass(p_kind.counted_table))
       into v_used
      using p_org_id, v_since;
  end case;
  return v_used;
end
$$;
comment on function app.count_usage(uuid, platform.limit_kinds) is 'Rows of one limit kind an organization holds (this month for per-month kinds). Kernel-internal: the API cannot call it.';

create or replace function app.enforce_plan_limit() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_table text;
  v_month boolean;
  v_max   int;
  v_locked text;
  v_plan  text;
  v_since timestamptz;
  v_used  bigint;
  v_kind  platform.limit_kinds;
begin
  -- The kind and the organization's limit of it (no subscription: the free plan's), in
  -- one statement, which also takes the lock when there is a limit: inserts of one kind
  -- in one organization are serialized, and in READ COMMITTED the count below (the next
  -- statement, a new snapshot) then sees every row committed before the lock was
  -- granted, so two concurrent inserts cannot both take the last place.
  select k.counted_table, k.per_month, l.max_count,
         case when l.max_count is not null then
           pg_catalog.pg_advisory_xact_lock(
             pg_catalog.hashtextextended('rowguard.plan_limit:' || new.org_id::text || ':' || k.kind, 0))::text end
    into strict v_table, v_month, v_max, v_locked
    from platform.limit_kinds k
    left join platform.plan_limits l
      on l.kind = k.kind
     and l.plan_code = coalesce((select s.plan_code from app.subscriptions s where s.org_id = new.org_id), 'free')
   where k.kind = tg_argv[0];
  if v_max is null then
    return new; -- unlimited on this plan
  end if;
  -- app.count_usage's static counts, written out here (a call of it cost a PL/pgSQL
  -- function start on every insert, tests/load -writes): change both together.
  v_since := case when v_month then app.billing_period_start() else '-infinity'::timestamptz end;
  case v_table
  when 'app.projects' then
    select count(*) into v_used from app.projects t where t.org_id = new.org_id and t.created_at >= v_since;
  when 'app.memberships' then
    select count(*) into v_used from app.memberships t where t.org_id = new.org_id and t.created_at >= v_since;
  when 'app.services' then
    select count(*) into v_used from app.services t where t.org_id = new.org_id and t.created_at >= v_since;
  when 'app.bookings' then
    select count(*) into v_used from app.bookings t where t.org_id = new.org_id and t.created_at >= v_since;
  when 'app.financial_records' then
    select count(*) into v_used from app.financial_records t where t.org_id = new.org_id and t.created_at >= v_since;
  else
    select k.* into strict v_kind from platform.limit_kinds k where k.kind = tg_argv[0];
    v_used := app.count_usage(new.org_id, v_kind);
  end case;
  if v_used >= v_max then
    select k.* into strict v_kind from platform.limit_kinds k where k.kind = tg_argv[0];
    v_plan := coalesce((select s.plan_code from app.subscriptions s where s.org_id = new.org_id), 'free');
    raise exception 'the % plan allows % %; upgrade the plan to add more', v_plan, v_max, v_kind.description
      using errcode = 'RG402', column = v_kind.kind;
  end if;
  return new;
end
$$;
comment on function app.enforce_plan_limit() is
  'BEFORE INSERT trigger, argument: a platform.limit_kinds kind. Refuses the row (RG402 plan-limit-reached) when the organization''s plan limit of that kind is reached. Race-free: a transaction lock per organization and kind.';
grant execute on function app.enforce_plan_limit() to rowguard_owner;

create or replace function app.plan_usage(p_org_id uuid) returns json
language plpgsql stable security definer set search_path = '' as $$
declare
  v_plan text;
begin
  -- Usage is the organization's own business: its members, and platform admins.
  if not ((p_org_id = app.current_org_id() and app.current_org_role() is not null) or app.is_platform_admin()) then
    raise exception 'organization not found' using errcode = 'RG404';
  end if;
  v_plan := coalesce((select s.plan_code from app.subscriptions s where s.org_id = p_org_id), 'free');
  return (select pg_catalog.json_agg(pg_catalog.json_build_object(
                   'kind', k.kind, 'per_month', k.per_month, 'limit', l.max_count,
                   'used', coalesce(app.count_usage(p_org_id, k), 0)) order by k.kind)
            from platform.limit_kinds k
            left join platform.plan_limits l on l.kind = k.kind and l.plan_code = v_plan);
end
$$;
comment on function app.plan_usage(uuid) is 'Per limit kind: the organization''s limit (null: unlimited) and usage. Only for its members and platform admins (else RG404).';

-- The payment provider's webhook, after the HTTP layer verified its signature. The
-- event id is recorded first: a redelivery finds it and changes nothing. The plan comes
-- from our own checkout row (named by client_reference_id), never from the payload.
create or replace function app.apply_payment_event(p_event_id text, p_type text, p_checkout_id uuid,
                                        p_customer_id text, p_subscription_id text) returns json
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_org     uuid;
  v_plan    text;
  v_outcome text;
begin
  insert into platform.webhook_events (event_id, type, outcome) values (p_event_id, p_type, 'processing')
  on conflict (event_id) do nothing;
  if not found then
    return pg_catalog.json_build_object('event_id', p_event_id, 'outcome', 'duplicate');
  end if;

  case p_type
  when 'checkout.session.completed' then
    update app.checkout_sessions c set status = 'completed', completed_at = pg_catalog.now()
     where c.id = p_checkout_id and c.status = 'open'
    returning c.org_id, c.plan_code into v_org, v_plan;
    if v_org is null then
      v_outcome := 'ignored: no open checkout session with this reference';
    else
      update app.subscriptions s
         set plan_code = v_plan, plan_changed_at = pg_catalog.now(),
             provider_customer_id = coalesce(p_customer_id, s.provider_customer_id),
             provider_subscription_id = coalesce(p_subscription_id, s.provider_subscription_id)
       where s.org_id = v_org;
      v_outcome := 'plan changed to ' || v_plan;
    end if;
  when 'customer.subscription.deleted' then
    update app.subscriptions s
       set plan_code = 'free', plan_changed_at = pg_catalog.now(), provider_subscription_id = null
     where p_subscription_id is not null and s.provider_subscription_id = p_subscription_id
    returning s.org_id into v_org;
    v_outcome := case when v_org is null then 'ignored: unknown subscription' else 'plan changed to free' end;
  else
    v_outcome := 'ignored: event type not handled';
  end case;

  update platform.webhook_events e set outcome = v_outcome, org_id = v_org where e.event_id = p_event_id;
  return pg_catalog.json_build_object('event_id', p_event_id, 'outcome', v_outcome);
end
$$;
comment on function app.apply_payment_event(text, text, uuid, text, text) is
  'POST /v1/billing/webhook, after the signature is verified: records the event id (a duplicate changes nothing) and applies it — checkout.session.completed moves the organization of our checkout row to its plan; customer.subscription.deleted returns it to free.';

set local role rowguard_owner;

-- Where the triggers above are attached.
create or replace trigger bookings_plan_limit before insert on app.bookings
  for each row execute function app.enforce_plan_limit('bookings_per_month');
create or replace trigger financial_records_plan_limit before insert on app.financial_records
  for each row execute function app.enforce_plan_limit('financial_records_per_month');
create or replace trigger memberships_plan_limit before insert on app.memberships
  for each row execute function app.enforce_plan_limit('members');
create or replace trigger organizations_add_free_subscription after insert on app.organizations
  for each row execute function app.add_free_subscription();
create or replace trigger projects_plan_limit before insert on app.projects
  for each row execute function app.enforce_plan_limit('projects');
create or replace trigger services_plan_limit before insert on app.services
  for each row execute function app.enforce_plan_limit('services');
