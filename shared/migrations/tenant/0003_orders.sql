-- Orders and the kitchen (design §4, §6): dining tables with QR versions, priced orders with
-- their lines and modifiers, every state change, idempotency keys, the event outbox, and the
-- counters that keep ticket numbers and event sequence numbers unique under concurrency.

create table dining_tables (
    id uuid primary key default gen_random_uuid(),
    label text not null check (length(label) between 1 and 40),
    seats integer check (seats between 1 and 100),
    -- Part of every QR token's signature: bumping it makes all printed codes invalid.
    qr_version integer not null default 1 check (qr_version >= 1),
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index dining_tables_label_key on dining_tables (lower(label));

-- One row per local business day. The upsert's row lock makes concurrent orders take numbers
-- one after another, so a number is never handed out twice. Orders take their number in a short
-- transaction of its own, so the lock is never held across an order's commit.
create table ticket_counters (
    business_date date primary key,
    last_number integer not null check (last_number >= 1)
);

create table orders (
    id uuid primary key,
    business_date date not null,
    ticket_number integer not null check (ticket_number >= 1),
    status text not null default 'placed'
        check (status in ('placed', 'accepted', 'preparing', 'ready', 'completed', 'cancelled')),
    version integer not null default 1,
    fulfilment_type text not null check (fulfilment_type in ('pickup', 'dine_in')),
    customer_name text,
    customer_phone text,
    table_id uuid references dining_tables (id) on delete set null,
    -- Copied so the order still says where it went after the table is renamed or removed.
    table_label text,
    currency text not null check (currency ~ '^[A-Z]{3}$'),
    subtotal bigint not null check (subtotal >= 0),
    tax bigint not null check (tax >= 0),
    tip bigint not null check (tip >= 0),
    total bigint not null check (total >= 0),
    tax_rate_bp integer not null,
    tax_inclusive boolean not null,
    menu_version integer not null,
    placed_at timestamptz not null,
    updated_at timestamptz not null,
    unique (business_date, ticket_number)
);
create index orders_open_idx on orders (placed_at)
    where status in ('placed', 'accepted', 'preparing', 'ready');
create index orders_placed_at_idx on orders (placed_at);

-- Lines keep the names and prices they were sold at; menu ids only point back.
create table order_items (
    id uuid primary key,
    order_id uuid not null references orders (id) on delete cascade,
    position integer not null,
    menu_item_id uuid not null,
    name text not null,
    station text,
    quantity integer not null check (quantity >= 1),
    unit_price bigint not null check (unit_price >= 0),
    line_total bigint not null check (line_total >= 0),
    note text,
    allergens text[] not null default '{}',
    unique (order_id, position)
);

create table order_item_modifiers (
    order_item_id uuid not null references order_items (id) on delete cascade,
    position integer not null,
    group_id uuid not null,
    group_name text not null,
    option_id uuid not null,
    name text not null,
    price_delta bigint not null,
    -- What the customer paid for it: 0 when it fell within the group's free quantity.
    charged bigint not null,
    primary key (order_item_id, position)
);

create table order_events (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null references orders (id) on delete cascade,
    from_status text,
    to_status text not null,
    actor text not null,
    reason text,
    occurred_at timestamptz not null
);
create index order_events_order_idx on order_events (order_id, occurred_at);

-- Stripe-style idempotency: `claim` marks the request in flight, response_* the stored answer.
create table idempotency_keys (
    key text primary key,
    request_hash text not null,
    claim uuid,
    claimed_at timestamptz not null default now(),
    response_status integer,
    response_body jsonb,
    expires_at timestamptz not null
);
create index idempotency_keys_expiry_idx on idempotency_keys (expires_at);

-- The outbox. Writers only insert (no shared row to lock, so concurrent orders commit, and share
-- WAL flushes, in parallel). `seq` is assigned later by the one publisher per tenant (under an
-- advisory lock) in `position` order, so seq order is the order events became visible: a reader
-- that has seen seq N has seen every smaller seq, and `events?after=N` never skips one.
create table outbox (
    position bigint generated always as identity primary key,
    seq bigint unique,
    id uuid not null unique,
    type text not null,
    order_id uuid,
    occurred_at timestamptz not null,
    data jsonb not null,
    groups text[] not null,
    published_at timestamptz,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text
);
create index outbox_unsequenced_idx on outbox (position) where seq is null;
create index outbox_pending_idx on outbox (seq) where published_at is null;
create index outbox_published_at_idx on outbox (published_at) where published_at is not null;

-- The last seq handed out; kept apart from the rows so purging old events never reuses a seq.
create table outbox_counter (
    only_row boolean primary key default true check (only_row),
    last_seq bigint not null
);
insert into outbox_counter (only_row, last_seq) values (true, 0);

-- Fixed-window request counters. Unlogged: losing them in a crash only forgives some requests.
create unlogged table rate_limit_windows (
    bucket text not null,
    window_start timestamptz not null,
    hits integer not null,
    primary key (bucket, window_start)
);
