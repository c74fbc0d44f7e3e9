"""What an upload is for, as named by its blob path: `<tenant slug>/<target>/<upload id>`.

The target is `item-<item id>` for a menu item's photo or `logo` / `hero` for the brand. The
path is all the trigger gets, so it is parsed strictly; the tenant and the item are re-checked
against the database before anything is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal
from uuid import UUID

UPLOADS_CONTAINER = "uploads"
ASSETS_CONTAINER = "assets"
# Its own container, not a prefix of `uploads`, so a quarantined file never fires the trigger.
QUARANTINE_CONTAINER = "uploads-quarantine"

BrandKind = Literal["logo", "hero"]
BRAND_KINDS: tuple[BrandKind, ...] = ("logo", "hero")

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UPLOAD_PATH = re.compile(
    rf"^(?P<slug>[a-z][a-z0-9-]{{2,30}})/(?P<target>item-{_UUID}|logo|hero)/(?P<upload>{_UUID})$"
)


@dataclass(frozen=True)
class UploadTarget:
    """One upload: whose it is, what it is for, and which upload URL it came through."""

    slug: str
    target: str
    upload_id: UUID

    @property
    def item_id(self) -> UUID | None:
        """The menu item's id for `item-<id>` targets, else None."""
        return UUID(self.target.removeprefix("item-")) if self.target.startswith("item-") else None

    @property
    def blob_name(self) -> str:
        """The name in the uploads container (and in quarantine)."""
        return f"{self.slug}/{self.target}/{self.upload_id}"

    @property
    def assets_prefix(self) -> str:
        """Where this target's renditions live in the assets container."""
        return f"{self.slug}/{self.target}/"


def item_target(item_id: UUID) -> str:
    """The target segment of an item's upload and rendition paths."""
    return f"item-{item_id}"


def parse_upload_name(name: str) -> UploadTarget | None:
    """The target of a blob name in the uploads container, or None if it is not one we issue."""
    found = _UPLOAD_PATH.match(name)
    if found is None:
        return None
    return UploadTarget(found["slug"], found["target"], UUID(found["upload"]))


class Claim(Enum):
    """Whether the target still wants an upload, as the database says now."""

    OK = "ok"
    MISSING = "missing"  # No such target in this tenant (another tenant's item, a made-up id).
    DELETED = "deleted"  # The item was deleted after its upload URL was handed out.
    SUPERSEDED = "superseded"  # A newer upload URL was handed out for the target since.
    USED = "used"  # This upload was processed already, and these are other bytes.


def already_used(status: str | None, image: Any, content_hash: str) -> bool:
    """Whether the target's own upload (its status `status`, its image `image`) was processed
    already with other bytes than content_hash's.

    An upload URL counts once: it stays writable for its whole lifetime, and whoever holds it
    (a browser history, a proxy log) could otherwise put any picture live after the manager's
    photo. The same bytes again are the host delivering twice, and change nothing.
    """
    if status == "pending":
        return False
    return not (status == "ready" and content_hash in json.dumps(image))
