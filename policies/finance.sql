-- Finance and analytics of a project (tables: sql/migrations/013_finance.sql, the monthly
-- rollup 029_finance_monthly_totals.sql). The levels
-- come from the project kernel (app.my_domain_project_ids, the matrix of
-- sql/kernel/role_matrix.sql), computed once per statement:
--
--   finance_categories      read: finance READ or analytics READ    create/change (archive): finance MANAGE
--   financial_records       read live rows: finance READ; soft-deleted ones too: finance MANAGE
--                           create, change, soft delete, restore: finance MANAGE   hard delete: nobody
--   finance_idempotency_keys  the caller's own keys, where they hold finance MANAGE (deleted
--                             once expired)
--   finance_daily_totals, finance_daily_currency_totals, finance_monthly_totals,
--   finance_monthly_currency_totals
--                           read: analytics READ     written only by the kernel trigger
--   exchange_rates          read: every member of the organization    write: org OWNER/ADMIN
-- Rows are always compared with the current organization too.

-- ----- app.finance_categories -----------------------------------------------------------
alter table app.finance_categories enable row level security;
alter table app.finance_categories force row level security;
grant select, insert (org_id, project_id, kind, name, archived), update (name, archived)
   on app.finance_categories to rowguard_api;

create policy finance_categories_select on app.finance_categories for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and (project_id = any ((select app.my_domain_project_ids('finance', 'READ'))::uuid[])
              or project_id = any ((select app.my_domain_project_ids('analytics', 'READ'))::uuid[])));
comment on policy finance_categories_select on app.finance_categories is
  'Finance READ reads a project''s categories (to file records), analytics READ too (to name the breakdown).';

create policy finance_categories_insert on app.finance_categories for insert to rowguard_api
  with check (org_id = (select app.current_org_id())
              and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]));
comment on policy finance_categories_insert on app.finance_categories is
  'Finance MANAGE adds categories to a project of the current organization.';

create policy finance_categories_update on app.finance_categories for update to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]))
  with check (org_id = (select app.current_org_id()));
comment on policy finance_categories_update on app.finance_categories is
  'Finance MANAGE renames and (un)archives categories; project and kind never change (no column grant).';

-- ----- app.financial_records ------------------------------------------------------------
alter table app.financial_records enable row level security;
alter table app.financial_records force row level security;
grant select,
      insert (org_id, project_id, kind, amount, currency, category_id, tags, payment_source,
              payment_reference, occurred_on, description, created_by, updated_by),
      update (kind, amount, currency, category_id, tags, payment_source, payment_reference,
              occurred_on, description, updated_by, deleted_at)
   on app.financial_records to rowguard_api;

create policy financial_records_select on app.financial_records for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'READ'))::uuid[])
         and (deleted_at is null
              or project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[])));
comment on policy financial_records_select on app.financial_records is
  'Finance READ reads the live records of a project; only finance MANAGE also sees soft-deleted ones (to restore them).';

create policy financial_records_insert on app.financial_records for insert to rowguard_api
  with check (org_id = (select app.current_org_id())
              and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[])
              and created_by = (select app.current_user_id())
              and updated_by = (select app.current_user_id()));
comment on policy financial_records_insert on app.financial_records is
  'Finance MANAGE records income and expenses, in a project of the current organization, as themselves.';

create policy financial_records_update on app.financial_records for update to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]))
  with check (org_id = (select app.current_org_id())
              and updated_by = (select app.current_user_id()));
comment on policy financial_records_update on app.financial_records is
  'Finance MANAGE changes, soft-deletes and restores records (deleted_at), signing the change as themselves.';

grant select on app.financial_records to rowguard_kernel;
create policy financial_records_select_kernel on app.financial_records for select to rowguard_kernel
  using (true);
comment on policy financial_records_select_kernel on app.financial_records is
  'app.enforce_plan_limit (via app.count_usage) counts an organization''s records this month.';
-- A tag rename or removal (app.change_finance_tag) rewrites tags as the kernel, so that its
-- per-record audit can be summed up in one entry that nobody else can forge.
grant update (tags, updated_by) on app.financial_records to rowguard_kernel;
create policy financial_records_update_kernel on app.financial_records for update to rowguard_kernel
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]))
  with check (org_id = (select app.current_org_id())
              and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[])
              and updated_by = (select app.current_user_id()));
comment on policy financial_records_update_kernel on app.financial_records is
  'app.change_finance_tag (a tag rename or removal) rewrites the tags of records of the current organization''s projects where the caller has finance MANAGE, signed as the caller.';

