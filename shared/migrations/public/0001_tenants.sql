-- The tenant registry (design §3): one row per restaurant, its domains beside it.
create table tenants (
    id uuid primary key default gen_random_uuid(),
    slug text not null unique check (slug ~ '^[a-z][a-z0-9-]{2,30}$'),
    schema_name text not null unique check (schema_name ~ '^tenant_[a-z0-9_]{1,48}$'),
    display_name text not null check (length(display_name) between 1 and 200),
    status text not null default 'provisioning'
        check (status in ('provisioning', 'active', 'suspended', 'deleting', 'deleted', 'failed')),
    status_reason text,
    theme jsonb not null default '{}'::jsonb,
    settings jsonb not null default '{}'::jsonb,
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create index tenants_status_idx on tenants (status);

create table tenant_domains (
    domain text primary key check (domain = lower(domain) and domain ~ '^[a-z0-9.-]+$'),
    tenant_id uuid not null references tenants (id) on delete cascade,
    is_primary boolean not null default false,
    created_at timestamptz not null default now()
);

create index tenant_domains_tenant_idx on tenant_domains (tenant_id);
-- At most one primary domain per tenant.
create unique index tenant_domains_one_primary on tenant_domains (tenant_id) where is_primary;
