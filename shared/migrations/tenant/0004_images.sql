-- Images (issue 6): which upload each target waits for, the brand images' state, and menu
-- versions re-issued by the image pipeline.

-- The upload id of the newest upload URL handed out for the item. The trigger processes only
-- that upload, so an older or forged blob can never replace a newer photo.
alter table menu_items add column image_upload uuid;

-- Logo and hero image: the renditions (theme.assets holds the URL storefronts use), the state
-- of the newest upload and the reason when it was rejected.
create table brand_images (
    kind text primary key check (kind in ('logo', 'hero')),
    image jsonb,
    status text not null default 'none' check (status in ('none', 'pending', 'ready', 'rejected')),
    reason text,
    upload uuid,
    updated_at timestamptz not null default now()
);

-- 'image': the live snapshot re-issued with one item's new photo (no publish needed).
alter table menu_versions drop constraint menu_versions_source_check;
alter table menu_versions add constraint menu_versions_source_check
    check (source in ('publish', 'availability', 'image'));
