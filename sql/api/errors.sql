-- Turning "row-level security hid the row" into the right answer. An UPDATE or DELETE
-- whose USING clause rejects a row changes nothing and raises nothing; the caller then
-- asks whether the row is at least visible: visible → the role is too low (403);
-- invisible → it does not exist for this caller (404, never a hint it exists elsewhere).
create function api.raise_hidden_or_forbidden(p_visible boolean, p_what text) returns void
language plpgsql as $$
begin
  if p_visible then
    raise exception 'your role does not allow changing this %', p_what using errcode = 'RG403';
  end if;
  raise exception '% not found', p_what using errcode = 'RG404';
end
$$;
