"""The whole draft menu as admins edit it and publishing renders it.

One statement reads all five tables, so the result is one consistent snapshot even while other
editors write (five separate reads under READ COMMITTED could see an item whose new category
they missed), and it costs one round trip.
"""

from __future__ import annotations

from typing import Any

import psycopg

from shared.menus.categories import category_view
from shared.menus.items import item_view
from shared.menus.modifiers import group_view, option_view

DRAFT_QUERY = """
select
    (select coalesce(jsonb_agg(to_jsonb(c) order by c.rank, c.name), '[]')
       from menu_categories c where c.deleted_at is null) as categories,
    (select coalesce(jsonb_agg(to_jsonb(i) order by i.rank, i.name), '[]')
       from menu_items i where i.deleted_at is null) as items,
    (select coalesce(jsonb_agg(to_jsonb(g) order by g.name, g.id), '[]')
       from modifier_groups g where g.deleted_at is null) as groups,
    (select coalesce(jsonb_agg(to_jsonb(o) order by o.rank, o.name), '[]')
       from modifier_options o where o.deleted_at is null) as options,
    (select coalesce(jsonb_agg(to_jsonb(l) order by l.rank), '[]')
       from item_modifier_groups l) as links
"""


def draft_menu(conn: psycopg.Connection) -> dict[str, Any]:
    """`{"categories": [{..., "items": [...]}], "modifier_groups": [{..., "options": [...]}]}`."""
    rows = conn.execute(DRAFT_QUERY).fetchone()
    options: dict[str, list[dict[str, Any]]] = {group["id"]: [] for group in rows["groups"]}
    for option in rows["options"]:
        if option["group_id"] in options:
            options[option["group_id"]].append(option_view(option))
    group_ids: dict[str, list[str]] = {item["id"]: [] for item in rows["items"]}
    for link in rows["links"]:
        # Links of deleted items or groups stay behind; only live pairs count.
        if link["item_id"] in group_ids and link["group_id"] in options:
            group_ids[link["item_id"]].append(link["group_id"])
    items_of: dict[str, list[dict[str, Any]]] = {c["id"]: [] for c in rows["categories"]}
    for item in rows["items"]:
        items_of[item["category_id"]].append(item_view(item, group_ids[item["id"]]))
    return {
        "categories": [
            {**category_view(category), "items": items_of[category["id"]]}
            for category in rows["categories"]
        ],
        "modifier_groups": [group_view(g, options[g["id"]]) for g in rows["groups"]],
    }
