-- Triggers every table shares: updated_at is the time of the last change.
-- Part of the kernel code package (install.sql).

create or replace function app.touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;
comment on function app.touch_updated_at() is 'BEFORE UPDATE trigger: updated_at is the time of the last change, whatever the client sent.';

-- Where the triggers above are attached.
create or replace trigger bookings_touch_updated_at before update on app.bookings
  for each row execute function app.touch_updated_at();
create or replace trigger finance_categories_touch_updated_at before update on app.finance_categories
  for each row execute function app.touch_updated_at();
create or replace trigger invitations_touch_updated_at before update on app.invitations
  for each row execute function app.touch_updated_at();
create or replace trigger memberships_touch_updated_at before update on app.memberships
  for each row execute function app.touch_updated_at();
create or replace trigger organizations_touch_updated_at before update on app.organizations
  for each row execute function app.touch_updated_at();
create or replace trigger project_members_touch_updated_at before update on app.project_members
  for each row execute function app.touch_updated_at();
create or replace trigger projects_touch_updated_at before update on app.projects
  for each row execute function app.touch_updated_at();
create or replace trigger services_touch_updated_at before update on app.services
  for each row execute function app.touch_updated_at();
create or replace trigger subscriptions_touch_updated_at before update on app.subscriptions
  for each row execute function app.touch_updated_at();
create or replace trigger users_touch_updated_at before update on auth.users
  for each row execute function app.touch_updated_at();
