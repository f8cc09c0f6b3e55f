-- Tags as entities of a project (issue 18). Records keep their tags as text[] (GIN-
-- indexed, the tags_any / tags_all filters); this rollup answers "which tags does the
-- project use, on how many records, when last" without reading the ledger: as many rows
-- as distinct tags, whatever the number of records. Like the daily totals (013), it is
-- written only by the statement triggers of app.financial_records, in the same
-- transaction as the records (app.maintain_finance_tag_totals, sql/kernel/finance_tags.sql).
set local role rowguard_owner;

create table app.finance_tag_totals (
  org_id       uuid not null,
  project_id   uuid not null,
  tag          text not null,
  record_count bigint not null,
  last_used_at timestamptz not null,
  primary key (org_id, project_id, tag),
  constraint finance_tag_totals_project_fkey foreign key (org_id, project_id)
    references app.projects (org_id, id) on delete cascade
);
comment on table app.finance_tag_totals is
  'Per project and tag: how many live (not soft-deleted) records carry the tag, and when a write last put it on one. Written only by app.maintain_finance_tag_totals; a row whose count reaches 0 is removed.';
comment on column app.finance_tag_totals.last_used_at is
  'When a statement last added the tag to a live record (create, edit, restore, rename into it); the seed below uses the records'' updated_at.';

reset role;

-- The existing ledgers, read as the migrating role: the owner is under FORCE ROW LEVEL
-- SECURITY and would see none of them (the same note as 023).
insert into app.finance_tag_totals (org_id, project_id, tag, record_count, last_used_at)
select r.org_id, r.project_id, t.tag, count(*), max(r.updated_at)
  from app.financial_records r cross join lateral unnest(r.tags) as t(tag)
 where r.deleted_at is null
 group by r.org_id, r.project_id, t.tag;

---- create above / drop below ----

set local role rowguard_owner;
drop trigger if exists financial_records_tags_insert on app.financial_records;
drop trigger if exists financial_records_tags_update on app.financial_records;
drop trigger if exists financial_records_tags_delete on app.financial_records;
drop table app.finance_tag_totals;
reset role;
