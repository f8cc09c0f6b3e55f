-- Billing: the plan catalogue, each organization's subscription, usage limits enforced
-- at insert time, checkout sessions with the payment provider and the provider's webhook
-- events (each processed once).
--
-- Plan limits are one generic kernel trigger, app.enforce_plan_limit('<kind>'): a kind
-- names the table it counts (platform.limit_kinds), so a new limited table (the ledger's
-- financial records) needs one trigger line and its limit kind row, nothing else.
set local role rowguard_owner;

create schema platform;
comment on schema platform is 'Platform-level data that belongs to no tenant: the plan catalogue, the payment provider''s events, the operators'' audit log. Never called over HTTP.';

-- ---------------------------------------------------------------------------------------
-- The catalogue
-- ---------------------------------------------------------------------------------------
create table platform.plans (
  code              text primary key
                    constraint plans_code_check check (code ~ '^[a-z][a-z0-9_]{0,30}$'),
  name              text not null,
  price             numeric(12, 2) not null constraint plans_price_check check (price >= 0),
  currency          text not null constraint plans_currency_check check (currency ~ '^[A-Z]{3}$'),
  -- The provider's price id (Stripe: price_…); null for a plan nobody buys (free).
  provider_price_id text,
  position          int not null
);
comment on table platform.plans is 'The plans an organization may subscribe to. Readable by every signed-in user.';

create table platform.limit_kinds (
  kind          text primary key,
  counted_table text not null,
  per_month     boolean not null,
  description   text not null
);
comment on table platform.limit_kinds is 'What a plan can limit: rows of counted_table per organization (created this calendar month, UTC, when per_month). A counted_table that does not exist yet counts 0 and is enforced once its trigger exists.';

create table platform.plan_limits (
  plan_code text not null references platform.plans (code) on delete cascade,
  kind      text not null references platform.limit_kinds (kind),
  max_count int not null constraint plan_limits_max_count_check check (max_count >= 0),
  primary key (plan_code, kind)
);
comment on table platform.plan_limits is 'A plan''s limit of one kind. No row: unlimited.';

insert into platform.plans (code, name, price, currency, provider_price_id, position) values
  ('free', 'Free', 0, 'EUR', null, 1),
  ('pro', 'Pro', 29, 'EUR', 'price_rowguard_pro', 2),
  ('business', 'Business', 99, 'EUR', 'price_rowguard_business', 3);
insert into platform.limit_kinds (kind, counted_table, per_month, description) values
  ('members', 'app.memberships', false, 'members'),
  ('projects', 'app.projects', false, 'projects'),
  ('services', 'app.services', false, 'services'),
  ('bookings_per_month', 'app.bookings', true, 'bookings this month'),
  ('financial_records_per_month', 'app.financial_records', true, 'financial records this month');
insert into platform.plan_limits (plan_code, kind, max_count) values
  ('free', 'members', 10), ('free', 'projects', 25), ('free', 'services', 10),
  ('free', 'bookings_per_month', 100), ('free', 'financial_records_per_month', 200),
  ('pro', 'members', 50), ('pro', 'projects', 250), ('pro', 'services', 100),
  ('pro', 'bookings_per_month', 2000), ('pro', 'financial_records_per_month', 10000);
-- business: no rows, no limits.

-- ---------------------------------------------------------------------------------------
-- Subscriptions and checkout
-- ---------------------------------------------------------------------------------------
create table app.subscriptions (
  org_id                   uuid primary key references app.organizations (id) on delete cascade,
  plan_code                text not null default 'free' references platform.plans (code),
  provider_customer_id     text,
  provider_subscription_id text,
  plan_changed_at          timestamptz not null default now(),
  suspended_at             timestamptz,
  suspended_reason         text
                           constraint subscriptions_suspended_reason_check check (length(suspended_reason) <= 1000),
  created_at               timestamptz not null default now(),
  updated_at               timestamptz not null default now()
);
comment on table app.subscriptions is 'An organization''s standing with the platform: its plan, and whether an operator suspended it. One row per organization, created with it.';
comment on column app.subscriptions.suspended_at is 'Set by a platform admin; while set, auth.begin_request refuses every request in the organization (RGS03).';
create trigger subscriptions_touch_updated_at before update on app.subscriptions
  for each row execute function app.touch_updated_at();

