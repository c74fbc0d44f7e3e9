"""A menu item's image state in the tenant schema: pending, ready or rejected, and its upload."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from shared.images.live_menu import live_item_image, reissue_with_item_image
from shared.images.targets import Claim, already_used
from shared.menus.rows import not_in_menu


class ItemImages:
    """The image columns of one menu item, for one upload."""

    def __init__(self, item_id: UUID, upload_id: UUID) -> None:
        self.item_id = item_id
        self.upload_id = upload_id

    def describe(self) -> str:
        """How a rejection reason names the target."""
        return f"item {self.item_id}"

    def request(self, conn: psycopg.Connection) -> None:
        """Mark the item pending for this upload; 404 unless it is a live item of this menu.

        The previous image stays until the new one is ready. Image writes leave `version`
        alone: it guards the fields editors send, and an upload finishing must not turn an
        editor's If-Match stale.
        """
        row = conn.execute(
            """update menu_items set image_status = 'pending', image_reason = null,
                      image_upload = %s, updated_at = now()
                where id = %s and deleted_at is null returning id""",
            [self.upload_id, self.item_id],
        ).fetchone()
        if row is None:
            raise not_in_menu("menu_items", self.item_id)

    def claim(self, conn: psycopg.Connection, content_hash: str, *, lock: bool = False) -> Claim:
        """Whether this upload, of these bytes, is still the one the item waits for (row
        locked on request)."""
        row = conn.execute(
            "select deleted_at, image_upload, image_status, image from menu_items where id = %s"
            + (" for update" if lock else ""),
            [self.item_id],
        ).fetchone()
        if row is None:
            return Claim.MISSING
        if row["deleted_at"] is not None:
            return Claim.DELETED
        if row["image_upload"] != self.upload_id:
            return Claim.SUPERSEDED
        if already_used(row["image_status"], row["image"], content_hash):
            return Claim.USED
        return Claim.OK

    def reject(self, conn: psycopg.Connection, reason: str) -> None:
        """Record why the upload was refused, if it is still the item's newest upload."""
        conn.execute(
            """update menu_items set image_status = 'rejected', image_reason = %s,
                      updated_at = now()
                where id = %s and image_upload = %s""",
            [reason, self.item_id, self.upload_id],
        )

    def apply(self, conn: psycopg.Connection, image: dict[str, Any], content_hash: str) -> Claim:
        """Make image the item's image and put it in the live menu, if the upload still counts."""
        claim = self.claim(conn, content_hash, lock=True)
        if claim is Claim.OK:
            conn.execute(
                """update menu_items set image = %s, image_status = 'ready', image_reason = null,
                          updated_at = now()
                    where id = %s""",
                [Jsonb(image), self.item_id],
            )
            reissue_with_item_image(conn, self.item_id, image)
        return claim

    def after_commit(self) -> None:
        """Nothing beyond the tenant schema changes (the live menu was reissued in apply)."""

    def documents(self, conn: psycopg.Connection) -> list[str]:
        """What may reference the item's renditions: its draft image and its live image."""
        row = conn.execute(
            "select image from menu_items where id = %s and deleted_at is null", [self.item_id]
        ).fetchone()
        draft = row["image"] if row else None
        return [json.dumps(draft), json.dumps(live_item_image(conn, self.item_id))]
