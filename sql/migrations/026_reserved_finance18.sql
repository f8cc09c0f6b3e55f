-- Placeholder (branch finance18): migration number 026 is assigned to another branch, and
-- tern needs an unbroken sequence to reach 027. DELETE THIS FILE when the real 026 lands.
select 1;
---- create above / drop below ----
select 1;
