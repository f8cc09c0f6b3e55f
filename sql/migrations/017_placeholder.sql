-- placeholder: migration 017 comes from another branch (email-proof); the lead drops this file when merging.
-- (tern refuses a step without SQL, and an irreversible one on the way down: hence the no-ops.)
select 1;

---- create above / drop below ----

select 1;