create type app.checkout_status as enum ('open', 'completed');

create table app.checkout_sessions (
  org_id              uuid not null references app.organizations (id) on delete cascade,
  id                  uuid not null default app.uuid_v7() primary key,
  plan_code           text not null references platform.plans (code),
  status              app.checkout_status not null default 'open',
  provider_session_id text,
  url                 text,
  created_by          uuid,
  created_at          timestamptz not null default now(),
  completed_at        timestamptz,
  constraint checkout_sessions_org_id_id_key unique (org_id, id),
  constraint checkout_sessions_created_by_fkey foreign key (org_id, created_by)
    references app.memberships (org_id, user_id) on delete set null (created_by)
);
comment on table app.checkout_sessions is 'A plan purchase started by an OWNER: our id is the provider session''s client_reference_id, so the webhook finds the organization and plan here, not in the provider''s payload.';
create unique index checkout_sessions_provider_session_id_key on app.checkout_sessions (provider_session_id);

create table platform.webhook_events (
  event_id    text primary key,
  type        text not null,
  org_id      uuid,
  outcome     text not null,
  received_at timestamptz not null default now()
);
comment on table platform.webhook_events is 'Every payment-provider event processed, by the provider''s event id: a redelivered event finds its row and changes nothing (exactly-once).';

alter table platform.plans          enable row level security;
alter table platform.plans          force row level security;
alter table platform.limit_kinds    enable row level security;
alter table platform.limit_kinds    force row level security;
alter table platform.plan_limits    enable row level security;
alter table platform.plan_limits    force row level security;
alter table app.subscriptions       enable row level security;
alter table app.subscriptions       force row level security;
alter table app.checkout_sessions   enable row level security;
alter table app.checkout_sessions   force row level security;
alter table platform.webhook_events enable row level security;
alter table platform.webhook_events force row level security;

-- Platform admins (operators) manage plans and tenants. A column, not a table: the API
-- role has no column grant on it, so no HTTP request can set it; only `rowguard admin
-- grant` (auth.grant_platform_admin, run with the migration role) does.
alter table auth.users add column if not exists is_platform_admin boolean not null default false;
comment on column auth.users.is_platform_admin is 'Operator of the whole platform. Set only by `rowguard admin grant EMAIL`; policies name it through app.is_platform_admin().';

create function app.billing_period_start() returns timestamptz
language sql stable parallel safe as $$
  select pg_catalog.date_trunc('month', pg_catalog.now(), 'UTC')
$$;
comment on function app.billing_period_start() is 'Start of the current billing period: the calendar month, in UTC.';

-- ---------------------------------------------------------------------------------------
-- Kernel helpers (SECURITY DEFINER, rowguard_kernel, search_path '')
-- ---------------------------------------------------------------------------------------
grant usage on schema platform to rowguard_kernel;
grant create on schema app, platform to rowguard_kernel;
set local role rowguard_kernel;

create function app.add_free_subscription() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into app.subscriptions (org_id, plan_code) values (new.id, 'free');
  return null;
end
$$;
comment on function app.add_free_subscription() is 'AFTER INSERT on organizations: every organization starts on the free plan.';
grant execute on function app.add_free_subscription() to rowguard_owner;

-- How many rows of a kind an organization has (this period when per_month). NULL when
-- the kind's table does not exist yet.
create function app.count_usage(p_org_id uuid, p_kind platform.limit_kinds) returns bigint
language plpgsql stable security definer set search_path = '' as $$
declare
  v_used bigint;
begin
  if pg_catalog.to_regclass(p_kind.counted_table) is null then
    return null;
  end if;
  execute pg_catalog.format('select count(*) from %s where org_id = $1 and created_at >= $2',
                            pg_catalog.to_regclass(p_kind.counted_table))
     into v_used
    using p_org_id, case when p_kind.per_month then app.billing_period_start() else '-infinity'::timestamptz end;
  return v_used;
