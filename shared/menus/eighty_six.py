"""86'ing: marking items and options sold out (or back) in one call, live at once, optionally
until a time (shared/menus/sold_out.py).

The flags change in the draft and, when the tenant has published, in a re-issued snapshot that
differs from the live one only in those flags, so customers see it on their next read while
other unpublished edits stay unpublished.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from shared import errors
from shared.events.dispatch import dispatcher
from shared.instants import utc_text
from shared.menus.models import AvailabilityChange, Toggle
from shared.menus.namesakes import draft_places, live_places
from shared.menus.publish import reissue_with_availability, tell_the_kitchen
from shared.menus.published import latest_snapshot
from shared.menus.rows import Table, draft_transaction, live_ids, not_in_menu
from shared.menus.sold_out import back_on_sale_at
from shared.menus.storefront import storefront_menus
from shared.migrate import has_migration
from shared.restaurant_settings import RestaurantSettings, effective_settings
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
    conn: psycopg.Connection,
    table: Table,
    toggles: list[Toggle],
    untils: list[datetime | None],
    path: str,
    *,
    keeps_untils: bool,
) -> list[dict[str, Any]]:
    """Set the flags and untils; one entry per toggle, `version` null for one only the
    storefront has."""
    if not toggles:
        return []
    in_draft = _require_known(conn, table, toggles, path)
    query = sql.SQL(
        """update {} t set available = v.available{},
                  version = t.version + 1, updated_at = now()
             from unnest(%s::uuid[], %s::boolean[], %s::timestamptz[]) as v (id, available, until)
            where t.id = v.id and t.deleted_at is null
        returning t.id, t.available, t.version"""
    ).format(
        sql.Identifier(table),
        sql.SQL(", sold_out_until = v.until") if keeps_untils else sql.SQL(""),
    )
    flagged = list(zip(toggles, untils, strict=True))
    drafted = [(t.id, t.available, until) for t, until in flagged if t.id in in_draft]
    drafted += _namesakes(conn, table, [(t, u) for t, u in flagged if t.id not in in_draft])
    rows = conn.execute(
        query, [[d[0] for d in drafted], [d[1] for d in drafted], [d[2] for d in drafted]]
    ).fetchall()
    if table == "modifier_options":
        _bump_groups_of(conn, [row["id"] for row in rows])
    by_id = {row["id"]: row for row in rows}
    return [
        _answer(by_id.get(t.id, {"id": t.id, "available": t.available, "version": None}), until)
        for t, until in zip(toggles, untils, strict=True)
    ]


def _namesakes(
    conn: psycopg.Connection, table: Table, live_only: list[tuple[Toggle, datetime | None]]
) -> list[tuple[UUID, bool, datetime | None]]:
    """The draft rows standing for toggled ids only the live menu has: after an import, the
    new rows of the same names, so the publish that follows keeps the kitchen's 86 (or its
    bring-back) instead of the import's flags. A dish deleted from the draft has none."""
    if not live_only:
        return []
    flags = {str(t.id): (t.available, until) for t, until in live_only}
    wanted = {
        place: flags[live_id]
        for live_id, places in live_places(latest_snapshot(conn), table, flags).items()
        for place in places
    }
    return [
        (row_id, *wanted[place]) for row_id, place in draft_places(conn, table) if place in wanted
    ]


def _answer(row: dict[str, Any], until: datetime | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "available": row["available"],
        "sold_out_until": utc_text(until),
        "version": row["version"],
    }


def _untils(
    toggles: list[Toggle], settings: RestaurantSettings, now_utc: datetime, path: str
) -> list[datetime | None]:
    """When each toggle's 86 ends by itself; None for one with no until (or back on sale)."""
    return [
        (
            None
            if t.until is None
            else back_on_sale_at(t.until, settings, now_utc, f"{path}[{i}].until")
        )
        for i, t in enumerate(toggles)
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
    *,
    tenant: TenantRecord,
    change: AvailabilityChange,
    changed_by: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply change; `{"items", "options", "published_version"}` (None if nothing went live)."""
    now = now or datetime.now(UTC)
    settings = effective_settings(tenant)
    item_untils = _untils(change.items, settings, now, "items")
    option_untils = _untils(change.options, settings, now, "options")
    with draft_transaction(tenant.schema_name) as conn:
        # Tenant migration 0010 adds the columns: before it, an 86 works without until.
        keeps_untils = has_migration(conn, 10)
        if any(item_untils + option_untils) and not keeps_untils:
            raise errors.conflict(
                "This restaurant does not keep an 86's until yet (its database update is "
                "pending); 86 without until, or try again later"
            )
        items = _apply(
            conn, "menu_items", change.items, item_untils, "items", keeps_untils=keeps_untils
        )
        options = _apply(
            conn, "modifier_options", change.options, option_untils, "options",
            keeps_untils=keeps_untils,
        )  # fmt: skip
        reissued = reissue_with_availability(
            conn,
            items={str(e["id"]): (e["available"], e["sold_out_until"]) for e in items},
            options={str(e["id"]): (e["available"], e["sold_out_until"]) for e in options},
            published_by=changed_by,
        )
        if reissued is not None:
            tell_the_kitchen(conn, tenant, by=changed_by, now=now)
    storefront_menus.invalidate(tenant.schema_name)
    if reissued is not None:
        dispatcher.notify(tenant.schema_name, tenant.slug)
    return {
        "items": items,
        "options": options,
        "published_version": reissued["version"] if reissued else None,
    }
