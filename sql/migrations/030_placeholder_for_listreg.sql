-- Placeholder so that 031 loads on this branch (tern refuses gaps): 030 is the number of
-- branch listreg's 030_finance_project_tag_index.sql. Nothing here; delete this file when
-- merging (or renumber 031 to 030 if listreg's migration is not merged).
select 1;

---- create above / drop below ----

select 1;
