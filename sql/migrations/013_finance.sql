-- Finance ledger of a project: categories, financial records (income and expense), per
-- organization exchange rates, and the daily rollup the analytics read instead of the
-- ledger. Who may do what is in policies/finance.sql (the Finance and Analytics domains
-- of sql/migrations/006_project_rbac.sql).
--
-- Rules no policy can express live here:
--   * a record's category is of the same project and kind (composite foreign key);
--   * currency is an ISO 4217 code (app.is_iso_currency);
--   * version rises by one on every change (If-Match of PATCH compares it);
--   * app.finance_daily_totals holds, per project × category × currency × kind × day,
--     the count and sum of the live (not soft-deleted) records, changed by the statement
--     triggers of app.financial_records in the same transaction as the records.
set local role rowguard_owner;

create type app.finance_kind as enum ('income', 'expense');
comment on type app.finance_kind is 'A financial record or category is income or expense.';

-- The documented set (README "Finance"); anything else goes under other + payment_reference.
create type app.payment_source as enum ('cash', 'card', 'bank_transfer', 'direct_debit', 'cheque', 'mobile_wallet', 'online', 'other');
comment on type app.payment_source is 'How money moved: cash, card, bank_transfer, direct_debit, cheque, mobile_wallet, online, other (details in payment_reference).';

-- ISO 4217 active codes (2024 list, funds and precious metals included; XTS test and XXX
-- "no currency" excluded). IMMUTABLE: usable in CHECK constraints.
create function app.is_iso_currency(p_code text) returns boolean
language sql immutable parallel safe as $$
  select p_code = any ('{AED,AFN,ALL,AMD,ANG,AOA,ARS,AUD,AWG,AZN,BAM,BBD,BDT,BGN,BHD,BIF,BMD,BND,BOB,BOV,BRL,BSD,BTN,BWP,BYN,BZD,CAD,CDF,CHE,CHF,CHW,CLF,CLP,CNY,COP,COU,CRC,CUC,CUP,CVE,CZK,DJF,DKK,DOP,DZD,EGP,ERN,ETB,EUR,FJD,FKP,GBP,GEL,GHS,GIP,GMD,GNF,GTQ,GYD,HKD,HNL,HTG,HUF,IDR,ILS,INR,IQD,IRR,ISK,JMD,JOD,JPY,KES,KGS,KHR,KMF,KPW,KRW,KWD,KYD,KZT,LAK,LBP,LKR,LRD,LSL,LYD,MAD,MDL,MGA,MKD,MMK,MNT,MOP,MRU,MUR,MVR,MWK,MXN,MXV,MYR,MZN,NAD,NGN,NIO,NOK,NPR,NZD,OMR,PAB,PEN,PGK,PHP,PKR,PLN,PYG,QAR,RON,RSD,RUB,RWF,SAR,SBD,SCR,SDG,SEK,SGD,SHP,SLE,SLL,SOS,SRD,SSP,STN,SVC,SYP,SZL,THB,TJS,TMT,TND,TOP,TRY,TTD,TWD,TZS,UAH,UGX,USD,USN,UYI,UYU,UYW,UZS,VED,VES,VND,VUV,WST,XAF,XAG,XAU,XBA,XBB,XBC,XBD,XCD,XDR,XOF,XPD,XPF,XPT,XSU,XUA,YER,ZAR,ZMW,ZWG,ZWL}'::text[])
$$;
comment on function app.is_iso_currency(text) is 'Is p_code an active ISO 4217 currency code (upper case)?';

-- Tags: lower-case words (letters, digits, - _ . :), at most 20 per record, no repeats.
create function app.tags_valid(p_tags text[]) returns boolean
language sql immutable parallel safe as $$
  select cardinality(p_tags) <= 20
     and array_position(p_tags, null) is null
     and (select bool_and(t ~ '^[a-z0-9][a-z0-9_.:-]{0,49}$') from unnest(p_tags) t) is not false
     and (select count(distinct t) = count(*) from unnest(p_tags) t)
$$;
comment on function app.tags_valid(text[]) is 'At most 20 distinct tags, each 1–50 of a-z 0-9 _ . : - (starting with a letter or digit).';

