-- PLACEHOLDER, not a migration: number 014 belongs to a migration being written on
-- another branch. tern refuses a gap in the numbers, so this branch carries a no-op
-- 014 for 015 to load. When the real 014 is merged, DELETE THIS FILE (two files
-- numbered 014 fail every migration with "Duplicate migration 14"). Never deploy a
-- database from a branch that still has it: the database would record 014 as applied.
select 'placeholder: migration 014 is another branch''s';

---- create above / drop below ----

select 'placeholder: migration 014 is another branch''s';
