"""Menu categories in the draft menu: create, read, update, delete, reorder."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from shared import errors
from shared.menus.models import CategoryCreate, CategoryPatch
from shared.menus.rows import live_row, next_rank, reorder, soft_delete, update_row
from shared.versioning import Expected

CATEGORY_KEYS = ("id", "name", "rank", "visible", "version")


def category_view(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in CATEGORY_KEYS}


def create_category(conn: psycopg.Connection, body: CategoryCreate) -> dict[str, Any]:
    rank = body.rank if body.rank is not None else next_rank(conn, "menu_categories")
    row = conn.execute(
        "insert into menu_categories (name, rank, visible) values (%s, %s, %s) returning *",
        [body.name, rank, body.visible],
    ).fetchone()
    return category_view(row)


def get_category(conn: psycopg.Connection, category_id: UUID) -> dict[str, Any]:
    return category_view(live_row(conn, "menu_categories", category_id))


def update_category(
    conn: psycopg.Connection, category_id: UUID, patch: CategoryPatch, expected: Expected | None
) -> dict[str, Any]:
    live_row(conn, "menu_categories", category_id, lock=True, expected=expected)
    return category_view(update_row(conn, "menu_categories", category_id, patch.changes()))


def delete_category(conn: psycopg.Connection, category_id: UUID, expected: Expected | None) -> None:
    """Soft-delete an empty category; one that still holds items is 409 (move or delete them)."""
    live_row(conn, "menu_categories", category_id, lock=True, expected=expected)
    items = conn.execute(
        "select count(*) as n from menu_items where category_id = %s and deleted_at is null",
        [category_id],
    ).fetchone()["n"]
    if items:
        raise errors.conflict(
            f"The category still holds {items} items; move or delete them first", items=items
        )
    soft_delete(conn, "menu_categories", [category_id])


def reorder_categories(conn: psycopg.Connection, ids: list[UUID]) -> list[dict[str, Any]]:
    reorder(conn, "menu_categories", ids, None)
    rows = conn.execute(
        "select * from menu_categories where deleted_at is null order by rank, name"
    ).fetchall()
    return [category_view(row) for row in rows]
