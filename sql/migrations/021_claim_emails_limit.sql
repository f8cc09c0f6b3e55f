-- auth.claim_emails claimed every due email instead of at most p_limit (migration 007).
-- Its `where o.id in (select … limit p_limit for update skip locked)` lets the planner
-- run the subquery as the inner side of a semi join, rescanned for every outer row; each
-- rescan skips the rows this very UPDATE has already changed and so finds the next due
-- ones, until the whole queue is claimed. One sender then holds (and leases) every due
-- email, and a replica beside it finds none. Collecting the ids once into an array (an
-- InitPlan, evaluated exactly once) claims at most p_limit rows whatever the plan.
-- tests/pgtap/55_email_outbox.sql proves it: of three due emails, claim_emails(2, …)
-- claims two.
select 1; -- everything this migration defined is code: sql/kernel
---- create above / drop below ----

select 1; -- its functions are code (sql/kernel), dropped with the kernel before migrating down