end
$$;
comment on function app.count_usage(uuid, platform.limit_kinds) is 'Rows of one limit kind an organization holds (this month for per-month kinds). Kernel-internal: the API cannot call it.';

create function app.enforce_plan_limit() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_kind  platform.limit_kinds;
  v_plan  text;
  v_max   int;
  v_used  bigint;
begin
  select * into strict v_kind from platform.limit_kinds k where k.kind = tg_argv[0];
  v_plan := coalesce((select s.plan_code from app.subscriptions s where s.org_id = new.org_id), 'free');
  select l.max_count into v_max from platform.plan_limits l where l.plan_code = v_plan and l.kind = v_kind.kind;
  if v_max is null then
    return new; -- unlimited on this plan
  end if;
  -- Serialize inserts of one kind in one organization: in READ COMMITTED the count below
  -- then sees every row committed before the lock was granted, so two concurrent inserts
  -- cannot both take the last place.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('rowguard.plan_limit:' || new.org_id::text || ':' || v_kind.kind, 0));
  v_used := app.count_usage(new.org_id, v_kind);
  if v_used >= v_max then
    raise exception 'the % plan allows % %; upgrade the plan to add more', v_plan, v_max, v_kind.description
      using errcode = 'RG402', column = v_kind.kind;
  end if;
  return new;
end
$$;
comment on function app.enforce_plan_limit() is
  'BEFORE INSERT trigger, argument: a platform.limit_kinds kind. Refuses the row (RG402 plan-limit-reached) when the organization''s plan limit of that kind is reached. Race-free: a transaction lock per organization and kind.';
grant execute on function app.enforce_plan_limit() to rowguard_owner;

create function app.is_platform_admin() returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((select u.is_platform_admin
                     from auth.users u
                    where u.id = nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid
                      and u.status = 'active'), false);
end
$$;
comment on function app.is_platform_admin() is 'Whether the caller is an active platform admin. Policies: (select app.is_platform_admin()).';

create function app.plan_usage(p_org_id uuid) returns json
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
create function app.apply_payment_event(p_event_id text, p_type text, p_checkout_id uuid,
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
revoke create on schema app, platform from rowguard_kernel;

create trigger organizations_add_free_subscription after insert on app.organizations
  for each row execute function app.add_free_subscription();
create trigger memberships_plan_limit before insert on app.memberships
  for each row execute function app.enforce_plan_limit('members');
create trigger projects_plan_limit before insert on app.projects
  for each row execute function app.enforce_plan_limit('projects');
create trigger services_plan_limit before insert on app.services
  for each row execute function app.enforce_plan_limit('services');
create trigger bookings_plan_limit before insert on app.bookings
  for each row execute function app.enforce_plan_limit('bookings_per_month');

reset role;
-- Organizations that exist already start on the free plan too. As the migration's own
-- role: rowguard_owner sees no organization (FORCE RLS). Where that role cannot read them
-- either, nothing is lost: a missing row reads as the free plan, not suspended.
insert into app.subscriptions (org_id) select id from app.organizations;

---- create above / drop below ----

set local role rowguard_owner;
-- policies/billing.sql put a kernel policy on a table that stays.
drop policy if exists projects_select_kernel on app.projects;
drop trigger bookings_plan_limit on app.bookings;
drop trigger services_plan_limit on app.services;
drop trigger projects_plan_limit on app.projects;
drop trigger memberships_plan_limit on app.memberships;
drop trigger organizations_add_free_subscription on app.organizations;
drop table app.checkout_sessions;
drop type app.checkout_status;
drop table app.subscriptions;
drop function app.billing_period_start();
alter table auth.users drop column is_platform_admin;
reset role;
set local role rowguard_kernel;
drop function app.apply_payment_event(text, text, uuid, text, text);
drop function app.enforce_plan_limit();
drop function app.count_usage(uuid, platform.limit_kinds);
drop function app.add_free_subscription();
drop function app.plan_usage(uuid);
drop function app.is_platform_admin();
reset role;
set local role rowguard_owner;
drop schema platform cascade;
reset role;
