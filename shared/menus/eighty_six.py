"""86'ing: marking items and options sold out (or back) in one call, live at once.

The flags change in the draft and, when the tenant has published, in a re-issued snapshot that
differs from the live one only in those flags, so customers see it on their next read while
other unpublished edits stay unpublished.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from shared.menus.models import AvailabilityChange, Toggle
from shared.menus.publish import reissue_with_availability
from shared.menus.published import latest_snapshot
from shared.menus.rows import Table, draft_transaction, live_ids, not_in_menu
from shared.menus.storefront import storefront_menus
from shared.tenants import TenantRecord


def _on_storefront(conn: psycopg.Connection) -> dict[Table, set[str]]:
    """The item and option ids of the live snapshot: what customers can order now."""
    found: dict[Table, set[str]] = {"menu_items": set(), "modifier_options": set()}
    for category in (latest_snapshot(conn) or {}).get("categories", []):
        for item in category["items"]:
            found["menu_items"].add(item["id"])
            for group in item["modifier_groups"]:
                found["modifier_options"].update(option["id"] for option in group["options"])
    return found


def _require_known(
    conn: psycopg.Connection, table: Table, toggles: list[Toggle], path: str
) -> set[UUID]:
    """The toggled ids live in the draft; 404 for one that is neither there nor on the storefront.

    An item the draft no longer has (an import replaced the draft, or it was deleted there) is
    still sold until the next publish, so it can still be 86'd.
    """
    ids = [toggle.id for toggle in toggles]
    in_draft = live_ids(conn, table, ids)
    missing = [(i, row_id) for i, row_id in enumerate(ids) if row_id not in in_draft]
    if missing:
        on_storefront = _on_storefront(conn)[table]
        for i, row_id in missing:
            if str(row_id) not in on_storefront:
                raise not_in_menu(table, row_id, f"{path}[{i}]")
    return in_draft


def _apply(
    conn: psycopg.Connection, table: Table, toggles: list[Toggle], path: str
) -> list[dict[str, Any]]:
    """Set the flags; one entry per toggle, `version` null for one only the storefront has."""
    if not toggles:
        return []
    in_draft = _require_known(conn, table, toggles, path)
    query = sql.SQL(
        """update {} t set available = v.available, version = t.version + 1, updated_at = now()
             from unnest(%s::uuid[], %s::boolean[]) as v (id, available)
            where t.id = v.id and t.deleted_at is null
        returning t.id, t.available, t.version"""
    ).format(sql.Identifier(table))
    drafted = [toggle for toggle in toggles if toggle.id in in_draft]
    ids = [toggle.id for toggle in drafted]
    rows = conn.execute(query, [ids, [toggle.available for toggle in drafted]]).fetchall()
    by_id = {row["id"]: row for row in rows}
    return [
        by_id.get(t.id, {"id": t.id, "available": t.available, "version": None}) for t in toggles
    ]


def _bump_groups_of(conn: psycopg.Connection, option_ids: list[Any]) -> None:
    """A group's representation lists its options' flags: a new flag is a new group version
    (and ETag), as every other option write makes it (shared/menus/modifiers.py)."""
    if option_ids:
        conn.execute(
            """update modifier_groups set version = version + 1, updated_at = now()
                where deleted_at is null and id in
                      (select group_id from modifier_options where id = any(%s))""",
            [option_ids],
        )


def set_availability(
    *, tenant: TenantRecord, change: AvailabilityChange, changed_by: str | None
) -> dict[str, Any]:
    """Apply change; `{"items", "options", "published_version"}` (None if nothing went live)."""
    with draft_transaction(tenant.schema_name) as conn:
        items = _apply(conn, "menu_items", change.items, "items")
        options = _apply(conn, "modifier_options", change.options, "options")
        _bump_groups_of(conn, [o["id"] for o in options if o["version"] is not None])
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
