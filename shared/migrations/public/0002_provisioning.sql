-- Provisioning and fleet migrations (design §7).
-- tenants: who asked for the restaurant; a fingerprint of the provisioning request (the same
-- request again is the same operation, a different one for a taken slug is a conflict); which
-- orchestration attempt owns the row while it is being built (compensation only ever undoes its
-- own attempt's work); the durable instance that last acted on it; when it was deleted (the row
-- stays as a tombstone, so its domains keep answering 410 and its slug is never reused).
alter table tenants
    add column owner_email text check (length(owner_email) <= 254),
    add column provision_fingerprint text,
    add column provision_attempt text,
    add column last_operation text,
    add column deleted_at timestamptz;

-- The outcome of the last migration attempt per tenant schema: what a platform admin reads to
-- see which restaurants are current, which failed and why.
create table tenant_migration_status (
    schema_name text primary key check (schema_name ~ '^tenant_[a-z0-9_]{1,48}$'),
    tenant_id uuid references tenants (id) on delete cascade,
    version integer not null default 0,
    status text not null check (status in ('current', 'migrated', 'failed')),
    error text,
    duration_ms double precision not null default 0,
    operation_id text,
    updated_at timestamptz not null default now()
);

create index tenant_migration_status_failed_idx on tenant_migration_status (status)
    where status = 'failed';
