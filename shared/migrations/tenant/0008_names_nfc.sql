-- Menu names in NFC, as every write stores them since the app composes text first: a name typed
-- with a combining accent before then (macOS, some Vietnamese keyboards) would otherwise never
-- match the same name typed today, and a dish could carry two identical-looking groups.
update menu_categories set name = normalize(name, NFC) where name is not nfc normalized;
update menu_items set name = normalize(name, NFC) where name is not nfc normalized;
update menu_items set description = normalize(description, NFC)
    where description is not nfc normalized;
update modifier_groups set name = normalize(name, NFC) where name is not nfc normalized;
update modifier_options set name = normalize(name, NFC) where name is not nfc normalized;