-- ---------------------------------------------------------------------------------------
-- Categories
-- ---------------------------------------------------------------------------------------
create table app.finance_categories (
  org_id     uuid not null,
  project_id uuid not null,
  id         uuid not null default app.uuid_v7() primary key,
  kind       app.finance_kind not null,
  name       text not null
             constraint finance_categories_name_check check (length(btrim(name)) between 1 and 100),
  archived   boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint finance_categories_org_id_id_key unique (org_id, id),
  -- The target of the records' composite key: same project, same kind.
  constraint finance_categories_project_kind_key unique (org_id, project_id, id, kind),
  constraint finance_categories_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade
);
comment on table app.finance_categories is
  'Income or expense categories of a project. Never deleted (records refer to them): archived ones take no new records.';
create unique index finance_categories_name_key on app.finance_categories (org_id, project_id, kind, lower(name));

-- ---------------------------------------------------------------------------------------
-- Financial records
-- ---------------------------------------------------------------------------------------
create table app.financial_records (
  org_id            uuid not null,
  project_id        uuid not null,
  id                uuid not null default app.uuid_v7() primary key,
  kind              app.finance_kind not null,
  amount            numeric(14, 2) not null
                    constraint financial_records_amount_check check (amount > 0),
  currency          text not null
                    constraint financial_records_currency_check check (app.is_iso_currency(currency)),
  category_id       uuid not null,
  tags              text[] not null default '{}'
                    constraint financial_records_tags_check check (app.tags_valid(tags)),
  payment_source    app.payment_source not null,
  payment_reference text
                    constraint financial_records_payment_reference_check check (length(payment_reference) <= 200),
  occurred_on       date not null
                    constraint financial_records_occurred_on_check check (occurred_on between '1900-01-01' and '2999-12-31'),
  description       text
                    constraint financial_records_description_check check (length(description) <= 2000),
  created_by        uuid,
  updated_by        uuid,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  deleted_at        timestamptz,
  version           int not null default 1,
  constraint financial_records_org_id_id_key unique (org_id, id),
  constraint financial_records_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade,
  -- NO ACTION: deleting a project cascades to records and categories in any order.
  constraint financial_records_category_id_fkey foreign key (org_id, project_id, category_id, kind)
    references app.finance_categories (org_id, project_id, id, kind) on delete no action,
  constraint financial_records_created_by_fkey foreign key (org_id, created_by)
    references app.memberships (org_id, user_id) on delete set null (created_by),
  constraint financial_records_updated_by_fkey foreign key (org_id, updated_by)
    references app.memberships (org_id, user_id) on delete set null (updated_by)
);
comment on table app.financial_records is
  'The ledger: one income or expense of a project. Soft-deleted (deleted_at) rows stay for restore and count nowhere.';
comment on column app.financial_records.version is 'Rises by one on every change; the ETag / If-Match of the API.';
-- The list: newest occurred_on first, keyset by (occurred_on, id), live rows of one project.
create index financial_records_list_idx on app.financial_records (org_id, project_id, occurred_on desc, id desc)
  where deleted_at is null;
create index financial_records_deleted_idx on app.financial_records (org_id, project_id, occurred_on desc, id desc)
  where deleted_at is not null;
create index financial_records_tags_idx on app.financial_records using gin (tags);
create index financial_records_category_idx on app.financial_records (org_id, project_id, category_id, kind);
-- The plan limit "financial records per month" counts an organization's rows since the 1st.
create index financial_records_org_id_created_at_idx on app.financial_records (org_id, created_at);

