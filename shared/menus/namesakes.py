"""Dishes and options by the names customers know them by.

An import makes new rows (new ids) for the same menu, so what stands for a dish across it is
its names: the category's and the item's, and for an option also its group's and its own (case
and surrounding spaces aside). The importer carries photos and 86es to the new rows by them
(shared/menus/importer.py), and an 86 of a dish that only the live menu still has (the import's
old id, between the import and its publish) reaches the draft's new row of the same names, so
the publish keeps it (shared/menus/eighty_six.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from typing import Any

import psycopg

from shared.menus.rows import Table

DishKey = tuple[str, str]
OptionKey = tuple[str, str, str, str]
NameKey = DishKey | OptionKey

_DRAFT_ITEM_NAMES = """
    select i.id, c.name as category, i.name as item
      from menu_items i join menu_categories c on c.id = i.category_id
     where i.deleted_at is null and c.deleted_at is null"""
_DRAFT_OPTION_NAMES = """
    select o.id, c.name as category, i.name as item, g.name as grp, o.name as option
      from item_modifier_groups l
      join menu_items i on i.id = l.item_id and i.deleted_at is null
      join menu_categories c on c.id = i.category_id and c.deleted_at is null
      join modifier_groups g on g.id = l.group_id and g.deleted_at is null
      join modifier_options o on o.group_id = g.id and o.deleted_at is null"""


def name_key(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().casefold()


def dish_key(category: str, item: str) -> DishKey:
    return name_key(category), name_key(item)


def option_key(category: str, item: str, group: str, option: str) -> OptionKey:
    return (*dish_key(category, item), name_key(group), name_key(option))


def live_keys(
    snapshot: Mapping[str, Any] | None, table: Table, ids: Collection[str]
) -> dict[str, list[NameKey]]:
    """The names each of ids goes by on the live menu (an option, on every dish listing it)."""
    keys: dict[str, list[NameKey]] = {}
    for category in (snapshot or {}).get("categories", []):
        for item in category["items"]:
            if table == "menu_items":
                if item["id"] in ids:
                    keys.setdefault(item["id"], []).append(dish_key(category["name"], item["name"]))
                continue
            for group in item["modifier_groups"]:
                names = (category["name"], item["name"], group["name"])
                for option in group["options"]:
                    if option["id"] in ids:
                        key = option_key(*names, option["name"])
                        keys.setdefault(option["id"], []).append(key)
    return keys


def draft_keys(conn: psycopg.Connection, table: Table) -> list[tuple[Any, NameKey]]:
    """Every live draft row of table with the names it goes by (an option, once per dish)."""
    if table == "menu_items":
        return [
            (row["id"], dish_key(row["category"], row["item"]))
            for row in conn.execute(_DRAFT_ITEM_NAMES).fetchall()
        ]
    return [
        (row["id"], option_key(row["category"], row["item"], row["grp"], row["option"]))
        for row in conn.execute(_DRAFT_OPTION_NAMES).fetchall()
    ]
