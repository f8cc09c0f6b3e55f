-- placeholder for migration 017 (another branch); dropped at merge
select 1;
---- create above / drop below ----
select 1;
