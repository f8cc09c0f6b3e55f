-- Placeholder: keeps tern's numbering contiguous on branch pgtap-realdata (its migration is 021); dropped when merged.
select 'placeholder: migration 020 is another branch''s';

---- create above / drop below ----

select 'placeholder: migration 020 is another branch''s';
