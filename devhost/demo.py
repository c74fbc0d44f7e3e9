"""The demo tenant `make dev` sets up: slug `demo`, served at demo.localhost."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from shared.db import transaction
from shared.directory import directory_put
from shared.migrate import migrate_tenant
from shared.tenants import tenant_by_slug

DEMO_SETTINGS = {
    "business_name": "Demo Pizzeria",
    "currency": "EUR",
    "timezone": "Europe/Berlin",
    "locale": "en-GB",
    "tax": {"rate_bp": 1900, "inclusive": True},
}


async def ensure_demo_tenant(host: Any, slug: str) -> None:
    """Create the demo tenant directly if it does not exist yet (idempotent)."""
    await host.run_sync(_ensure_demo_tenant, slug)


def _ensure_demo_tenant(slug: str) -> None:
    schema = f"tenant_{slug}"
    with transaction() as conn:
        if tenant_by_slug(conn, slug) is None:
            row = conn.execute(
                """insert into tenants (slug, schema_name, display_name, status, settings)
                   values (%s, %s, %s, 'active', %s) returning id""",
                [slug, schema, DEMO_SETTINGS["business_name"], Jsonb(DEMO_SETTINGS)],
            ).fetchone()
            conn.execute(
                "insert into tenant_domains (domain, tenant_id, is_primary) values (%s, %s, true)",
                [f"{slug}.localhost", row["id"]],
            )
    migrate_tenant(schema)
    with transaction() as conn:
        record = tenant_by_slug(conn, slug)
    assert record is not None
    directory_put(f"{slug}.localhost", record)
