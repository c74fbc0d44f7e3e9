"""Removing item photos nothing shows any more, which the clean-up after each upload misses.

That clean-up looks only in the folder of the item just uploaded to. A deleted item's photo
stays in its folder, and so does a photo an import carried to a new item once that item gets
another one (the files stay in the old item's folder). The hourly housekeeping sweeps every item
folder of a restaurant instead, by the same rule: what neither the draft menu nor the live menu
names goes, once older than blobs.RENDITION_GRACE.
"""

from __future__ import annotations

import psycopg

from shared.db import tenant_transaction
from shared.images import blobs


def sweep_item_photos(schema: str, slug: str) -> list[str]:
    """Delete the restaurant's item renditions no menu names; the names deleted."""
    # Listed before the menus are read: a photo recorded after that read was written after the
    # listing too, or is younger than the grace, so it is never taken for unreferenced.
    listed = blobs.list_assets(f"{slug}/item-")
    if not listed:
        return []
    with tenant_transaction(schema) as conn:
        keep = blobs.referenced_images(_menu_documents(conn))
    return blobs.remove_unreferenced(listed, keep)


def _menu_documents(conn: psycopg.Connection) -> list[str]:
    """The draft items' images and the live snapshot, as JSON text."""
    row = conn.execute(
        """select (select coalesce(jsonb_agg(image), '[]'::jsonb)::text from menu_items
                    where image is not null and deleted_at is null) as draft,
                  (select snapshot::text from menu_versions order by version desc limit 1)
                    as live"""
    ).fetchone()
    return [row["draft"], row["live"] or ""]
