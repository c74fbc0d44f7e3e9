-- A restaurant can stop taking orders for a while (a busy kitchen, a broken oven) without
-- touching its hours: until when, why, who paused and since when, or null. Outside the
-- profile's version, so a kitchen pausing never makes a manager's settings ETag stale; it
-- changes the row's revision, which is what the directory and caches follow.
alter table tenants add column ordering_pause jsonb;
