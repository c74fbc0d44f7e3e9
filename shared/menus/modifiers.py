"""Modifier groups and their options in the draft menu.

A group's numbers are re-checked on every write that could break them (min ≤ max ≤ options,
free_quantity ≤ max, defaults ≤ max). Writes to an option lock its group first, the same order
as deleting a group, so two editors never deadlock; they also bump the group's version, because
the group's representation includes its options.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from shared import errors
from shared.errors import FieldError
from shared.instants import utc_text
from shared.menus.models import (
    MAX_OPTIONS_PER_GROUP,
    GroupCreate,
    GroupPatch,
    OptionAdd,
    OptionCreate,
    OptionPatch,
    group_rule_errors,
)
from shared.menus.rows import live_row, next_rank, reorder, soft_delete, update_row
from shared.text_rules import look_alike_key
from shared.versioning import Expected

# API names → column names where they differ (`default` is an SQL keyword).
GROUP_COLUMNS = {"min": "min_choices", "max": "max_choices"}
OPTION_COLUMNS = {"default": "is_default"}


def option_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "group_id": row["group_id"],
        "name": row["name"],
        "price_delta": row["price_delta"],
        "default": row["is_default"],
        "available": row["available"],
        "sold_out_until": utc_text(row.get("sold_out_until")),
        "rank": row["rank"],
        "version": row["version"],
    }


def group_view(row: dict[str, Any], options: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "min": row["min_choices"],
        "max": row["max_choices"],
        "free_quantity": row["free_quantity"],
        "version": row["version"],
        "options": options,
    }


def options_by_group(
    conn: psycopg.Connection, group_ids: list[UUID]
) -> dict[UUID, list[dict[str, Any]]]:
    """Each group's live options (views) in rank order."""
    rows = conn.execute(
        """select * from modifier_options where group_id = any(%s) and deleted_at is null
            order by group_id, rank, name""",
        [group_ids],
    ).fetchall()
    found: dict[UUID, list[dict[str, Any]]] = {group_id: [] for group_id in group_ids}
    for row in rows:
        found[row["group_id"]].append(option_view(row))
    return found


def _group_view_of(conn: psycopg.Connection, row: dict[str, Any]) -> dict[str, Any]:
    return group_view(row, options_by_group(conn, [row["id"]])[row["id"]])


def _insert_options(
    conn: psycopg.Connection, group_id: UUID, options: list[OptionCreate], first_rank: int
) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(
            """insert into modifier_options (group_id, name, price_delta, is_default, available,
                                             rank)
               values (%s, %s, %s, %s, %s, %s)""",
            [
                (group_id, o.name, o.price_delta, o.default, o.available, first_rank + i)
                for i, o in enumerate(options)
            ],
        )


def _option_counts(conn: psycopg.Connection, group_id: UUID) -> dict[str, int]:
    return conn.execute(
        """select count(*) as options, count(*) filter (where is_default) as defaults
             from modifier_options where group_id = %s and deleted_at is null""",
        [group_id],
    ).fetchone()


def create_group(conn: psycopg.Connection, body: GroupCreate) -> dict[str, Any]:
    row = conn.execute(
        """insert into modifier_groups (name, min_choices, max_choices, free_quantity)
           values (%s, %s, %s, %s) returning *""",
        [body.name, body.min, body.max, body.free_quantity],
    ).fetchone()
    _insert_options(conn, row["id"], body.options, 0)
    return _group_view_of(conn, row)


def get_group(conn: psycopg.Connection, group_id: UUID) -> dict[str, Any]:
    return _group_view_of(conn, live_row(conn, "modifier_groups", group_id))


def update_group(
    conn: psycopg.Connection, group_id: UUID, patch: GroupPatch, expected: Expected | None
) -> dict[str, Any]:
    row = live_row(conn, "modifier_groups", group_id, lock=True, expected=expected)
    changes = patch.changes()
    counts = _option_counts(conn, group_id)
    broken = group_rule_errors(
        min_choices=changes.get("min", row["min_choices"]),
        max_choices=changes.get("max", row["max_choices"]),
        free_quantity=changes.get("free_quantity", row["free_quantity"]),
        options=counts["options"],
        defaults=counts["defaults"],
    )
    if broken:
        # A PATCH changes no option, so too many defaults can only be the new max's doing.
        raise errors.validation_failed(
            [FieldError("max" if path == "options" else path, message) for path, message in broken]
        )
    if changes.get("name", row["name"]) != row["name"]:
        _require_name_free_on_its_items(conn, group_id, changes["name"])
    columns = {GROUP_COLUMNS.get(name, name): value for name, value in changes.items()}
    return _group_view_of(conn, update_row(conn, "modifier_groups", group_id, columns))


def _require_name_free_on_its_items(conn: psycopg.Connection, group_id: UUID, name: str) -> None:
    """409 when an item this group is on has another group of that name, case and look-alikes
    aside (see items.py)."""
    others = conn.execute(
        """select i.name, g.name as group_name from item_modifier_groups mine
             join menu_items i on i.id = mine.item_id and i.deleted_at is null
             join item_modifier_groups other on other.item_id = mine.item_id
                  and other.group_id <> mine.group_id
             join modifier_groups g on g.id = other.group_id and g.deleted_at is null
            where mine.group_id = %s""",
        [group_id],
    ).fetchall()
    key = look_alike_key(name)
    clash = next((row for row in others if look_alike_key(row["group_name"]) == key), None)
    if clash is not None:
        raise errors.conflict(
            f"{clash['name']} already has a group named {name!r}; rename that one first"
        )


