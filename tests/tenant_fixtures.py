"""Creates real tenants (row, domains, schema, migrations) for tests, and removes them after."""

from __future__ import annotations

import uuid

from psycopg import sql

from shared import migrate
from shared.db import transaction
from shared.directory import directory_delete
from shared.tenancy import resolver
from shared.tenants import TenantRecord, tenant_by_slug


class TenantFactory:
    """`tenants.create(status="active")` → TenantRecord with host `<slug>.stelly.test`."""

    def __init__(self) -> None:
        self.created: list[tuple[str, list[str]]] = []

    def create(
        self,
        *,
        slug: str | None = None,
        status: str = "active",
        domains: list[str] | None = None,
        settings: dict | None = None,
        theme: dict | None = None,
    ) -> TenantRecord:
        slug = slug or f"t{uuid.uuid4().hex[:10]}"
        domains = domains or [f"{slug}.stelly.test"]
        schema = "tenant_" + slug.replace("-", "_")
        with transaction() as conn:
            row = conn.execute(
                """insert into tenants (slug, schema_name, display_name, status, settings, theme)
                   values (%s, %s, %s, %s, %s, %s) returning id""",
                [slug, schema, f"Restaurant {slug}", status, _json(settings), _json(theme)],
            ).fetchone()
            for i, domain in enumerate(domains):
                conn.execute(
                    "insert into tenant_domains (domain, tenant_id, is_primary)"
                    " values (%s, %s, %s)",
                    [domain, row["id"], i == 0],
                )
        migrate.migrate_tenant(schema)
        self.created.append((slug, domains))
        with transaction() as conn:
            record = tenant_by_slug(conn, slug)
        assert record is not None
        return record

    def create_behind(self, behind: tuple[migrate.Migration, ...]) -> str:
        """An active tenant with only the migrations behind applied; its schema name."""
        slug = f"t{uuid.uuid4().hex[:10]}"
        schema = create_behind(slug, behind)
        self.created.append((slug, []))
        return schema

    def cleanup(self) -> None:
        for slug, domains in self.created:
            for domain in domains:
                directory_delete(domain)
                resolver.invalidate(domain)
            with transaction() as conn:
                schema = "tenant_" + slug.replace("-", "_")
                conn.execute(
                    sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema))
                )
                conn.execute("delete from tenants where slug = %s", [slug])


def _json(value: dict | None):
    from psycopg.types.json import Jsonb

    return Jsonb(value or {})


def create_behind(slug: str, behind: tuple[migrate.Migration, ...]) -> str:
    """An active tenant (no domain) whose schema has exactly the migrations behind applied, as
    after deploying newer files; its schema name (TenantFactory.create_behind removes it after)."""
    schema = "tenant_" + slug.replace("-", "_")
    with transaction() as conn:
        conn.execute(
            """insert into tenants (slug, schema_name, display_name, status)
               values (%s, %s, %s, 'active')""",
            [slug, schema, slug],
        )
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        conn.execute("select set_config('search_path', %s, true)", [schema])
        conn.execute(
            """create table schema_migrations (version integer primary key,
                   filename text not null, checksum text not null,
                   applied_at timestamptz not null default now())"""
        )
        for migration in behind:
            conn.execute(migration.sql_text, prepare=False)
            conn.execute(
                "insert into schema_migrations (version, filename, checksum) values (%s, %s, %s)",
                [migration.version, migration.filename, migration.checksum],
            )
    return schema
