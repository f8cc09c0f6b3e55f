-- Finance tags of a project (issue 18): the rollup app.finance_tag_totals (table:
-- sql/migrations/026_finance_tags.sql, kept by sql/kernel/finance_tags.sql) and the
-- functions of GET …/tags, POST …/tags/rename, DELETE …/tags/{name} (sql/api/finance_tags.sql).
--
--   finance_tag_totals   read: finance READ (as the records it counts)   written only by the kernel trigger
-- Renaming and removing a tag change app.financial_records as the kernel
-- (app.change_finance_tag), under policy financial_records_update_kernel (finance MANAGE:
-- policies/finance.sql).

alter table app.finance_tag_totals enable row level security;
alter table app.finance_tag_totals force row level security;
grant select on app.finance_tag_totals to rowguard_api;
create policy finance_tag_totals_select on app.finance_tag_totals for select to rowguard_api
  using (org_id = (select app.current_org_id())
         and project_id = any ((select app.my_domain_project_ids('finance', 'READ'))::uuid[]));
comment on policy finance_tag_totals_select on app.finance_tag_totals is
  'Finance READ reads the tags a project''s live records carry (GET …/tags).';

grant select, insert, update, delete on app.finance_tag_totals to rowguard_kernel;
create policy finance_tag_totals_all_kernel on app.finance_tag_totals for all to rowguard_kernel
  using (true) with check (true);
comment on policy finance_tag_totals_all_kernel on app.finance_tag_totals is
  'Only app.maintain_finance_tag_totals (the statement trigger of financial_records) writes the rollup, from the rows the statement changed.';

grant execute on function
  api.list_finance_tags(uuid),
  api.rename_finance_tag(uuid, text, text),
  api.delete_finance_tag(uuid, text),
  api.change_finance_tag(uuid, text, text),
  app.change_finance_tag(uuid, text, text),
  app.finance_tagged_record_ids(uuid, text[], text[], date, uuid)
to rowguard_api;
-- app.audit_tag_operation is not granted: only app.change_finance_tag writes a summary.

-- CSV export of the records (sql/api/finance_export.sql): the records' own policies decide.
grant execute on function
  api.export_financial_records(uuid, boolean, app.finance_kind, uuid, text[], text[], text, app.payment_source, date, date, numeric, numeric, text),
  api.financial_record_cells(app.financial_records, text)
to rowguard_api;
