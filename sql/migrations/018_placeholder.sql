-- placeholder for migration 018 (another branch); dropped at merge
select 1;
---- create above / drop below ----
select 1;
