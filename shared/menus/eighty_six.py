"""86'ing: marking items and options sold out (or back) in one call, live at once.

The flags change in the draft and, when the tenant has published, in a re-issued snapshot that
differs from the live one only in those flags, so customers see it on their next read while
other unpublished edits stay unpublished.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from shared.menus.models import AvailabilityChange, Toggle
from shared.menus.publish import reissue_with_availability
from shared.menus.rows import Table, draft_transaction, require_live_ids
from shared.menus.storefront import storefront_menus
from shared.tenants import TenantRecord


def _apply(
    conn: psycopg.Connection, table: Table, toggles: list[Toggle], path: str
) -> list[dict[str, Any]]:
    if not toggles:
        return []
    require_live_ids(conn, table, [toggle.id for toggle in toggles], path)
    query = sql.SQL(
        """update {} t set available = v.available, version = t.version + 1, updated_at = now()
             from unnest(%s::uuid[], %s::boolean[]) as v (id, available)
            where t.id = v.id and t.deleted_at is null
        returning t.id, t.available, t.version"""
    ).format(sql.Identifier(table))
    ids = [toggle.id for toggle in toggles]
    rows = conn.execute(query, [ids, [toggle.available for toggle in toggles]]).fetchall()
    position = {row_id: i for i, row_id in enumerate(ids)}
    return sorted(rows, key=lambda row: position[row["id"]])


def set_availability(
    *, tenant: TenantRecord, change: AvailabilityChange, changed_by: str | None
) -> dict[str, Any]:
    """Apply change; `{"items", "options", "published_version"}` (None if nothing went live)."""
    with draft_transaction(tenant.schema_name) as conn:
        items = _apply(conn, "menu_items", change.items, "items")
        options = _apply(conn, "modifier_options", change.options, "options")
        reissued = reissue_with_availability(
            conn,
            items={str(t.id): t.available for t in change.items},
            options={str(t.id): t.available for t in change.options},
            published_by=changed_by,
        )
    storefront_menus.invalidate(tenant.schema_name)
    return {
        "items": items,
        "options": options,
        "published_version": reissued["version"] if reissued else None,
    }
