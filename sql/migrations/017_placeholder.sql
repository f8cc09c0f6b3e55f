-- Placeholder for migration 017 (another branch); dropped when merging. tern needs a statement.
select 1;

---- create above / drop below ----

select 1;
