-- DELETE /v1/auth/me (issue 18): the caller erases their account. Everything is decided
-- in the kernel (auth.delete_account): the step-up, the last-OWNER refusal, what goes
-- and what stays.
create function api.delete_me() returns json
language plpgsql volatile as $$
begin
  perform auth.delete_account();
  return null;
end
$$;
comment on function api.delete_me() is
  'DELETE /v1/auth/me: needs a fresh proof (RGR03); RG409 naming the organizations of which the caller is the last OWNER; else the account is erased (auth.delete_account).';
