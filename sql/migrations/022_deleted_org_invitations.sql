-- A soft-deleted organization (migration 020) kept recruiting: its pending invitations
-- were still listed to their invitees (app.my_invitation_organizations) and accepted
-- (app.lock_my_pending_invitation), so someone could join an organization its OWNER
-- had deleted, and be a member when it was restored. Both now treat an invitation to a
-- deleted organization as not there (404), until an OWNER restores it. The accept and
-- decline take a share lock on the organization row, so they serialize with a
-- concurrent soft delete (an UPDATE of that row) instead of racing it.
-- tests/e2e/deleted_org_invitations_test.go proves it.
select 1; -- everything this migration defined is code: sql/kernel
---- create above / drop below ----

select 1; -- its functions are code (sql/kernel), dropped with the kernel before migrating down
