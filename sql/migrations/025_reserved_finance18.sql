-- Placeholder (branch finance18): migration number 025 is assigned to another branch, and
-- tern needs an unbroken sequence to reach 027. DELETE THIS FILE when the real 025 lands.
select 1;
---- create above / drop below ----
select 1;
