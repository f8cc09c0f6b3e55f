-- Placeholder (branch finance18): migration number 024 is assigned to another branch, and
-- tern needs an unbroken sequence to reach 027. DELETE THIS FILE when the real 024 lands.
select 1;
---- create above / drop below ----
select 1;