-- ---------------------------------------------------------------------------------------
-- Exchange rates (entered by the organization; never fetched from a rate service)
-- ---------------------------------------------------------------------------------------
create table app.exchange_rates (
  org_id        uuid not null references app.organizations (id) on delete cascade,
  rate_date     date not null,
  from_currency text not null constraint exchange_rates_from_currency_check check (app.is_iso_currency(from_currency)),
  to_currency   text not null constraint exchange_rates_to_currency_check check (app.is_iso_currency(to_currency)),
  rate          numeric(20, 10) not null constraint exchange_rates_rate_check check (rate > 0),
  created_at    timestamptz not null default now(),
  primary key (org_id, from_currency, to_currency, rate_date),
  constraint exchange_rates_distinct_check check (from_currency <> to_currency)
);
comment on table app.exchange_rates is
  '1 from_currency = rate to_currency from rate_date on (until a later rate). Analytics convert a day''s amounts at the latest rate on or before that day.';

-- ---------------------------------------------------------------------------------------
-- Idempotency of POST records: the key, the request's hash and the response, per user and project
-- ---------------------------------------------------------------------------------------
create table app.finance_idempotency_keys (
  org_id       uuid not null,
  project_id   uuid not null,
  user_id      uuid not null,
  key          text not null constraint finance_idempotency_keys_key_check check (length(key) between 1 and 200),
  request_hash bytea not null,
  response     json,
  created_at   timestamptz not null default now(),
  primary key (project_id, user_id, key),
  constraint finance_idempotency_keys_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade,
  constraint finance_idempotency_keys_user_fkey foreign key (org_id, user_id)
    references app.memberships (org_id, user_id) on delete cascade
);
comment on table app.finance_idempotency_keys is
  'Idempotency-Key of POST …/records: a retry with the same key and body returns response; another body with the same key is refused.';

-- ---------------------------------------------------------------------------------------
-- The rollup: what analytics read
-- ---------------------------------------------------------------------------------------
create table app.finance_daily_totals (
  org_id       uuid not null,
  project_id   uuid not null,
  day          date not null,
  kind         app.finance_kind not null,
  currency     text not null,
  category_id  uuid not null,
  record_count bigint not null,
  amount_sum   numeric not null,
  primary key (org_id, project_id, day, kind, currency, category_id),
  constraint finance_daily_totals_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade,
  constraint finance_daily_totals_category_fkey foreign key (org_id, category_id)
    references app.finance_categories (org_id, id) on delete cascade
);
comment on table app.finance_daily_totals is
  'Count and sum of the live financial records per project × day × kind × currency × category. Written only by app.maintain_finance_totals; a row whose count reaches 0 is removed.';

-- The same without the category: what the summary and the trends read (as many rows as
-- days × kinds × currencies, whatever the number of categories).
create table app.finance_daily_currency_totals (
  org_id       uuid not null,
  project_id   uuid not null,
  day          date not null,
  kind         app.finance_kind not null,
  currency     text not null,
  record_count bigint not null,
  amount_sum   numeric not null,
  primary key (org_id, project_id, day, kind, currency),
  constraint finance_daily_currency_totals_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade
);
comment on table app.finance_daily_currency_totals is
  'Count and sum of the live financial records per project × day × kind × currency (app.finance_daily_totals summed over categories). Written only by app.maintain_finance_totals.';

-- ---------------------------------------------------------------------------------------
-- The rollup trigger (kernel): statement-level, with transition tables, so a bulk insert
-- changes each rollup row once. Live rows of the old image are subtracted, live rows of
-- the new image added: insert, update (amount, category, kind, currency, day), soft
-- delete (deleted_at set) and restore (cleared) are all the same arithmetic.
-- ---------------------------------------------------------------------------------------
grant usage on schema app to rowguard_kernel;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists financial_records_plan_limit on app.financial_records;
drop trigger if exists financial_records_totals_insert on app.financial_records;
drop trigger if exists financial_records_totals_update on app.financial_records;
drop trigger if exists financial_records_totals_delete on app.financial_records;
drop table app.finance_daily_currency_totals;
drop table app.finance_daily_totals;
drop table app.finance_idempotency_keys;
drop table app.exchange_rates;
drop table app.financial_records;
drop function if exists app.bump_financial_record_version();
drop table app.finance_categories;
drop function if exists app.tags_valid(text[]);
drop function if exists app.is_iso_currency(text);
drop type app.payment_source;
drop type app.finance_kind;
set local role rowguard_kernel;
drop function if exists app.maintain_finance_totals();
reset role;
