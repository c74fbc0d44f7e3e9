-- An 86 that ends on its own: when an item or option sold out "until tomorrow" (or a named
-- time) is on sale again. Null: sold out until someone brings it back (or not sold out).
-- Until the fleet run reaches a restaurant, its 86es work without until
-- (shared/menus/eighty_six.py); `if not exists` lets a re-run pass.
alter table menu_items add column if not exists sold_out_until timestamptz;
alter table modifier_options add column if not exists sold_out_until timestamptz;
