"""Menu items in the draft menu: create, read, update, delete, reorder within a category."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from shared import errors
from shared.instants import utc_text
from shared.menus.models import ItemCreate, ItemPatch
from shared.menus.rows import (
    live_row,
    next_rank,
    not_in_menu,
    reorder,
    soft_delete,
    update_row,
)
from shared.text_rules import look_alike_key
from shared.versioning import Expected
from shared.weekly_windows import WeeklyWindows

ITEM_KEYS = (
    "id", "category_id", "name", "description", "price", "allergens", "dietary", "available",
    "windows", "station", "rank", "image", "image_status", "image_reason", "version",
)  # fmt: skip


def item_view(row: dict[str, Any], group_ids: list[UUID]) -> dict[str, Any]:
    return {
        **{key: row[key] for key in ITEM_KEYS},
        "sold_out_until": utc_text(row.get("sold_out_until")),
        "modifier_group_ids": group_ids,
    }


def _windows_json(windows: WeeklyWindows | None) -> Jsonb | None:
    return Jsonb(windows.as_data()) if windows is not None else None


def group_ids_by_item(conn: psycopg.Connection, item_ids: list[UUID]) -> dict[UUID, list[UUID]]:
    """Each item's live modifier groups in the item's order."""
    rows = conn.execute(
        """select l.item_id, l.group_id from item_modifier_groups l
             join modifier_groups g on g.id = l.group_id and g.deleted_at is null
            where l.item_id = any(%s) order by l.item_id, l.rank""",
        [item_ids],
    ).fetchall()
    found: dict[UUID, list[UUID]] = {item_id: [] for item_id in item_ids}
    for row in rows:
        found[row["item_id"]].append(row["group_id"])
    return found


def _view_of(conn: psycopg.Connection, row: dict[str, Any]) -> dict[str, Any]:
    return item_view(row, group_ids_by_item(conn, [row["id"]])[row["id"]])


def _link_groups(conn: psycopg.Connection, item_id: UUID, group_ids: list[UUID]) -> None:
    _require_linkable(conn, group_ids)
    conn.execute("delete from item_modifier_groups where item_id = %s", [item_id])
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into item_modifier_groups (item_id, group_id, rank) values (%s, %s, %s)",
            [(item_id, group_id, rank) for rank, group_id in enumerate(group_ids)],
        )


def _require_linkable(conn: psycopg.Connection, group_ids: list[UUID]) -> None:
    """404 for a group that is not live in this menu; 422 for a second group of one name on an
    item: two "Size" pickers confuse customers and the kitchen alike (import refuses it too)."""
    rows = conn.execute(
        "select id, name from modifier_groups where id = any(%s) and deleted_at is null",
        [group_ids],
    )
    names = {row["id"]: row["name"] for row in rows}
    seen: set[str] = set()
    for i, group_id in enumerate(group_ids):
        if group_id not in names:
            raise not_in_menu("modifier_groups", group_id, f"modifier_group_ids[{i}]")
        key = look_alike_key(names[group_id])  # "Size" and "SIZE" are one picker to a customer
        if key in seen:
            raise errors.invalid_field(
                f"modifier_group_ids[{i}]",
                f"another group named {names[group_id]!r} is already on this item",
            )
        seen.add(key)


def create_item(conn: psycopg.Connection, body: ItemCreate) -> dict[str, Any]:
    # Locked, so a concurrent delete of the category waits and then sees this item.
    live_row(conn, "menu_categories", body.category_id, lock=True, path="category_id")
    rank = body.rank
    if rank is None:
        rank = next_rank(conn, "menu_items", ("category_id", body.category_id))
    row = conn.execute(
        """insert into menu_items (category_id, name, description, price, allergens, dietary,
                                   available, windows, station, rank)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning *""",
        [
            body.category_id, body.name, body.description, body.price, body.allergens,
            body.dietary, body.available, _windows_json(body.windows), body.station, rank,
        ],
    ).fetchone()  # fmt: skip
    _link_groups(conn, row["id"], body.modifier_group_ids)
    return item_view(row, body.modifier_group_ids)


def get_item(conn: psycopg.Connection, item_id: UUID) -> dict[str, Any]:
    return _view_of(conn, live_row(conn, "menu_items", item_id))


def update_item(
    conn: psycopg.Connection, item_id: UUID, patch: ItemPatch, expected: Expected | None
) -> dict[str, Any]:
    """Apply the fields sent; moving to another category puts the item last there."""
    current = live_row(conn, "menu_items", item_id, lock=True, expected=expected)
    changes = patch.changes()
    group_ids = changes.pop("modifier_group_ids", None)
    if group_ids is not None:
        _link_groups(conn, item_id, group_ids)
    if changes.get("category_id") == current["category_id"]:
        del changes["category_id"]  # an edit form sending every field: not a move
    if "category_id" in changes:
        live_row(conn, "menu_categories", changes["category_id"], lock=True, path="category_id")
        if "rank" not in changes:
            changes["rank"] = next_rank(conn, "menu_items", ("category_id", changes["category_id"]))
    if "windows" in changes:
        changes["windows"] = _windows_json(changes["windows"])
    return _view_of(conn, update_row(conn, "menu_items", item_id, changes))


def delete_item(conn: psycopg.Connection, item_id: UUID, expected: Expected | None) -> None:
    live_row(conn, "menu_items", item_id, lock=True, expected=expected)
    soft_delete(conn, "menu_items", [item_id])


def reorder_items(
    conn: psycopg.Connection, category_id: UUID, ids: list[UUID]
) -> list[dict[str, Any]]:
    """Reorder a category's items; the items in their new order."""
    live_row(conn, "menu_categories", category_id, lock=True)
    reorder(conn, "menu_items", ids, ("category_id", category_id))
    rows = conn.execute(
        "select * from menu_items where category_id = %s and deleted_at is null order by rank",
        [category_id],
    ).fetchall()
    groups = group_ids_by_item(conn, [row["id"] for row in rows])
    return [item_view(row, groups[row["id"]]) for row in rows]
