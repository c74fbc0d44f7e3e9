-- The menu (design §4): the draft that managers edit, and the immutable snapshots customers see.
-- Every mutable row carries `version` for optimistic concurrency and `deleted_at` for soft delete
-- (orders keep pointing at the ids of things that were later removed from the menu).

create table menu_categories (
    id uuid primary key default gen_random_uuid(),
    name text not null check (length(name) between 1 and 120),
    rank integer not null default 0,
    visible boolean not null default true,
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);
create index menu_categories_rank_idx on menu_categories (rank) where deleted_at is null;

create table menu_items (
    id uuid primary key default gen_random_uuid(),
    category_id uuid not null references menu_categories (id),
    name text not null check (length(name) between 1 and 120),
    description text not null default '' check (length(description) <= 1000),
    -- Minor units of the tenant's currency; the application bounds it more tightly.
    price integer not null check (price between 0 and 10000000),
    allergens text[] not null default '{}',
    dietary text[] not null default '{}',
    -- false = 86'd (sold out for now); windows null = whenever the restaurant serves.
    available boolean not null default true,
    windows jsonb,
    station text check (station ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    rank integer not null default 0,
    -- Written by the image pipeline: renditions once ready, the reason when rejected.
    image jsonb,
    image_status text not null default 'none'
        check (image_status in ('none', 'pending', 'ready', 'rejected')),
    image_reason text,
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);
create index menu_items_category_idx on menu_items (category_id, rank) where deleted_at is null;

create table modifier_groups (
    id uuid primary key default gen_random_uuid(),
    name text not null check (length(name) between 1 and 120),
    min_choices integer not null default 0 check (min_choices >= 0),
    max_choices integer not null check (max_choices >= 1),
    -- "First N free": the first free_quantity chosen options cost nothing.
    free_quantity integer not null default 0 check (free_quantity >= 0),
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz,
    check (min_choices <= max_choices)
);

create table modifier_options (
    id uuid primary key default gen_random_uuid(),
    group_id uuid not null references modifier_groups (id),
    name text not null check (length(name) between 1 and 120),
    price_delta integer not null default 0 check (price_delta between 0 and 10000000),
    is_default boolean not null default false,
    available boolean not null default true,
    rank integer not null default 0,
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);
create index modifier_options_group_idx on modifier_options (group_id, rank) where deleted_at is null;

-- Items ↔ groups (a "Toppings" group is shared by many pizzas); rank orders an item's groups.
create table item_modifier_groups (
    item_id uuid not null references menu_items (id),
    group_id uuid not null references modifier_groups (id),
    rank integer not null default 0,
    primary key (item_id, group_id)
);
create index item_modifier_groups_group_idx on item_modifier_groups (group_id);

-- Published snapshots: the storefront reads the newest row only (the unique index serves it).
create table menu_versions (
    id uuid primary key default gen_random_uuid(),
    version integer not null unique check (version >= 1),
    etag text not null,
    snapshot jsonb not null,
    -- 'publish' renders the draft; 'availability' re-issues the live snapshot after an 86.
    source text not null default 'publish' check (source in ('publish', 'availability')),
    published_by text,
    published_at timestamptz not null default now()
);

-- Snapshots are immutable: orders priced from version N must be explainable later.
create function menu_versions_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'menu_versions rows are immutable (version %)', old.version
        using errcode = 'restrict_violation';
end;
$$;
create trigger menu_versions_immutable before update or delete on menu_versions
    for each row execute function menu_versions_immutable();