def delete_group(conn: psycopg.Connection, group_id: UUID, expected: Expected | None) -> None:
    """Soft-delete a group and its options and detach it from every item (their versions bump)."""
    live_row(conn, "modifier_groups", group_id, lock=True, expected=expected)
    conn.execute(
        """update modifier_options set deleted_at = now(), version = version + 1
            where group_id = %s and deleted_at is null""",
        [group_id],
    )
    soft_delete(conn, "modifier_groups", [group_id])
    conn.execute(
        """with detached as (delete from item_modifier_groups where group_id = %s
                             returning item_id)
           update menu_items set version = version + 1, updated_at = now()
            where id in (select item_id from detached)""",
        [group_id],
    )


def _lock_option(
    conn: psycopg.Connection, option_id: UUID, expected: Expected | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(group, option), both locked, group first."""
    group_id = live_row(conn, "modifier_options", option_id)["group_id"]
    group = live_row(conn, "modifier_groups", group_id, lock=True)
    return group, live_row(conn, "modifier_options", option_id, lock=True, expected=expected)


def _check_defaults(group: dict[str, Any], defaults: int) -> None:
    if defaults > group["max_choices"]:
        raise errors.invalid_field(
            "default",
            f"the group has {defaults - 1} default options and allows {group['max_choices']}",
        )


def add_option(conn: psycopg.Connection, group_id: UUID, body: OptionAdd) -> dict[str, Any]:
    group = live_row(conn, "modifier_groups", group_id, lock=True)
    counts = _option_counts(conn, group_id)
    if counts["options"] >= MAX_OPTIONS_PER_GROUP:
        raise errors.conflict(f"A group holds at most {MAX_OPTIONS_PER_GROUP} options")
    if body.default:
        _check_defaults(group, counts["defaults"] + 1)
    _require_option_name_free(conn, group_id, body.name)
    rank = body.rank
    if rank is None:
        rank = next_rank(conn, "modifier_options", ("group_id", group_id))
    row = conn.execute(
        """insert into modifier_options (group_id, name, price_delta, is_default, available, rank)
           values (%s, %s, %s, %s, %s, %s) returning *""",
        [group_id, body.name, body.price_delta, body.default, body.available, rank],
    ).fetchone()
    update_row(conn, "modifier_groups", group_id, {})
    return option_view(row)


def _require_option_name_free(
    conn: psycopg.Connection, group_id: UUID, name: str, *, but: UUID | None = None
) -> None:
    """409 when another live option of the group has that name, case and look-alikes aside
    (shared/text_rules.py `look_alike_key`): a customer could
    not tell the two apart. The caller holds the group's row lock, so two writers cannot both
    pass."""
    taken = conn.execute(
        "select id, name from modifier_options where group_id = %s and deleted_at is null",
        [group_id],
    ).fetchall()
    key = look_alike_key(name)
    clash = next(
        (row["name"] for row in taken if row["id"] != but and look_alike_key(row["name"]) == key),
        None,
    )
    if clash is not None:
        raise errors.conflict(
            f"The group already has an option named {clash!r}; rename that one first"
        )


def get_option(conn: psycopg.Connection, option_id: UUID) -> dict[str, Any]:
    return option_view(live_row(conn, "modifier_options", option_id))


def update_option(
    conn: psycopg.Connection, option_id: UUID, patch: OptionPatch, expected: Expected | None
) -> dict[str, Any]:
    group, option = _lock_option(conn, option_id, expected)
    changes = patch.changes()
    if changes.get("default") and not option["is_default"]:
        _check_defaults(group, _option_counts(conn, group["id"])["defaults"] + 1)
    if "name" in changes:
        _require_option_name_free(conn, group["id"], changes["name"], but=option_id)
    columns = {OPTION_COLUMNS.get(name, name): value for name, value in changes.items()}
    row = update_row(conn, "modifier_options", option_id, columns)
    update_row(conn, "modifier_groups", group["id"], {})
    return option_view(row)


def delete_option(conn: psycopg.Connection, option_id: UUID, expected: Expected | None) -> None:
    """Soft-delete an option unless its group would then offer fewer options than its max."""
    group, _ = _lock_option(conn, option_id, expected)
    remaining = _option_counts(conn, group["id"])["options"] - 1
    if group["max_choices"] > remaining:
        raise errors.conflict(
            f"The group allows up to {group['max_choices']} choices and would keep only "
            f"{remaining} options; lower its max first",
            remaining_options=remaining,
        )
    soft_delete(conn, "modifier_options", [option_id])
    update_row(conn, "modifier_groups", group["id"], {})


def reorder_options(
    conn: psycopg.Connection, group_id: UUID, ids: list[UUID]
) -> list[dict[str, Any]]:
    live_row(conn, "modifier_groups", group_id, lock=True)
    reorder(conn, "modifier_options", ids, ("group_id", group_id))
    update_row(conn, "modifier_groups", group_id, {})
    return options_by_group(conn, [group_id])[group_id]
