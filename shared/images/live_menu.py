"""Republishing a new item photo at once: the live snapshot re-issued with only that image changed.

Like an 86, a photo goes live without a publish: managers expect a photo they upload to show,
and an image carries no price or availability a customer could be charged by. Other unpublished
draft edits stay unpublished. An item that is not in the live menu yet gets its photo with the
next publish.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

# Publishing's own version insert, so every snapshot is numbered, hashed and locked one way.
from shared.menus.publish import _insert_version, _lock_versions
from shared.menus.published import latest_snapshot

PUBLISHED_BY = "system:image-pipeline"


def live_item_image(conn: psycopg.Connection, item_id: UUID) -> Any:
    """The item's image in the newest snapshot (None when absent), without loading the menu."""
    row = conn.execute(
        """select jsonb_path_query_first(
                      snapshot, '$.categories[*].items[*] ? (@.id == $id).image',
                      jsonb_build_object('id', %s::text)) as image
             from menu_versions order by version desc limit 1""",
        [str(item_id)],
    ).fetchone()
    return row["image"] if row else None


def reissue_with_item_image(
    conn: psycopg.Connection, item_id: UUID, image: dict[str, Any]
) -> dict[str, Any] | None:
    """Re-issue the live snapshot with the item's new image; None if not live or unchanged."""
    _lock_versions(conn)
    live = latest_snapshot(conn)
    if live is None:
        return None
    changed = False
    categories = []
    for category in live["categories"]:
        items = []
        for item in category["items"]:
            if item["id"] == str(item_id) and item["image"] != image:
                item = {**item, "image": image}
                changed = True
            items.append(item)
        categories.append({**category, "items": items})
    if not changed:
        return None
    body = {key: value for key, value in live.items() if key not in ("version", "published_at")}
    return _insert_version(
        conn, {**body, "categories": categories}, source="image", published_by=PUBLISHED_BY
    )
