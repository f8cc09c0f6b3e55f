-- placeholder for migration 019 (another branch); dropped at merge
select 1;
---- create above / drop below ----
select 1;
