"""Dishes and options by the names customers know them by.

An import makes new rows (new ids) for the same menu, so what stands for a dish across it is
its names: the category's and the item's, and for an option also its group's and its own (case
and surrounding spaces aside). A name a category lists twice (a small and a large Cola) pairs
first with first, in menu order. The importer carries photos and 86es to the new rows by them
(shared/menus/importer.py), and an 86 of a dish that only the live menu still has (the import's
old id, between the import and its publish) reaches the draft's new row of the same names, so
the publish keeps it (shared/menus/eighty_six.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

import psycopg

from shared.menus.rows import Table
from shared.text_rules import look_alike_key

DishKey = tuple[str, str]
# Where a row stands: its dish's names and which of the dishes so named it is (0 for the
# first), and for an option its group's and its own names.
Place = tuple[DishKey, int] | tuple[DishKey, int, str, str]

# In menu order, as a snapshot lists them.
_DRAFT_ITEM_NAMES = """
    select i.id, c.name as category, i.name as item
      from menu_items i join menu_categories c on c.id = i.category_id
     where i.deleted_at is null and c.deleted_at is null
     order by c.rank, c.id, i.rank, i.id"""
_DRAFT_OPTION_NAMES = """
    select o.id, l.item_id, g.name as grp, o.name as option
      from item_modifier_groups l
      join modifier_groups g on g.id = l.group_id and g.deleted_at is null
      join modifier_options o on o.group_id = g.id and o.deleted_at is null"""


def name_key(name: str) -> str:
    # As the import's rules compare a dish's group and option names: look-alikes are one name.
    return look_alike_key(name)


def dish_key(category: str, item: str) -> DishKey:
    return name_key(category), name_key(item)


def live_places(
    snapshot: Mapping[str, Any] | None, table: Table, ids: Collection[str]
) -> dict[str, list[Place]]:
    """Where each of ids stands on the live menu (an option, on every dish listing it)."""
    places: dict[str, list[Place]] = {}
    seen: Counter[DishKey] = Counter()
    for category in (snapshot or {}).get("categories", []):
        for item in category["items"]:
            dish = dish_key(category["name"], item["name"])
            nth = seen[dish]
            seen[dish] += 1
            if table == "menu_items":
                if item["id"] in ids:
                    places.setdefault(item["id"], []).append((dish, nth))
                continue
            for group in item["modifier_groups"]:
                for option in group["options"]:
                    if option["id"] in ids:
                        place = (dish, nth, name_key(group["name"]), name_key(option["name"]))
                        places.setdefault(option["id"], []).append(place)
    return places


def draft_places(conn: psycopg.Connection, table: Table) -> list[tuple[Any, Place]]:
    """Every live draft row of table with where it stands (an option, once per dish)."""
    dishes: dict[Any, tuple[DishKey, int]] = {}
    seen: Counter[DishKey] = Counter()
    for row in conn.execute(_DRAFT_ITEM_NAMES).fetchall():
        dish = dish_key(row["category"], row["item"])
        dishes[row["id"]] = (dish, seen[dish])
        seen[dish] += 1
    if table == "menu_items":
        return list(dishes.items())
    return [
        (row["id"], (*dishes[row["item_id"]], name_key(row["grp"]), name_key(row["option"])))
        for row in conn.execute(_DRAFT_OPTION_NAMES).fetchall()
        if row["item_id"] in dishes
    ]
