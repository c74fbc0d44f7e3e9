-- Every change to a tenant row takes the next number of one sequence (design §3). The tenant
-- directory in Table Storage is written after the commit, by concurrent writers and by cache
-- refills that read Postgres a moment earlier; it keeps the entry with the highest revision, so
-- none of them can put an older record back over a newer one. One sequence for every tenant:
-- a domain that passes to a new restaurant carries on with higher numbers.
create sequence tenant_revisions;

alter table tenants add column revision bigint not null default nextval('tenant_revisions');

create function next_tenant_revision() returns trigger language plpgsql as $$
begin
    -- Qualified: tenant transactions run with only their own schema on the search path.
    new.revision := nextval('public.tenant_revisions');
    return new;
end
$$;

create trigger tenants_next_revision before update on tenants
    for each row execute function next_tenant_revision();