-- ----- app.finance_idempotency_keys -----------------------------------------------------
alter table app.finance_idempotency_keys enable row level security;
alter table app.finance_idempotency_keys force row level security;
grant select, insert (org_id, project_id, user_id, key, request_hash), update (request_hash, response, created_at)
   on app.finance_idempotency_keys to rowguard_api;

create policy finance_idempotency_keys_select on app.finance_idempotency_keys for select to rowguard_api
  using (org_id = (select app.current_org_id()) and user_id = (select app.current_user_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]));
comment on policy finance_idempotency_keys_select on app.finance_idempotency_keys is
  'A user reads their own idempotency keys (to replay a response), where they may still create records.';

create policy finance_idempotency_keys_insert on app.finance_idempotency_keys for insert to rowguard_api
  with check (org_id = (select app.current_org_id()) and user_id = (select app.current_user_id())
              and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]));
comment on policy finance_idempotency_keys_insert on app.finance_idempotency_keys is
  'A user records their own idempotency key with the POST that uses it.';

create policy finance_idempotency_keys_update on app.finance_idempotency_keys for update to rowguard_api
  using (org_id = (select app.current_org_id()) and user_id = (select app.current_user_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[]))
  with check (user_id = (select app.current_user_id()));
comment on policy finance_idempotency_keys_update on app.finance_idempotency_keys is
  'The POST that recorded a key stores its response on it; a key older than 24 hours is taken afresh.';

grant delete on app.finance_idempotency_keys to rowguard_api;
create policy finance_idempotency_keys_delete on app.finance_idempotency_keys for delete to rowguard_api
  using (org_id = (select app.current_org_id()) and user_id = (select app.current_user_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'MANAGE'))::uuid[])
         and created_at < now() - interval '24 hours');
comment on policy finance_idempotency_keys_delete on app.finance_idempotency_keys is
  'A POST with a key forgets the caller''s own expired keys (over 24 hours old) in that project: the table holds a day of keys, not all of them.';

-- ----- app.finance_daily_totals ---------------------------------------------------------
alter table app.finance_daily_totals enable row level security;
alter table app.finance_daily_totals force row level security;
grant select on app.finance_daily_totals to rowguard_api;
create policy finance_daily_totals_select on app.finance_daily_totals for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('analytics', 'READ'))::uuid[]));
comment on policy finance_daily_totals_select on app.finance_daily_totals is
  'Analytics READ reads a project''s rollup (what the analytics endpoints answer from).';

grant select, insert, update, delete on app.finance_daily_totals to rowguard_kernel;
create policy finance_daily_totals_all_kernel on app.finance_daily_totals for all to rowguard_kernel
  using (true) with check (true);
comment on policy finance_daily_totals_all_kernel on app.finance_daily_totals is
  'Only app.maintain_finance_totals (the statement trigger of financial_records) writes the rollup, from the rows the statement changed.';

-- ----- app.finance_daily_currency_totals ------------------------------------------------
alter table app.finance_daily_currency_totals enable row level security;
alter table app.finance_daily_currency_totals force row level security;
grant select on app.finance_daily_currency_totals to rowguard_api;
create policy finance_daily_currency_totals_select on app.finance_daily_currency_totals for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('analytics', 'READ'))::uuid[]));
comment on policy finance_daily_currency_totals_select on app.finance_daily_currency_totals is
  'Analytics READ reads a project''s per-currency rollup (summary and trends answer from it).';

grant select, insert, update, delete on app.finance_daily_currency_totals to rowguard_kernel;
create policy finance_daily_currency_totals_all_kernel on app.finance_daily_currency_totals for all to rowguard_kernel
  using (true) with check (true);
comment on policy finance_daily_currency_totals_all_kernel on app.finance_daily_currency_totals is
  'Only app.maintain_finance_totals (the statement trigger of financial_records) writes the rollup, from the rows the statement changed.';

-- ----- app.finance_monthly_totals -------------------------------------------------------
alter table app.finance_monthly_totals enable row level security;
alter table app.finance_monthly_totals force row level security;
grant select on app.finance_monthly_totals to rowguard_api;
create policy finance_monthly_totals_select on app.finance_monthly_totals for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('analytics', 'READ'))::uuid[]));
comment on policy finance_monthly_totals_select on app.finance_monthly_totals is
  'Analytics READ reads a project''s monthly rollup (the whole months of a summary, trend or breakdown).';

grant select, insert, update, delete on app.finance_monthly_totals to rowguard_kernel;
create policy finance_monthly_totals_all_kernel on app.finance_monthly_totals for all to rowguard_kernel
  using (true) with check (true);
comment on policy finance_monthly_totals_all_kernel on app.finance_monthly_totals is
  'Only app.maintain_finance_totals (the statement trigger of financial_records) writes the rollup, from the rows the statement changed.';

