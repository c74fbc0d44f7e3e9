"""What every menu table shares: find a live row, check its version, rank, update, soft delete.

Table names come from the `Table` literal only, never from a request, and are still composed as
identifiers. An id that is not in this tenant's schema (another tenant's, a deleted one, a made-up
one) is simply not found: 404, never 403 and never data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import sql

from shared import errors
from shared.db import tenant_transaction
from shared.versioning import Expected

Table = Literal["menu_categories", "menu_items", "modifier_groups", "modifier_options"]
NOUNS: dict[str, str] = {
    "menu_categories": "category",
    "menu_items": "item",
    "modifier_groups": "modifier group",
    "modifier_options": "option",
}


@contextmanager
def draft_transaction(schema: str) -> Iterator[psycopg.Connection]:
    """A tenant transaction holding the tenant's menu-writer lock until it ends.

    Writers touch several tables in different orders (an import retires items then groups, a
    group delete the reverse), so two of them at once could deadlock. Menu edits are rare and
    short, so they simply take turns per tenant; readers never wait.
    """
    with tenant_transaction(schema) as conn:
        conn.execute(
            "select pg_advisory_xact_lock(hashtextextended('stelly.menu.' || current_schema(), 0))"
        )
        yield conn


def not_in_menu(table: Table, row_id: UUID, path: str = "") -> errors.ProblemError:
    where = f"{path}: " if path else ""
    return errors.not_found(f"{where}no {NOUNS[table]} {row_id} in this menu")


def live_row(
    conn: psycopg.Connection,
    table: Table,
    row_id: UUID,
    *,
    lock: bool = False,
    expected: Expected | None = None,
    path: str = "",
) -> dict[str, Any]:
    """The row unless deleted or absent (404); locked for update and version-checked on request."""
    query = sql.SQL("select * from {} where id = %s and deleted_at is null{}").format(
        sql.Identifier(table), sql.SQL(" for update" if lock else "")
    )
    row = conn.execute(query, [row_id]).fetchone()
    if row is None:
        raise not_in_menu(table, row_id, path)
    if expected is not None:
        expected.check(row["version"], NOUNS[table])
    return row


def live_ids(conn: psycopg.Connection, table: Table, ids: Sequence[UUID]) -> set[UUID]:
    """Those of ids that are live (not deleted) rows of table."""
    if not ids:
        return set()
    query = sql.SQL("select id from {} where id = any(%s) and deleted_at is null").format(
        sql.Identifier(table)
    )
    return {row["id"] for row in conn.execute(query, [list(ids)])}


def _scope_filter(scope: tuple[str, UUID] | None) -> sql.Composable:
    if scope is None:
        return sql.SQL("")
    return sql.SQL(" and {} = %s").format(sql.Identifier(scope[0]))


def _scope_params(scope: tuple[str, UUID] | None) -> list[Any]:
    return [] if scope is None else [scope[1]]


def next_rank(conn: psycopg.Connection, table: Table, scope: tuple[str, UUID] | None = None) -> int:
    """One past the highest rank in scope (column, value), so new rows go last."""
    query = sql.SQL(
        "select coalesce(max(rank) + 1, 0) as rank from {} where deleted_at is null"
    ).format(sql.Identifier(table)) + _scope_filter(scope)
    return conn.execute(query, _scope_params(scope)).fetchone()["rank"]


def update_row(
    conn: psycopg.Connection, table: Table, row_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Set changes (column → value) and bump the version; the new row."""
    assignments = [sql.SQL("{} = %s").format(sql.Identifier(column)) for column in changes] + [
        sql.SQL("version = version + 1"),
        sql.SQL("updated_at = now()"),
    ]
    query = sql.SQL("update {} set {} where id = %s returning *").format(
        sql.Identifier(table), sql.SQL(", ").join(assignments)
    )
    return conn.execute(query, [*changes.values(), row_id]).fetchone()


def soft_delete(conn: psycopg.Connection, table: Table, row_ids: Sequence[UUID]) -> None:
    query = sql.SQL(
        "update {} set deleted_at = now(), version = version + 1, updated_at = now()"
        " where id = any(%s) and deleted_at is null"
    ).format(sql.Identifier(table))
    conn.execute(query, [list(row_ids)])


def reorder(
    conn: psycopg.Connection, table: Table, ids: Sequence[UUID], scope: tuple[str, UUID] | None
) -> None:
    """Give ids ranks 0..n-1; ids must be every live row in scope, each once.

    An id outside the scope is 404; a list that misses members is 409, because it was built
    from a menu that has changed since (someone added a row).
    """
    query = sql.Composed(
        [
            sql.SQL("select id, rank from {} where deleted_at is null").format(
                sql.Identifier(table)
            ),
            _scope_filter(scope),
            sql.SQL(" for update"),
        ]
    )
    current = {row["id"]: row["rank"] for row in conn.execute(query, _scope_params(scope))}
    for i, row_id in enumerate(ids):
        if row_id not in current:
            raise not_in_menu(table, row_id, f"ids[{i}]")
    missing = sorted(str(row_id) for row_id in current.keys() - set(ids))
    if missing:
        raise errors.conflict(
            f"ids must list every {NOUNS[table]} here; missing: {', '.join(missing[:10])}",
            missing=missing,
        )
    moved = [(rank, row_id) for rank, row_id in enumerate(ids) if current[row_id] != rank]
    update = sql.SQL(
        "update {} set rank = %s, version = version + 1, updated_at = now() where id = %s"
    ).format(sql.Identifier(table))
    with conn.cursor() as cursor:
        cursor.executemany(update, moved)
