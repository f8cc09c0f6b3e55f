-- Plans that survive skewed tenants (issue 19). Multi-tenant data is always skewed: a few
-- huge projects, many small ones, in one table. Two things made the planner misjudge a
-- small project's records beside a large one:
--
-- 1. org_id and project_id were taken as independent: the estimate for "org X and
--    project Y" was the product of their selectivities, orders of magnitude below the
--    project's real size. A project belongs to one organization: extended statistics
--    (functional dependencies, distinct counts, common pairs) tell the planner so.
--    api.list_financial_records passes both as constants (EXECUTE … USING), so the
--    planner uses them.
-- 2. A page of one category had no index in its order: it read every record of the
--    category through (org_id, project_id, category_id, kind) and sorted them, whatever
--    the page size (3,054 rows for a page of 51 at 100,000 records). The category index
--    now continues in the paging order, so such a page is limit + 1 index entries too.
--    It still leads with the columns of the foreign key to app.finance_categories
--    (kind is checked on the row) and holds soft-deleted records as well, so it serves
--    that key's checks as the index it replaces did, and deleted=true pages of a category.
set local role rowguard_owner;

create statistics app.financial_records_tenant_stats (dependencies, ndistinct, mcv)
  on org_id, project_id from app.financial_records;
comment on statistics app.financial_records_tenant_stats is
  'A project belongs to one organization: without this the planner multiplies the two selectivities and underestimates every project''s records.';

create index financial_records_category_list_idx
  on app.financial_records (org_id, project_id, category_id, occurred_on desc, id desc);
drop index app.financial_records_category_idx;

analyze app.financial_records;

reset role;

---- create above / drop below ----

set local role rowguard_owner;
create index financial_records_category_idx on app.financial_records (org_id, project_id, category_id, kind);
drop index app.financial_records_category_list_idx;
drop statistics app.financial_records_tenant_stats;
reset role;
