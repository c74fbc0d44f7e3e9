-- Retention (README "Data kept and for how long"): snapshots that no order was priced from go
-- after 30 days, pickup phone numbers after 30 days.

-- Which snapshots orders were priced from (the purge keeps those, and the newest).
create index orders_menu_version_idx on orders (menu_version);
-- The orders still holding a phone number, oldest first.
create index orders_phone_kept_idx on orders (placed_at) where customer_phone is not null;

-- Still never changed; deleted only by the retention purge, which says so for its transaction.
create or replace function menu_versions_immutable() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' and current_setting('stelly.purging_menu_versions', true) = 'on' then
        return old;
    end if;
    raise exception 'menu_versions rows are immutable (version %)', old.version
        using errcode = 'restrict_violation';
end;
$$;
