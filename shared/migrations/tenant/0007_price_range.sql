-- Prices and price deltas up to 1,000,000,000 minor units (was 10,000,000): in rupiah or
-- Lebanese pounds, two-decimal currencies worth little, the old cap was about US$6 and US$1,
-- less than an ordinary main course. Still an integer; order amounts are bigint.
alter table menu_items
    drop constraint menu_items_price_check,
    add constraint menu_items_price_check check (price between 0 and 1000000000);
alter table modifier_options
    drop constraint modifier_options_price_delta_check,
    add constraint modifier_options_price_delta_check
        check (price_delta between 0 and 1000000000);
