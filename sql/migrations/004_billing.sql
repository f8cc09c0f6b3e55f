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

-- Platform admins (operators) manage plans and tenants. A column, not a table: the API
-- role has no column grant on it, so no HTTP request can set it; only `rowguard admin
-- grant` (auth.grant_platform_admin, run with the migration role) does.
alter table auth.users add column if not exists is_platform_admin boolean not null default false;
comment on column auth.users.is_platform_admin is 'Operator of the whole platform. Set only by `rowguard admin grant EMAIL`; policies name it through app.is_platform_admin().';

-- The kernel's helpers (sql/kernel) run as rowguard_kernel.
grant usage on schema platform to rowguard_kernel;

reset role;
-- Organizations that exist already start on the free plan too. As the migration's own
-- role: rowguard_owner sees no organization (FORCE RLS). Where that role cannot read them
-- either, nothing is lost: a missing row reads as the free plan, not suspended.
insert into app.subscriptions (org_id) select id from app.organizations;

---- create above / drop below ----

set local role rowguard_owner;
-- policies/billing.sql put a kernel policy on a table that stays.
drop policy if exists projects_select_kernel on app.projects;
drop trigger if exists bookings_plan_limit on app.bookings;
drop trigger if exists services_plan_limit on app.services;
drop trigger if exists projects_plan_limit on app.projects;
drop trigger if exists memberships_plan_limit on app.memberships;
drop trigger if exists organizations_add_free_subscription on app.organizations;
drop table app.checkout_sessions;
drop type app.checkout_status;
drop table app.subscriptions;
drop function if exists app.billing_period_start();
alter table auth.users drop column is_platform_admin;
set local role rowguard_kernel;
drop function if exists app.apply_payment_event(text, text, uuid, text, text);
drop function if exists app.enforce_plan_limit();
drop function if exists app.count_usage(uuid, platform.limit_kinds);
drop function if exists app.add_free_subscription();
drop function if exists app.plan_usage(uuid);
drop function if exists app.is_platform_admin();
set local role rowguard_owner;
drop schema platform cascade;
reset role;
