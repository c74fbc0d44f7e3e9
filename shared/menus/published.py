"""Reading published menu snapshots: the newest `menu_versions` row, by its unique index.

The snapshot contract (orders price from it; keep these keys):
`{"version", "published_at", "currency", "categories": [{"id", "name", "rank", "visible",
"items": [{"id", "name", "description", "price", "allergens", "dietary", "available", "station",
"windows", "image", "modifier_groups": [{"id", "name", "min", "max", "free_quantity",
"options": [{"id", "name", "price_delta", "default", "available"}]}]}]}]}`.
"""

from __future__ import annotations

from typing import Any

import psycopg


def latest_snapshot(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The newest published snapshot, or None when the tenant never published."""
    row = conn.execute(
        "select snapshot from menu_versions order by version desc limit 1"
    ).fetchone()
    return row["snapshot"] if row else None


def latest_head(conn: psycopg.Connection) -> tuple[int, str] | None:
    """(version, etag) of the newest snapshot without reading it; None when never published."""
    row = conn.execute(
        "select version, etag from menu_versions order by version desc limit 1"
    ).fetchone()
    return (row["version"], row["etag"]) if row else None


def snapshot_at(conn: psycopg.Connection, version: int) -> dict[str, Any] | None:
    """The snapshot of one published version (what an order priced at that version saw)."""
    row = conn.execute(
        "select snapshot from menu_versions where version = %s", [version]
    ).fetchone()
    return row["snapshot"] if row else None
