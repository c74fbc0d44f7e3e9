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

from shared.instants import utc_text


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


# What each version's row says besides its snapshot: which action made it and who.
_HEAD_COLUMNS = "version, etag, source, published_by, published_at"


def version_history(
    conn: psycopg.Connection, *, before: int | None, limit: int
) -> list[dict[str, Any]]:
    """Kept versions newest first, below `before` when given: `{"version", "etag", "source",
    "published_by", "published_at"}` each (source: publish, availability or image)."""
    below = "" if before is None else "where version < %(before)s"
    rows = conn.execute(
        f"select {_HEAD_COLUMNS} from menu_versions {below} order by version desc limit %(limit)s",
        {"before": before, "limit": limit},
    ).fetchall()
    return [{**row, "published_at": utc_text(row["published_at"])} for row in rows]


def published_version(conn: psycopg.Connection, version: int) -> dict[str, Any] | None:
    """One kept version with its snapshot as published (availability as it was then, not
    applied for now); None when there is no such row."""
    row = conn.execute(
        f"select {_HEAD_COLUMNS}, snapshot from menu_versions where version = %s", [version]
    ).fetchone()
    return {**row, "published_at": utc_text(row["published_at"])} if row else None