-- ----- app.finance_monthly_currency_totals ----------------------------------------------
alter table app.finance_monthly_currency_totals enable row level security;
alter table app.finance_monthly_currency_totals force row level security;
grant select on app.finance_monthly_currency_totals to rowguard_api;
create policy finance_monthly_currency_totals_select on app.finance_monthly_currency_totals for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('analytics', 'READ'))::uuid[]));
comment on policy finance_monthly_currency_totals_select on app.finance_monthly_currency_totals is
  'Analytics READ reads a project''s per-currency monthly rollup (the months of a summary or a monthly trend).';

grant select, insert, update, delete on app.finance_monthly_currency_totals to rowguard_kernel;
create policy finance_monthly_currency_totals_all_kernel on app.finance_monthly_currency_totals for all to rowguard_kernel
  using (true) with check (true);
comment on policy finance_monthly_currency_totals_all_kernel on app.finance_monthly_currency_totals is
  'Only app.maintain_finance_totals (the statement trigger of financial_records) writes the rollup, from the rows the statement changed.';

-- ----- app.exchange_rates ---------------------------------------------------------------
alter table app.exchange_rates enable row level security;
alter table app.exchange_rates force row level security;
grant select, insert (org_id, rate_date, from_currency, to_currency, rate), update (rate), delete
   on app.exchange_rates to rowguard_api;

create policy exchange_rates_select on app.exchange_rates for select to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) is not null);
comment on policy exchange_rates_select on app.exchange_rates is
  'Every member of the current organization reads its exchange rates.';

create policy exchange_rates_insert on app.exchange_rates for insert to rowguard_api
  with check (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy exchange_rates_insert on app.exchange_rates is 'Org OWNER and ADMIN enter exchange rates.';

create policy exchange_rates_update on app.exchange_rates for update to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN')
  with check (org_id = (select app.current_org_id()));
comment on policy exchange_rates_update on app.exchange_rates is 'Org OWNER and ADMIN correct exchange rates.';

create policy exchange_rates_delete on app.exchange_rates for delete to rowguard_api
  using (org_id = (select app.current_org_id()) and (select app.current_org_role()) >= 'ADMIN');
comment on policy exchange_rates_delete on app.exchange_rates is 'Org OWNER and ADMIN delete exchange rates.';

-- ----- functions ------------------------------------------------------------------------
-- app.finance_tag_keys: the expression of index financial_records_project_tags_idx, evaluated
-- by every write of a record's tags (migration 030).
grant execute on function app.is_iso_currency(text), app.tags_valid(text[]), app.finance_tag_keys(uuid, text[]) to rowguard_api;
-- The currency CHECK of the rollups (migration 023) runs as the trigger that writes them;
-- the records' CHECKs run as app.change_finance_tag when it rewrites tags.
grant execute on function app.is_iso_currency(text), app.tags_valid(text[]), app.finance_tag_keys(uuid, text[]) to rowguard_kernel;
grant execute on function
  api.list_finance_categories(uuid, app.finance_kind, boolean),
  api.create_finance_category(uuid, jsonb),
  api.update_finance_category(uuid, uuid, jsonb),
  api.archive_finance_category(uuid, uuid),
  api.create_financial_record(uuid, jsonb, text),
  api.list_financial_records(uuid, int, text, boolean, app.finance_kind, uuid, text[], text[], text, app.payment_source, date, date, numeric, numeric, text),
  api.get_financial_record(uuid, uuid),
  api.update_financial_record(uuid, uuid, jsonb, int),
  api.set_financial_record_deleted(uuid, uuid, boolean),
  api.finance_summary(uuid, date, date, text),
  api.finance_category_breakdown(uuid, date, date, app.finance_kind),
  api.finance_trends(uuid, text, date, date),
  api.finance_recent(uuid, int),
  api.list_exchange_rates(int, text, text, text),
  api.delete_exchange_rate(text, text, date),
  api.put_exchange_rate(jsonb)
to rowguard_api;
-- Building blocks of the functions above.
grant execute on function
  api.require_project_level(uuid, app.permission_domain, app.domain_level),
  api.finance_category_json(app.finance_categories),
  api.financial_record_json(app.financial_records),
  api.contains_pattern(text),
  api.record_matches_filters(app.financial_records, app.finance_kind, uuid, text[], text[], text, app.payment_source, date, date, numeric, numeric, text),
  api.check_record_category(uuid, uuid, app.finance_kind),
  api.tags_of(jsonb),
  api.insert_financial_record(uuid, jsonb),
  api.lock_financial_record(uuid, uuid, int),
  api.money(numeric),
  api.finance_period_parts(date, date),
  api.exchange_rate_json(app.exchange_rates)
to rowguard_api;
